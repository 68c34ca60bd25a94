import type { AdminDirectory } from '../http/admin-auth.js';
import { ssoIdentity } from '../presence/sso.js';
import type { Service } from '../service.js';
import type { Store } from '../store/index.js';
import { udbTables } from './users.js';

/**
 * Organizers and roots sign in to the admin API as they signed in to the original Django
 * admins (spec §2.5, §7.4): with their UDB password, or through SSO from the machine they are
 * logged in on. Read from the store on every request, so a group change applies at once.
 */
export function udbAdminDirectory(store: Store, services: readonly Service[]): AdminDirectory {
  const { users } = udbTables(store);
  return {
    user: (login) => store.read((tx) => tx.get(users, login)),
    ssoLogin: (ip) => ssoIdentity(services, ip).user,
  };
}
