import type { Store } from '../store/index.js';
import { generatePassword } from './password.js';
import type { NewUser } from './users.js';
import { type UdbTables, UserWriter } from './users.js';
import type { ReservedLogins } from './validate.js';

const SEEDED = 'demoSeeded';

/**
 * The test users of the original setup guide (spec §15): two contestants imported from
 * `finalistes.txt`, organizers and roots imported with `--logins --passwords`.
 */
export function demoUsers(newPassword: () => string = () => generatePassword(8)): NewUser[] {
  return [
    { login: 'aproviste', firstname: 'Alain', lastname: 'Proviste', group: 'user', password: newPassword() },
    { login: 'jmarchand', firstname: 'Joseph', lastname: 'Marchand', group: 'user', password: newPassword() },
    { login: 'cana_p', firstname: 'Cana_P', lastname: 'Cana_P', group: 'orga', password: 'orga' },
    { login: 'login_x', firstname: 'Login_X', lastname: 'Login_X', group: 'orga', password: 'orga' },
    { login: 'root_gw', firstname: 'Root_Gw', lastname: 'Root_Gw', group: 'root', password: 'root' },
    { login: 'nathalie', firstname: 'Nathalie', lastname: 'Nathalie', group: 'root', password: 'root' },
  ];
}

/**
 * Seeds the demo users once, on the first start with an empty users table. The flag in
 * `udb_meta` keeps a store whose users were all deleted on purpose from being re-seeded.
 * Returns how many users were added.
 */
export async function seedDemoUsers(
  store: Store,
  tables: UdbTables,
  reserved: ReservedLogins,
): Promise<number> {
  return store.write((tx) => {
    if (tx.get(tables.meta, SEEDED) || tx.count(tables.users) > 0) return 0;
    const writer = new UserWriter(tx, tables, reserved);
    const users = demoUsers();
    for (const u of users) writer.create(u);
    tx.put(tables.meta, SEEDED, 1);
    return users.length;
  });
}
