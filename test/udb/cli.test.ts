import t from 'tap';
import { tempDir } from '../helpers/tmp.js';
import { byLogin, cli, fileWith, PASSWORD_RULES, usersIn } from './helpers.js';

// These run without a server: `runOperation` opens the store directly (no gatehouse.pid).

const FINALISTES = 'Alain\tProviste\nJoseph\tMarchand\n';

t.test('scenario 47: batchimport of two contestants', async (t) => {
  const data = tempDir(t);
  const r = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--file',
    fileWith(t, 'finalistes.txt', FINALISTES),
  ]);
  t.equal(r.code, 0, r.err.join('\n'));
  t.same(r.out, [
    'Added user Alain Proviste (login: aproviste)',
    'Added user Joseph Marchand (login: jmarchand)',
  ]);
  t.match(r.err.join('\n'), /batchimport: 2\/2 \(100%\)/, 'progress on stderr');
  const users = byLogin(await usersIn(data));
  const a = users.get('aproviste')!;
  const j = users.get('jmarchand')!;
  t.equal(a.uid, 10001);
  t.equal(j.uid, 10002);
  t.equal(a.group, 'user');
  t.equal(a.shell, '/bin/bash');
  t.equal(a.ssh_key, null);
  t.ok(a.id < j.id, 'ids increase');
  for (const u of [a, j]) {
    t.equal(u.password.length, 8);
    t.match(u.password, PASSWORD_RULES, `${u.login} password ${u.password}`);
  }
});

t.test('scenario 48: de-duplication, deny list, folding, stored names', async (t) => {
  const data = tempDir(t);
  const file = fileWith(
    t,
    'f.txt',
    "Alain\tProviste\nAlain\tProviste\nR\tOot\nÉlodie\tÇaglar-Dupont\nJean-Pierre\tDe La Fontaine-Dupont\nmarie claire\to'neil\n",
  );
  const r = await cli(['udb', 'batchimport', `--data=${data}`, `--file=${file}`]);
  t.equal(r.code, 0, r.err.join('\n'));
  t.same(r.out, [
    'Added user Alain Proviste (login: aproviste)',
    'Added user Alain Proviste (login: aproviste1)',
    'Added user R Oot (login: root1)',
    'Added user Élodie Çaglar-Dupont (login: ecaglardupo)',
    'Added user Jean-Pierre De La Fontaine-Dupont (login: jpdelafontai)',
    "Added user Marie Claire O'Neil (login: mconeil)",
  ]);
  const e = byLogin(await usersIn(data)).get('ecaglardupo')!;
  t.equal(e.firstname, 'Élodie');
  t.equal(e.lastname, 'Çaglar-Dupont');
});

t.test('scenario 49: re-import aborts, --ignore keeps, --update renews passwords', async (t) => {
  const data = tempDir(t);
  const file = fileWith(t, 'finalistes.txt', FINALISTES);
  t.equal((await cli(['udb', 'batchimport', '--data', data, '--file', file])).code, 0);
  const before = byLogin(await usersIn(data));

  const again = await cli(['udb', 'batchimport', '--data', data, '--file', file]);
  t.equal(again.code, 1);
  t.same(again.out, []);
  t.ok(
    again.err.includes(
      'User Alain Proviste (login: aproviste) already in database. Use --update to update it, or --ignore.',
    ),
    again.err.join('\n'),
  );

  const ignored = await cli(['udb', 'batchimport', '--data', data, '--file', file, '--ignore']);
  t.equal(ignored.code, 0);
  t.same(ignored.out, [
    '(Ignored user Alain Proviste (login: aproviste))',
    '(Ignored user Joseph Marchand (login: jmarchand))',
  ]);
  const afterIgnore = byLogin(await usersIn(data));
  t.equal(afterIgnore.get('aproviste')!.password, before.get('aproviste')!.password, 'password unchanged');

  const updated = await cli(['udb', 'batchimport', '--data', data, '--file', file, '--update']);
  t.equal(updated.code, 0);
  t.same(updated.out, [
    'Updated user Alain Proviste (login: aproviste)',
    'Updated user Joseph Marchand (login: jmarchand)',
  ]);
  const afterUpdate = byLogin(await usersIn(data));
  t.not(afterUpdate.get('aproviste')!.password, before.get('aproviste')!.password, 'new password');
  t.match(afterUpdate.get('aproviste')!.password, PASSWORD_RULES);
  t.equal(afterUpdate.get('aproviste')!.uid, 10001, 'uid kept');
  t.equal(afterUpdate.size, 2);
});

