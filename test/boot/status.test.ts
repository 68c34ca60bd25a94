/**
 * Boot progress end to end (needs root): a machine on the LAN does what a PXE boot does — the
 * PXE ROM's DHCP (udhcpc with vendor class PXEClient), the TFTP download of its boot file from
 * the leased address (tftp-hpa), iPXE's DHCP (user class iPXE) and the boot script
 * (`GET /boot/<mac>/` on the netboot host) — and `gatehouse boot status --json` run beside the
 * server shows each phase for that machine, the table counts it, and the Prometheus gauge too.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { BootProgressEntry } from '../../src/boot/progress.js';
import { type LanClient, createLan, needsRoot } from '../helpers/netns.js';
import { repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const AGW = '192.168.250.254';

t.test(
  'PXE DHCP, TFTP, iPXE DHCP, boot script: gatehouse boot status',
  { skip: needsRoot, timeout: 120_000 },
  async (t) => {
    const dir = tempDir(t, 'ssboot-');
    fs.chmodSync(dir, 0o755);
    const lan = await createLan({ prefix: 'ssb', clients: 1 });
    t.teardown(() => lan.destroy());
    const client = lan.clients[0] as LanClient;
    const tftpRoot = path.join(dir, 'tftp');
    fs.mkdirSync(tftpRoot);
    fs.writeFileSync(path.join(tftpRoot, 'prologin.kpxe'), Buffer.alloc(20_000, 7), { mode: 0o644 });
    const configFile = path.join(dir, 'gatehouse.yml');
    const gh = await spawnGatehouse({
      dir,
      netns: lan.gw,
      configYaml: [
        `dataDir: ${path.join(dir, 'data')}`,
        'demo: { seed: false }',
        "http: { listen: ['0.0.0.0:80'] }",
        "dns: { listen: ['127.0.0.1:0'] }",
        `tftp: { listen: ['${AGW}:69'], root: ${tftpRoot} }`,
        'dhcp: { interfaces: [lan0] }',
        '',
      ].join('\n'),
    });
    t.teardown(() => gh.stop());

    const dump = path.join(dir, 'dump.sh');
    fs.writeFileSync(dump, '#!/bin/sh\n[ "$1" = bound ] && echo "$ip" > "$DUMP"\nexit 0\n', { mode: 0o755 });
    const udhcpc = async (args: string[]) => {
      const out = path.join(dir, `lease-${Math.random()}`);
      await client.exec(
        'env',
        [`DUMP=${out}`, 'udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-t', '3', '-T', '1', '-s', dump, ...args],
        {
          allowFail: true,
          timeoutMs: 20_000,
        },
      );
      return fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim() : '';
    };

    const ip = await udhcpc(['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000']);
    t.match(ip, /^192\.168\.250\.\d+$/, 'the PXE ROM got an address');
    await client.exec('ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    const out = tempDir(t, 'ssboot-tftp-');
    await client.exec('sh', ['-c', `cd ${out} && tftp -m binary ${AGW} -c get prologin.kpxe`], {
      timeoutMs: 20_000,
    });
    t.equal(fs.statSync(path.join(out, 'prologin.kpxe')).size, 20_000, 'the boot file came over TFTP');
    const ipxe = await udhcpc(['-x', `0x4d:${Buffer.from('iPXE').toString('hex')}`, '-r', ip]);
    t.equal(ipxe, ip, 'iPXE got the same address');
    const script = await client.exec('curl', [
      '-sS',
      '-H',
      'Host: netboot',
      `http://${AGW}/boot/${client.mac}/`,
    ]);
    t.match(script.stdout, /^#!ipxe/, 'the boot script was served');

    const status = await lan.gw.exec(process.execPath, [
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'boot',
      'status',
      '--json',
      '--config',
      configFile,
    ]);
    const reply = JSON.parse(status.stdout) as {
      machines: BootProgressEntry[];
      counts: Record<string, number>;
    };
    const me = reply.machines.find((m) => m.mac === client.mac);
    t.ok(me, `the machine ${client.mac} is listed`);
    t.equal(me?.ip, ip, 'with its address');
    const p = me?.phases ?? {};
    t.ok(p.dhcpPxe && p.tftpDone && p.dhcpIpxe && p.bootScript, `every phase seen: ${JSON.stringify(p)}`);
    t.ok(
      p.dhcpPxe! <= p.tftpDone! && p.tftpDone! <= p.dhcpIpxe! && p.dhcpIpxe! <= p.bootScript!,
      'in boot order',
    );
    t.same(
      reply.counts,
      { dhcpPxe: 0, tftpDone: 0, dhcpIpxe: 0, bootScript: 1 },
      'counted in its latest phase',
    );
    const table = await lan.gw.exec(process.execPath, [
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'boot',
      'status',
      '--config',
      configFile,
    ]);
    t.match(table.stdout, /^total\s+0\s+0\s+0\s+1\s+1$/m, 'the table totals it');
    // The storm's log: one summary line a second per protocol, with what happened.
    await gh.waitForLog((l) => l.event === 'dhcp.summary' && Number(l.ipxe) > 0, 3000);
    const dhcp = gh.logs.filter((l) => l.event === 'dhcp.summary');
    const sum = (k: string) => dhcp.reduce((n, l) => n + Number(l[k] ?? 0), 0);
    t.same(
      { pxe: sum('pxe'), ipxe: sum('ipxe'), offer: sum('offer'), ack: sum('ack') },
      { pxe: 2, ipxe: 2, offer: 2, ack: 2 },
      'dhcp.summary: both DORAs, PXE then iPXE',
    );
    t.match(await gh.waitForLog((l) => l.event === 'tftp.summary', 3000), {
      ok: 1,
      failed: 0,
      bytes: 20_000,
    });
    t.match(await gh.waitForLog((l) => l.event === 'netboot.summary', 3000), { boot: 1 });
    const metrics = await lan.gw.exec('curl', ['-sS', 'http://127.0.0.1/metrics']);
    t.match(metrics.stdout, /^gatehouse_boot_machines\{phase="bootScript"\} 1$/m, 'the gauge counts it');
  },
);
