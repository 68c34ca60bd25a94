/**
 * Admin web bench: the MDB machines page with N machines (default 5000). Measures the time from
 * request to the last byte of the page over loopback (an upper bound of the server time: the
 * client is a few lines of undici in the same process), for the first page, a sorted page, a
 * search and the last page, and the page weight: the HTML as sent (gzip) and uncompressed,
 * plus the stylesheets and script the page loads.
 *
 *   node --import tsx bench/web/run.ts [N=5000] [REQUESTS=60]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { Gatehouse } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createMachine } from '../../src/mdb/machines.js';
import { UserWriter, udbTables } from '../../src/udb/users.js';
import { ReservedLogins } from '../../src/udb/validate.js';

const N = Number(process.argv[2] ?? 5000);
const REQUESTS = Number(process.argv[3] ?? 60);
const ROOMS = ['pasteur', 'alt', 'cluster', 'other'] as const;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-web-bench-'));
const config = defaultConfig({
  dataDir,
  demo: { seed: false },
  http: { listen: ['127.0.0.1:0'] },
  dns: { listen: ['127.0.0.1:0'] },
  dhcp: { listen: '127.0.0.1:0' },
  tftp: { listen: ['127.0.0.1:0'], root: dataDir },
  presence: { enabled: false },
});
const app = await Gatehouse.start({ config, logger: silentLogger });
try {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  for (let start = 0; start < N; start += 500) {
    await app.store.write((tx) => {
      for (let i = start; i < Math.min(N, start + 500); i++) {
        createMachine(tx, {
          hostname: `m${String(i).padStart(5, '0')}`,
          aliases: i % 7 === 0 ? `alias${i},other${i}` : '',
          ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          mac: `02:00:00:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`,
          mtype: i % 10 === 0 ? 'orga' : 'user',
          room: ROOMS[i % 4],
          is_faulty: i % 50 === 0,
          is_faulty_details: i % 50 === 0 ? 'screen <flickers> & "beeps"' : '',
        });
      }
    });
  }
  await app.store.write((tx) =>
    new UserWriter(tx, udbTables(app.store), new ReservedLogins(config.udb)).create({
      login: 'benchroot',
      firstname: 'Bench',
      lastname: 'Root',
      group: 'root',
      password: 'bench-pw',
    }),
  );
  const base = `http://127.0.0.1:${app.http.port}`;
  const signIn = await request(`${base}/_auth/login`, {
    method: 'POST',
    headers: { host: 'mdb', origin: 'http://mdb', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'login=benchroot&password=bench-pw',
  });
  await signIn.body.dump();
  const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;

  const get = async (p: string, gzip = true) => {
    const t0 = performance.now();
    const r = await request(`${base}${p}`, {
      headers: { host: 'mdb', cookie, ...(gzip ? { 'accept-encoding': 'gzip' } : {}) },
    });
    const body = Buffer.from(await r.body.arrayBuffer());
    return {
      ms: performance.now() - t0,
      status: r.statusCode,
      body,
      gzip: r.headers['content-encoding'] === 'gzip',
    };
  };
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

  const pages: Array<[string, string]> = [
    ['first page (hostname order)', '/'],
    ['sorted by IP, descending', '/?sort=-ip'],
    ['filtered: room + type + search', '/?room=pasteur&mtype=user&q=m01'],
    ['last page', `/?page=${Math.ceil(N / 250)}`],
  ];
  console.log(
    `machines: ${N}, requests per page: ${REQUESTS}, node ${process.version}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log('| page | status | median ms | p95 ms | max ms | rows |');
  console.log('|---|---|---|---|---|---|');
  for (const [label, p] of pages) {
    for (let i = 0; i < 5; i++) await get(p);
    const times: number[] = [];
    let last: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < REQUESTS; i++) {
      last = await get(p);
      times.push(last.ms);
    }
    const htmlText = (last!.gzip ? gunzipSync(last!.body) : last!.body).toString('utf8');
    const rows = (htmlText.match(/<tr><td>/g) ?? []).length;
    console.log(
      `| ${label} | ${last!.status} | ${pct(times, 50).toFixed(1)} | ${pct(times, 95).toFixed(1)} | ${Math.max(...times).toFixed(1)} | ${rows} |`,
    );
  }

  const page = await get('/');
  const plain = await get('/', false);
  const html = plain.body.toString('utf8');
  const assets = [...html.matchAll(/(?:href|src)="(\/_static\/[^"]+)"/g)].map((m) => m[1]!);
  let assetsGz = 0;
  let assetsRaw = 0;
  for (const a of assets) {
    assetsGz += (await get(a)).body.length;
    assetsRaw += (await get(a, false)).body.length;
  }
  console.log('');
  console.log('| page weight of the first machines page | sent (gzip) | uncompressed |');
  console.log('|---|---|---|');
  console.log(
    `| HTML | ${(page.body.length / 1024).toFixed(1)} KB | ${(plain.body.length / 1024).toFixed(1)} KB |`,
  );
  console.log(
    `| stylesheets + script (${assets.length} files, cached a year) | ${(assetsGz / 1024).toFixed(1)} KB | ${(assetsRaw / 1024).toFixed(1)} KB |`,
  );
  console.log(
    `| total before images | ${((page.body.length + assetsGz) / 1024).toFixed(1)} KB | ${((plain.body.length + assetsRaw) / 1024).toFixed(1)} KB |`,
  );
} finally {
  await app.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