t.test('a derived login that is reserved gets a suffix, a given one is refused', async (t) => {
  const data = tempDir(t);
  const r = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--file',
    fileWith(t, 'f', 'B\tIn\nD\taemon\n'),
  ]);
  t.equal(r.code, 0, r.err.join('\n'));
  t.same(r.out, ['Added user B In (login: bin1)', 'Added user D Aemon (login: daemon1)']);
  const given = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--logins',
    '--file',
    fileWith(t, 'g', 'bin\n'),
  ]);
  t.equal(given.code, 1);
  t.match(given.err.join('\n'), /line 1: invalid user bin: login: Username bin is/);
});

t.test('an abort keeps the rows before it, like the original', async (t) => {
  const data = tempDir(t);
  t.equal(
    (await cli(['udb', 'batchimport', '--data', data, '--file', fileWith(t, 'a', 'Joseph\tMarchand\n')]))
      .code,
    0,
  );
  const r = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--file',
    fileWith(t, 'b', 'Alain\tProviste\nJoseph\tMarchand\nZoe\tZed\n'),
  ]);
  t.equal(r.code, 1);
  t.same(r.out, ['Added user Alain Proviste (login: aproviste)']);
  t.same(
    (await usersIn(data)).map((u) => u.login),
    ['aproviste', 'jmarchand'],
  );
});

t.test('scenario 50: organizers and roots from login files', async (t) => {
  const data = tempDir(t);
  const orgas = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--logins',
    '--type=orga',
    '--passwords',
    '--file',
    fileWith(t, 'orgas.txt', 'cana_p:orga\nlogin_x:orga\n'),
  ]);
  t.equal(orgas.code, 0, orgas.err.join('\n'));
  t.same(orgas.out, [
    'Added user Cana_P Cana_P (login: cana_p)',
    'Added user Login_X Login_X (login: login_x)',
  ]);
  const roots = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--logins',
    '--type=root',
    '--pwdlen=10',
    '--file',
    fileWith(t, 'roots.txt', 'root_gw\nnathalie\n'),
  ]);
  t.equal(roots.code, 0, roots.err.join('\n'));
  const users = byLogin(await usersIn(data));
  const c = users.get('cana_p')!;
  t.same([c.firstname, c.lastname, c.password, c.uid, c.group], ['Cana_P', 'Cana_P', 'orga', 11001, 'orga']);
  t.equal(users.get('login_x')!.uid, 11002);
  t.equal(users.get('root_gw')!.uid, 12001);
  t.equal(users.get('nathalie')!.uid, 12002);
  for (const l of ['root_gw', 'nathalie']) {
    t.equal(users.get(l)!.password.length, 10);
    t.match(users.get(l)!.password, PASSWORD_RULES);
  }
  t.same(
    (await usersIn(data)).map((u) => u.login),
    ['cana_p', 'login_x', 'nathalie', 'root_gw'],
    'ordered by group, then login',
  );
});

t.test('scenario 51: pwdsheetdata prints realname, login, password sorted by login', async (t) => {
  const data = tempDir(t);
  await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--file',
    fileWith(t, 'f', 'Joseph\tMarchand\nAlain\tProviste\n'),
  ]);
  await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--logins',
    '--passwords',
    '--type',
    'orga',
    '--file',
    fileWith(t, 'o', 'cana_p:orga\n'),
  ]);
  const users = byLogin(await usersIn(data));
  const sheet = await cli(['udb', 'pwdsheetdata', '--data', data, '--type=user']);
  t.equal(sheet.code, 0);
  t.same(sheet.out, [
    `Alain Proviste\taproviste\t${users.get('aproviste')!.password}`,
    `Joseph Marchand\tjmarchand\t${users.get('jmarchand')!.password}`,
  ]);
  const def = await cli(['udb', 'pwdsheetdata', '--data', data]);
  t.same(def.out, sheet.out, '--type defaults to user');
  const orga = await cli(['udb', 'pwdsheetdata', '--data', data, '--type', 'orga']);
  t.same(orga.out, ['Cana_P Cana_P\tcana_p\torga']);
});

