import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import t from 'tap';
import { request } from 'undici';
import type { DnsService } from '../../src/dns/service.js';
import { T } from '../../src/mdb/tables.js';
import { UserWriter, udbTables } from '../../src/udb/users.js';
import { ReservedLogins } from '../../src/udb/validate.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { missingCommands } from '../helpers/tools.js';
import { rpcCall } from '../rpc/rpc-client.js';
import { openPoll, pollQuery } from '../sync/poll-client.js';
import { browserMissing, launchBrowser } from './browser.js';

const execFileP = promisify(execFile);
const SUB = 'aw-sub';
/** Screenshots for docs/admin.md: GATEHOUSE_SCREENSHOTS=docs/img npx tap test/web/admin-pages.test.ts */
const shots = process.env.GATEHOUSE_SCREENSHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aw-shots-'));
const XSS = `<script>alert("xss1")</script>"><img src=x onerror=alert("xss2")>'><svg onload=alert(3)>`;
/** Names are at most 64 characters. */
const XSS_NAME = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`;

const skip = browserMissing || missingCommands(['dig']);

t.test('admin web pages in a real browser', { skip }, async (t) => {
  const gh = await startGatehouse(t, { demo: { seed: true }, secrets: { mdbsyncSub: SUB } });
  const store = gh.app.store;
  const port = gh.app.http.port;
  const tables = udbTables(store);
  await store.write((tx) => {
    const w = new UserWriter(tx, tables, new ReservedLogins(gh.config.udb));
    w.create({ login: 'rita', firstname: 'Rita', lastname: 'Root', group: 'root', password: 'rita-pw1' });
    w.create({ login: 'olga', firstname: 'Olga', lastname: 'Orga', group: 'orga', password: 'olga-pw1' });
    w.create({ login: 'carl', firstname: 'Carl', lastname: 'User', group: 'user', password: 'carl-pw1' });
  });
  const mdb = `http://mdb:${port}`;
  const udb = `http://udb:${port}`;
  const dash = `http://127.0.0.1:${port}`;
  const b = await launchBrowser(t, { hostRules: 'MAP mdb 127.0.0.1, MAP udb 127.0.0.1, MAP evil 127.0.0.1' });

  const signIn = async (page: Page, base: string, login: string, password: string) => {
    await page.goto(`${base}/`);
    t.match(page.url(), /\/_auth\/login/, 'an anonymous visitor is sent to the sign-in form');
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', password);
    await Promise.all([page.waitForLoadState(), page.click('main button[type=submit]')]);
  };

  /**
   * A request outside the page (a forged form), with the browser's session cookie of that host.
   * Sent to 127.0.0.1 with the virtual host in Host: Node does not know the browser's host mapping.
   */
  const forge = async (ctx: BrowserContext, url: string, form: Record<string, string>, origin?: string) => {
    const u = new URL(url);
    const cookie = (await ctx.cookies(`${u.protocol}//${u.host}`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    const r = await request(`http://127.0.0.1:${port}${u.pathname}`, {
      method: 'POST',
      headers: {
        host: u.host,
        'content-type': 'application/x-www-form-urlencoded',
        cookie,
        ...(origin ? { origin } : {}),
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: r.statusCode, text: await r.body.text(), headers: r.headers };
  };

  const root = await b.newPage();
  await t.test(
    'a root signs in with a password and creates a machine; DNS and mdbsync see it at once',
    async (t) => {
      const poll = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB));
      t.teardown(() => poll.close());
      await poll.next(2000);
      await signIn(root, mdb, 'rita', 'rita-pw1');
      t.equal(await root.title(), 'Machines · Gatehouse');
      t.match(await root.textContent('nav.top'), /rita/, 'the signed-in user is shown');
      const cookie = (await b.context.cookies(mdb)).find((c) => c.name === 'gh_admin');
      t.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
      t.equal(cookie?.sameSite, 'Lax');
      t.ok((cookie?.expires ?? 0) > Date.now() / 1000, 'and expires');
      await root.screenshot({ path: path.join(shots, 'mdb-machines.png') });

      await root.click('text=Add a machine');
      t.ok(
        (await root.locator('input[name=ip]').getAttribute('readonly')) !== null,
        'the IP is read-only on create',
      );
      await root.fill('input[name=hostname]', 'web-m1');
      await root.fill('input[name=mac]', '02:aa:bb:cc:dd:01');
      await root.selectOption('select[name=mtype]', 'user');
      await root.selectOption('select[name=room]', 'pasteur');
      await Promise.all([root.waitForLoadState(), root.click('main button[type=submit]')]);
      t.equal(await root.title(), 'Machine web-m1 · Gatehouse');
      const ip = store.read((tx) => tx.get(T.machines, 'web-m1'))?.ip;
      t.ok(ip, 'the machine is in the store');
      t.match(await root.textContent('.flash'), `created with IP ${ip}`);
      const line = await poll.next(1000);
      t.match(line, /"hostname": "web-m1"/, 'an mdbsync subscriber receives it');
      const dns = gh.app.service<DnsService>('dns')!;
      await dns.settled();
      const { stdout } = await execFileP('dig', [
        '@127.0.0.1',
        '-p',
        String(dns.port),
        '+short',
        'web-m1.prolo',
        'A',
      ]);
      t.equal(stdout.trim(), ip, 'and Gatehouse DNS answers for it');

      // Same validation messages as the API, next to the field.
      await root.goto(`${mdb}/machines/new`);
      await root.fill('input[name=hostname]', 'Bad Name');
      await root.fill('input[name=mac]', '02:aa:bb:cc:dd:01');
      await Promise.all([root.waitForLoadState(), root.click('main button[type=submit]')]);
      t.match(await root.textContent('#hostname-error'), /Enter a valid value|valid/i);
      t.match(await root.textContent('#mac-error'), /already exists/);
    },
  );

  await t.test('the edit form refuses ip, mac and hostname changes, also from a forged POST', async (t) => {
    await root.goto(`${mdb}/machines/web-m1/edit`);
    for (const f of ['hostname', 'ip', 'mac']) {
      t.not(await root.locator(`input[name=${f}]`).getAttribute('readonly'), null, `${f} is read-only`);
    }
    await root.screenshot({ path: path.join(shots, 'mdb-edit.png') });
    const before = store.read((tx) => tx.get(T.machines, 'web-m1'))!;
    // A forged form: read-only removed, values changed, sent with the session's own token.
    await root.evaluate(
      "for (const el of document.querySelectorAll('input[readonly]')) el.removeAttribute('readonly')",
    );
    await root.fill('input[name=ip]', '192.168.0.250');
    await root.fill('input[name=mac]', '02:aa:bb:cc:dd:99');
    await root.check('input[name=is_faulty][type=checkbox]');
    await root.fill('textarea[name=is_faulty_details]', 'fan');
    const [resp] = await Promise.all([
      root.waitForResponse((r) => r.request().method() === 'POST'),
      root.click('main button[type=submit]'),
    ]);
    t.equal(resp.status(), 400);
    t.match(await root.textContent('#ip-error'), /ip is read-only once the machine exists/);
    t.match(await root.textContent('#mac-error'), /mac is read-only/);
    t.same(
      store.read((tx) => tx.get(T.machines, 'web-m1')),
      before,
      'nothing was saved',
    );
    // Marking it faulty with details is an ordinary edit.
    await root.goto(`${mdb}/machines/web-m1/edit`);
    await root.check('input[name=is_faulty][type=checkbox]');
    await root.fill('textarea[name=is_faulty_details]', 'no display');
    await Promise.all([root.waitForLoadState(), root.click('main button[type=submit]')]);
    t.match(
      store.read((tx) => tx.get(T.machines, 'web-m1')),
      { is_faulty: true, is_faulty_details: 'no display' },
    );
  });

  await t.test('machine and user fields holding markup are shown as text and run nothing', async (t) => {
    await root.goto(`${mdb}/machines/web-m1/edit`);
    await root.fill('textarea[name=is_faulty_details]', XSS);
    await Promise.all([root.waitForLoadState(), root.click('main button[type=submit]')]);
    t.match(await root.textContent('main table'), XSS, 'machine page shows the text');
    await root.goto(`${mdb}/?q=web-m1`);
    t.equal(
      await root.locator('span.faulty').getAttribute('title'),
      XSS,
      'the list keeps it in an attribute, as text',
    );
    const users = await b.newPage();
    const usersCtx = users;
    await usersCtx.goto(`${udb}/`);
    if (usersCtx.url().includes('/_auth/login')) {
      await usersCtx.fill('input[name=login]', 'rita');
      await usersCtx.fill('input[name=password]', 'rita-pw1');
      await Promise.all([usersCtx.waitForLoadState(), usersCtx.click('main button[type=submit]')]);
    }
    await usersCtx.goto(`${udb}/users/new`);
    await usersCtx.fill('input[name=login]', 'xss_user');
    await usersCtx.fill('input[name=firstname]', XSS_NAME);
    await usersCtx.fill('input[name=lastname]', '"><script>alert(4)</script>');
    await Promise.all([usersCtx.waitForLoadState(), usersCtx.click('main button[type=submit]')]);
    t.match(await usersCtx.textContent('main table'), XSS_NAME);
    await usersCtx.goto(`${udb}/?q=xss`);
    t.match(await usersCtx.textContent('main table'), '"><script>alert(4)</script>');
    t.equal(await usersCtx.locator('main img').count(), 0, 'no <img> element was created from the data');
    t.equal(
      await usersCtx.locator('main script, main svg').count(),
      0,
      'no <script> or <svg> element either',
    );
    await usersCtx.close();
    t.same(b.incidents, [], 'no dialog, console error or page error');
  });

  await t.test(
    'organizers: refused on MDB, cannot edit a root on UDB; contestants and wrong passwords refused',
    async (t) => {
      const ctx = await b.browser.newContext();
      t.teardown(() => ctx.close());
      const page = await ctx.newPage();
      page.on('dialog', (d) => b.incidents.push(`dialog ${d.message()}`));
      await signIn(page, mdb, 'olga', 'olga-pw1');
      const r = await page.goto(`${mdb}/`);
      t.equal(r?.status(), 403);
      t.match(await page.textContent('.refusal'), /olga.*organizer.*roots only/s);
      await signIn(page, udb, 'olga', 'olga-pw1');
      t.equal(await page.title(), 'Users · Gatehouse', 'organizers list users');
      t.equal(await page.locator('text=Add a user').count(), 0, 'without an add button');
      const edit = await page.goto(`${udb}/users/rita/edit`);
      t.equal(edit?.status(), 403, 'a root is not editable by an organizer');
      t.match(await page.textContent('.refusal'), /only roots can edit roots/);
      // A contestant's edit page works, but making them root does not, even forged.
      await page.goto(`${udb}/users/carl/edit`);
      const token = await page.locator('input[name=_csrf]').first().inputValue();
      const forged = await forge(
        ctx,
        `${udb}/users/carl/edit`,
        {
          _csrf: token,
          firstname: 'Carl',
          lastname: 'User',
          group: 'root',
          password: 'carl-pw1',
          shell: '/bin/bash',
        },
        udb,
      );
      t.equal(forged.status, 400);
      t.equal(store.read((tx) => tx.get(tables.users, 'carl'))?.group, 'user', 'carl is not root');
      const forgedRoot = await forge(
        ctx,
        `${udb}/users/rita/edit`,
        { _csrf: token, firstname: 'Pwned' },
        udb,
      );
      t.equal(forgedRoot.status, 403);
      t.equal(store.read((tx) => tx.get(tables.users, 'rita'))?.firstname, 'Rita');
      const create = await forge(
        ctx,
        `${udb}/users/new`,
        { _csrf: token, login: 'sneaky', firstname: 'S', lastname: 'N', group: 'user' },
        udb,
      );
      t.equal(create.status, 403, 'organizers do not add users');

      const other = await b.browser.newContext();
      t.teardown(() => other.close());
      const p2 = await other.newPage();
      await signIn(p2, udb, 'carl', 'carl-pw1');
      t.match(await p2.textContent('.refusal'), /carl.*contestant.*organizers and roots only/s);
      await signIn(p2, mdb, 'rita', 'wrong');
      t.match(await p2.textContent('[role=alert]'), 'Wrong login or password.');
      t.equal(
        (await other.cookies()).filter((c) => c.name === 'gh_admin').length,
        0,
        'no session for either',
      );
    },
  );

  await t.test('a cross-site form POST is rejected', async (t) => {
    const token = await root.locator('input[name=_csrf]').first().inputValue();
    let hits = 0;
    const evil = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(
        `<form id=f method=post action="${mdb}/machines/new"><input name=_csrf value="${token}"><input name=hostname value=evil-m><input name=mac value=02:ee:ee:ee:ee:01></form><script>document.getElementById('f').submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    t.teardown(() => evil.close());
    const page = await b.newPage();
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${mdb}/machines/new`)),
      page.goto(`http://evil:${(evil.address() as AddressInfo).port}/`),
    ]);
    t.equal(hits, 1);
    t.ok([401, 403].includes(resp.status()), `refused with ${resp.status()}`);
    t.notOk(
      store.read((tx) => tx.get(T.machines, 'evil-m')),
      'no machine was created',
    );
    // Even with the session cookie and the right token, another Origin is refused.
    const direct = await forge(
      b.context,
      `${mdb}/machines/new`,
      { _csrf: token, hostname: 'evil-m2', mac: '02:ee:ee:ee:ee:02' },
      'http://evil',
    );
    t.equal(direct.status, 403);
    t.match(direct.text, /another site/);
    const noOrigin = await forge(b.context, `${mdb}/machines/new`, {
      _csrf: token,
      hostname: 'evil-m2',
      mac: '02:ee:ee:ee:ee:02',
    });
    t.equal(noOrigin.status, 403, 'neither Origin nor Referer: refused');
    const noToken = await forge(
      b.context,
      `${mdb}/machines/new`,
      { hostname: 'evil-m3', mac: '02:ee:ee:ee:ee:03' },
      mdb,
    );
    t.equal(noToken.status, 403, 'a POST without the token is refused');
    t.notOk(store.read((tx) => tx.get(T.machines, 'evil-m2') ?? tx.get(T.machines, 'evil-m3')));
    await page.close();
  });

  await t.test('security headers on every page and asset', async (t) => {
    for (const url of [`${mdb}/`, `${udb}/`, `${dash}/`, `${mdb}/_auth/login`, `${mdb}/_static/live.js`]) {
      const r = await root.goto(url);
      const h = r!.headers();
      t.match(h['content-security-policy'], /script-src 'self'/, url);
      t.match(h['content-security-policy'], /frame-ancestors 'none'/);
      t.equal(h['x-frame-options'], 'DENY');
      t.equal(h['x-content-type-options'], 'nosniff');
    }
    t.equal(
      (await rpcCall(gh.baseUrl, 'mdb', 'query')).status,
      200,
      '/call/* still answers beside the pages',
    );
  });

  await t.test(
    'batch import: upload, preview of each login, import with progress, password sheets',
    async (t) => {
      await root.goto(`${udb}/import`);
      if (root.url().includes('/_auth/login')) {
        await root.fill('input[name=login]', 'rita');
        await root.fill('input[name=password]', 'rita-pw1');
        await Promise.all([root.waitForLoadState(), root.click('main button[type=submit]')]);
        await root.goto(`${udb}/import`);
      }
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aw-import-')), 'finalistes.txt');
      fs.writeFileSync(
        file,
        "Élodie\tÇaglar-Dupont\nJean-Pierre\tDe La Fontaine-Dupont\nmarie claire\to'neil\nÉlodie\tÇaglar-Dupont\n",
      );
      await root.setInputFiles('input[type=file]', file);
      await Promise.all([root.waitForLoadState(), root.click('main button[type=submit]')]);
      t.equal(await root.title(), 'Batch import: preview · Gatehouse');
      const logins = await root.locator('#preview td code').allTextContents();
      t.same(
        logins,
        ['ecaglardupo', 'jpdelafontai', 'mconeil', 'ecaglardupo1'],
        'the derived logins, as batchimport derives them',
      );
      t.notOk(
        store.read((tx) => tx.get(tables.users, 'ecaglardupo')),
        'nothing written by the preview',
      );
      await root.screenshot({ path: path.join(shots, 'udb-import-preview.png') });
      await Promise.all([root.waitForLoadState(), root.click('text=Import 4 users')]);
      await root.locator('h1', { hasText: 'Batch import: done' }).waitFor({ timeout: 15_000 });
      t.match(await root.textContent('#progress'), '4 of 4 rows written');
      t.match(
        await root.textContent('#import-output'),
        'Added user Élodie Çaglar-Dupont (login: ecaglardupo)',
      );
      await Promise.all([root.waitForLoadState(), root.click('text=Password sheets of the 4 users')]);
      const sheets = root.locator('section.sheet');
      t.equal(await sheets.count(), 4);
      const first = store.read((tx) => tx.get(tables.users, 'ecaglardupo'))!;
      t.match(await sheets.first().textContent(), `Password: ${first.password}`);
      await root.emulateMedia({ media: 'print' });
      t.equal(await root.locator('nav.top').isVisible(), false, 'the print stylesheet hides the navigation');
      await root.screenshot({ path: path.join(shots, 'udb-sheets.png') });
      await root.emulateMedia({ media: 'screen' });
      await root.goto(`${udb}/`);
      await root.screenshot({ path: path.join(shots, 'udb-users.png') });
    },
  );

  await t.test('the dashboard shows a new registration within 1 s without reloading', async (t) => {
    const page = await b.newPage();
    await page.goto(`${dash}/`);
    if (page.url().includes('/_auth/login')) {
      await page.fill('input[name=login]', 'rita');
      await page.fill('input[name=password]', 'rita-pw1');
      await Promise.all([page.waitForLoadState(), page.click('main button[type=submit]')]);
    }
    t.equal(await page.title(), 'Dashboard · Gatehouse');
    t.match(
      await page.textContent('#sec-boot'),
      'No machine has booted since Gatehouse started',
      'the boot service is wired in',
    );
    // The live stream is open once the first update arrived.
    await page.locator('#dashboard[data-updated]').waitFor({ state: 'attached', timeout: 10_000 });
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    const started = Date.now();
    const r = await rpcCall(gh.baseUrl, 'mdb', 'register', {
      args: ['live-m1', '02:aa:bb:cc:dd:42', 0, 0, 'pasteur', 'user'],
    });
    t.equal(r.body.type, 'result', JSON.stringify(r.body));
    await page.locator('#sec-recent', { hasText: 'live-m1' }).waitFor({ timeout: 1000 });
    t.ok(Date.now() - started < 1000, `shown ${Date.now() - started} ms after the registration`);
    t.equal(navigations, 0, 'without a reload');
    await page.screenshot({ path: path.join(shots, 'dashboard.png') });
    // Contest mode: a root toggles it.
    await Promise.all([page.waitForLoadState(), page.click('text=Turn contest mode on')]);
    t.match(await page.textContent('#contest-state'), /ON/);
    t.same(b.incidents, [], 'no dialog, console error or page error anywhere');
  });
});