t.test('usermod sets the ssh key and the password', async (t) => {
  const data = tempDir(t);
  await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--logins',
    '--type=root',
    '--file',
    fileWith(t, 'r', 'root_gw\n'),
  ]);
  const key = fileWith(t, 'id_rsa.pub', '  ssh-rsa AAAAB3NzaC1yc2E root@gw\n\n');
  const r = await cli([
    'udb',
    'usermod',
    'root_gw',
    '--data',
    data,
    '--ssh-pubkey-file',
    key,
    '--password',
    'NewPass9',
  ]);
  t.equal(r.code, 0, r.err.join('\n'));
  t.same(r.out, [
    'Set public ssh key of root_gw to ssh-rsa AAAAB3NzaC1yc2E root@gw',
    'Changed password of root_gw to NewPass9',
  ]);
  const u = byLogin(await usersIn(data)).get('root_gw')!;
  t.equal(u.ssh_key, 'ssh-rsa AAAAB3NzaC1yc2E root@gw');
  t.equal(u.password, 'NewPass9');
  const missing = await cli(['udb', 'usermod', 'nobody_here', '--data', data, '--password', 'x']);
  t.equal(missing.code, 1);
  t.match(missing.err.join('\n'), /no user with login nobody_here/);
  const tooLong = await cli(['udb', 'usermod', 'root_gw', '--data', data, '--password', 'x'.repeat(65)]);
  t.equal(tooLong.code, 1);
  t.match(tooLong.err.join('\n'), /password: must be at most 64/);
  t.equal(byLogin(await usersIn(data)).get('root_gw')!.password, 'NewPass9', 'refused change wrote nothing');
});

t.test('jsonimport: explicit ids, title-cased names, original output lines', async (t) => {
  const data = tempDir(t);
  const file = fileWith(
    t,
    'users.json',
    JSON.stringify([
      { id: 42, username: 'jdoe', first_name: 'john', last_name: 'doe', password: 'Secret7x' },
      { id: 7, username: 'asmith', first_name: 'ANNE', last_name: 'smith-jones' },
    ]),
  );
  const r = await cli(['udb', 'jsonimport', file, '--data', data, '--type', 'orga', '--pwdlen', '12']);
  t.equal(r.code, 0, r.err.join('\n'));
  t.same(r.out, [
    `Adding orga       42 ${'jdoe'.padEnd(20)} ${'Doe'.padEnd(20)} John`,
    `Adding orga        7 ${'asmith'.padEnd(20)} ${'Smith-Jones'.padEnd(20)} Anne`,
    'All users added successfully.',
  ]);
  const users = byLogin(await usersIn(data));
  t.same(
    [users.get('jdoe')!.id, users.get('jdoe')!.uid, users.get('jdoe')!.password],
    [42, 11001, 'Secret7x'],
  );
  t.equal(users.get('asmith')!.password.length, 12);
  // A later user without explicit id continues after the highest id seen.
  await cli(['udb', 'batchimport', '--data', data, '--file', fileWith(t, 'f', 'Alain\tProviste\n')]);
  t.equal(byLogin(await usersIn(data)).get('aproviste')!.id, 43);
});

t.test('jsonimport is all or nothing', async (t) => {
  const data = tempDir(t);
  const dup = fileWith(
    t,
    'dup.json',
    JSON.stringify([
      { id: 1, username: 'aa', first_name: 'a', last_name: 'a' },
      { id: 2, username: 'aa', first_name: 'b', last_name: 'b' },
    ]),
  );
  const r = await cli(['udb', 'jsonimport', dup, '--data', data]);
  t.equal(r.code, 1);
  t.match(r.err.join('\n'), /item 1 \(id 2\): a user with login aa already exists; nothing was imported/);
  t.same(await usersIn(data), []);
  for (const [name, text, why] of [
    ['bad.json', '{"oops"', /not valid JSON/],
    ['obj.json', '{"id": 1}', /JSON array/],
    [
      'types.json',
      JSON.stringify([{ id: '1', username: 5, first_name: 'a', last_name: 'b' }]),
      /item 0: "id" must be a positive integer, "username" must be a string/,
    ],
    [
      'login.json',
      JSON.stringify([{ id: 1, username: 'Bad Login', first_name: 'a', last_name: 'b' }]),
      /not a valid login/,
    ],
  ] as const) {
    const bad = await cli(['udb', 'jsonimport', fileWith(t, name, text), '--data', data]);
    t.equal(bad.code, 1, name);
    t.match(bad.err.join('\n'), why, name);
  }
  t.same(await usersIn(data), [], 'nothing was written');
});

t.test('bad batchimport input is reported and nothing is written', async (t) => {
  const data = tempDir(t);
  const cases: Array<[string[], RegExp, number]> = [
    [
      ['--file', fileWith(t, 'a', 'Alain Proviste\n日本\t語\nJoseph\tMarchand\n')],
      /line 1: expected "first name<TAB>last name"[\s\S]*line 2: invalid user: login: "" is not a valid login/,
      1,
    ],
    [
      ['--logins', '--file', fileWith(t, 'b', 'good\n9lives\nroot\n')],
      /line 2: invalid user 9lives: login[\s\S]*line 3: invalid user root: login: Username root is/,
      1,
    ],
    [
      ['--logins', '--passwords', '--file', fileWith(t, 'c', 'a:b:c\n')],
      /line 1: expected "login:password"/,
      1,
    ],
    [
      ['--logins', '--passwords', '--file', fileWith(t, 'd', 'a:\n')],
      /line 1: invalid user a: password: is required/,
      1,
    ],
    [['--passwords', '--file', fileWith(t, 'e', 'a:b\n')], /--passwords needs --logins/, 2],
    [['--type', 'admin', '--file', fileWith(t, 'f', 'a\tb\n')], /--type must be one of user, orga, root/, 1],
    [['--pwdlen', '1', '--file', fileWith(t, 'g', 'a\tb\n')], /--pwdlen must be an integer from 2 to 64/, 1],
    [['--pwdlen', 'x', '--file', fileWith(t, 'h', 'a\tb\n')], /--pwdlen must be/, 1],
    [[], /Missing --file/, 2],
    [['--file', '/nonexistent/finalistes.txt'], /cannot read file \/nonexistent/, 1],
    [['--file'], /--file needs a value/, 2],
    [['--bogus'], /unknown option --bogus/, 2],
  ];
  for (const [args, why, code] of cases) {
    const r = await cli(['udb', 'batchimport', '--data', data, ...args]);
    t.equal(r.code, code, args.join(' '));
    t.match(r.err.join('\n'), why, args.join(' '));
    t.same(r.out, []);
  }
  t.same(await usersIn(data), [], 'nothing was written');
});

t.test('udb usage errors', async (t) => {
  const r = await cli(['udb', 'frobnicate']);
  t.equal(r.code, 2);
  t.match(r.err.join('\n'), /unknown command "frobnicate"[\s\S]*batchimport --file PATH/);
  t.equal((await cli(['udb'])).code, 2);
  t.equal((await cli(['udb', 'usermod'])).code, 2);
  t.equal((await cli(['udb', 'jsonimport'])).code, 2);
});

t.test('--config FILE picks the data directory like serve', async (t) => {
  const data = tempDir(t);
  const config = fileWith(t, 'gatehouse.yml', `dataDir: ${data}\n`);
  t.equal(
    (await cli(['udb', 'batchimport', '--config', config, '--file', fileWith(t, 'f', 'Alain\tProviste\n')]))
      .code,
    0,
  );
  t.same(
    (await usersIn(data)).map((u) => u.login),
    ['aproviste'],
  );
  const sheet = await cli(['udb', 'pwdsheetdata', `--config=${config}`]);
  t.match(sheet.out, [/^Alain Proviste\taproviste\t/]);
  const bad = await cli(['udb', 'pwdsheetdata', '--config', fileWith(t, 'bad.yml', 'dataDir: [\n')]);
  t.equal(bad.code, 1);
  t.match(bad.err.join('\n'), /bad\.yml:\d+:/);
});
