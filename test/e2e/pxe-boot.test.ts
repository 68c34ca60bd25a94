import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { hasCommand } from '../helpers/tools.js';
import { createLan, isRoot } from '../helpers/netns.js';
import { repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { E1000_ROM, Qemu } from './qemu.js';
import { waitForLog } from './wait-log.js';

/**
 * End to end (spec §5.3, §15 "Netboot QEMU test"): a QEMU PC with Debian's iPXE NIC ROM boots
 * on a bridge in a namespace against Gatehouse spawned in the gateway namespace, which serves
 * DHCP on lan0, DNS, TFTP and HTTP.
 *
 *  1. unknown MAC → alien lease; DHCP gives iPXE the TFTP boot image (alien `ipxeChainUrl: ''`),
 *     which is contrib/ipxe/chain.ipxe: iPXE loads a script as a boot image, so the chain script
 *     runs the way prologin.kpxe's embedded copy does (dhcp, then chain http://netboot/bootstrap);
 *  2. the test drives the bootstrap menu through the QEMU monitor like an operator (register
 *     without LLDP: hostname, RFS 0, HFS 0, first room, first type, confirm);
 *  3. the machine is in MDB with a user-pool address and resolves in DNS;
 *  4. the script's `reboot` → known MAC → fixed address → /boot/<mac>/ → initrd and kernel from
 *     rfs0, resolved by Gatehouse's DNS and served by the boot-file host.
 * Every step is asserted from Gatehouse's structured logs; QEMU is always killed.
 */

const skip = !isRoot
  ? 'needs root (network namespaces, tap device, DHCP raw sockets); CI runs as root'
  : !hasCommand('qemu-system-x86_64')
    ? 'qemu-system-x86_64 is not installed (package qemu-system-x86)'
    : !fs.existsSync(E1000_ROM)
      ? `${E1000_ROM} is missing (package ipxe-qemu)`
      : !fs.existsSync('/dev/net/tun')
        ? '/dev/net/tun is missing: no tap devices here'
        : !hasCommand('dig') || !hasCommand('curl')
          ? 'needs dig and curl'
          : false;

const VM_MAC = '52:54:00:e2:e0:01';
const GW_ALIASES = 'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso,rfs0,hfs0';

type Log = Record<string, unknown>;

// The whole file may run for minutes (three PXE boots in TCG and the script's 30-s reboot wait):
// the root test's timeout is the file's (tap's default from .taprc is 300 s).
t.setTimeout(10 * 60_000);

t.test(
  'PXE boot: register an unknown machine from the iPXE menu, then boot it to its kernel',
  { skip },
  async (t) => {
    t.setTimeout(8 * 60_000);
    const lan = await createLan({ prefix: 'ghe2e' });
    t.teardown(() => lan.destroy());
    const dir = tempDir(t, 'ghe2e-');
    const tftpRoot = path.join(dir, 'tftp');
    const bootRoot = path.join(dir, 'boot');
    fs.mkdirSync(tftpRoot);
    fs.mkdirSync(bootRoot);
    fs.copyFileSync(path.join(repoRoot, 'contrib/ipxe/chain.ipxe'), path.join(tftpRoot, 'prologin.kpxe'));
    // Dummy images: iPXE downloads both, then refuses to execute the "kernel"; the server side is what is tested.
    fs.writeFileSync(path.join(bootRoot, 'vmlinuz-linux'), Buffer.alloc(96 * 1024, 0x4b));
    fs.writeFileSync(path.join(bootRoot, 'initramfs-linux.img'), Buffer.alloc(48 * 1024, 0x49));

    const configFile = path.join(dir, 'gatehouse.yml');
    const dataDir = path.join(dir, 'data');
    const cli = (...args: string[]) =>
      lan.gw.exec(process.execPath, [
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        ...args,
        '--config',
        configFile,
      ]);
    const configYaml = [
      `dataDir: ${dataDir}`,
      'log: { level: info }',
      'demo: { seed: false }',
      'http: { listen: ["0.0.0.0:80"] }',
      'dns: { listen: ["192.168.1.254:53", "192.168.250.254:53", "127.0.0.1:53"] }',
      // Alien iPXE clients get the TFTP boot image (the chain script), known ones http://netboot/bootstrap.
      'dhcp: { interfaces: [lan0], alien: { ipxeChainUrl: "" } }',
      `tftp: { listen: ["192.168.250.254:69", "192.168.1.254:69"], root: ${tftpRoot} }`,
      `netboot: { bootFiles: { root: ${bootRoot} } }`,
      '',
    ].join('\n');
    fs.writeFileSync(configFile, configYaml);
    // gw in MDB as in setup.rst, carrying rfs0/hfs0 too: this gateway is also the small deployment's RFS.
    const gwMac = (await lan.gw.exec('cat', ['/sys/class/net/lan0/address'])).stdout.trim();
    const added = await cli(
      'mdb',
      'addmachine',
      '--hostname',
      'gw',
      '--mac',
      gwMac,
      '--ip',
      '192.168.1.254',
      '--aliases',
      GW_ALIASES,
      '--rfs',
      '0',
      '--hfs',
      '0',
      '--mtype',
      'service',
      '--room',
      'pasteur',
    );
    t.equal(added.code, 0, 'gw registered in MDB');

    const gh = await spawnGatehouse({ dir, netns: lan.gw, configYaml, startTimeoutMs: 60_000 });
    t.teardown(() => gh.stop());
    let qemu: Qemu | undefined;
    const step = async (what: string, pred: (r: Log) => boolean, timeoutMs: number): Promise<Log> => {
      try {
        const r = await waitForLog(gh, pred, timeoutMs);
        t.pass(`${what} (${String(r.ts)})`);
        return r;
      } catch {
        // The VM's screen at the time, kept outside the test's temporary directory for a human.
        const dump = path.join(os.tmpdir(), `ghe2e-screen-${Date.now()}.ppm`);
        await qemu?.screendump(dump).catch(() => {});
        throw new Error(
          `${what}: not seen within ${timeoutMs} ms (VM screen: ${dump}). Gatehouse logs:\n${gh.logs
            .filter((l) => l.level !== 'debug')
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
        );
      }
    };

    await lan.sw.exec('ip', ['tuntap', 'add', 'dev', 'ghe2et0', 'mode', 'tap']);
    await lan.sw.exec('ip', ['link', 'set', 'ghe2et0', 'master', 'br0', 'up']);
    qemu = await Qemu.start({
      netns: lan.sw,
      tap: 'ghe2et0',
      mac: VM_MAC,
      monitor: path.join(dir, 'monitor.sock'),
    });
    t.teardown(() => qemu?.stop());

    // 1. Unknown machine: alien lease, TFTP boot image, bootstrap script.
    const alienAck = await step(
      'alien DHCP lease',
      (r) => r.event === 'dhcp.ack' && r.mac === VM_MAC && r.case === 'alien',
      90_000,
    );
    t.match(alienAck.ip, /^192\.168\.250\.(\d+)$/);
    await step(
      'iPXE fetched the boot image over TFTP',
      (r) => r.event === 'tftp.transfer' && r.file === 'prologin.kpxe' && r.result === 'ok',
      60_000,
    );
    await step(
      'bootstrap script served',
      (r) =>
        r.event === 'netboot.request' &&
        r.endpoint === 'bootstrap' &&
        String(r.client).startsWith('192.168.250.'),
      90_000,
    );

    // 2. The operator at the alien menu: second item, then the manual registration prompts.
    await new Promise((r) => setTimeout(r, 2000));
    await qemu.key('down');
    await qemu.key('ret');
    await new Promise((r) => setTimeout(r, 1000));
    await qemu.type('newmachine\n');
    await new Promise((r) => setTimeout(r, 500));
    await qemu.type('0\n');
    await new Promise((r) => setTimeout(r, 500));
    await qemu.type('0\n');
    await new Promise((r) => setTimeout(r, 1000));
    await qemu.key('ret'); // room: first item, pasteur
    await new Promise((r) => setTimeout(r, 1000));
    await qemu.key('ret'); // type: first item, contestant
    await new Promise((r) => setTimeout(r, 1000));
    await qemu.key('ret'); // "Is this correct? [Y/n]"
    const registered = await step(
      'registration through /register',
      (r) => r.event === 'netboot.request' && r.endpoint === 'register',
      30_000,
    );
    t.match(registered, {
      outcome: 'registered',
      hostname: 'newmachine',
      mac: VM_MAC,
      rfs: 0,
      hfs: 0,
      room: 'pasteur',
      mtype: 'user',
    });
    const ip = String(registered.ip);
    t.match(ip, /^192\.168\.0\.\d+$/, 'address from the user pool');

    // 3. In MDB (through the running server's RPC) and in DNS.
    const query = await lan.gw.exec('curl', [
      '-s',
      '-H',
      'Host: mdb',
      '-H',
      'Content-Type: application/json',
      '-d',
      JSON.stringify({ args: [], kwargs: { hostname: 'newmachine' } }),
      'http://127.0.0.1/call/query',
    ]);
    const rows = (JSON.parse(query.stdout) as { data: Array<Record<string, unknown>> }).data;
    t.match(rows, [
      { hostname: 'newmachine', mac: VM_MAC, ip, mtype: 'user', room: 'pasteur', rfs: 0, hfs: 0 },
    ]);
    const dig = await lan.gw.exec('dig', [
      '@192.168.1.254',
      '+short',
      '+tries=1',
      '+time=3',
      'newmachine.prolo',
      'A',
    ]);
    t.equal(dig.stdout.trim(), ip, 'newmachine.prolo resolves to its address');

    // 4. The script reboots the machine after 30 s: known MAC, fixed address, boot script, kernel and initrd.
    await step(
      'fixed-address DHCP lease after the reboot',
      (r) => r.event === 'dhcp.ack' && r.mac === VM_MAC && r.ip === ip,
      120_000,
    );
    const boot = await step(
      'boot script for the registered MAC',
      (r) => r.event === 'netboot.request' && r.endpoint === 'boot' && r.client === ip,
      90_000,
    );
    t.match(boot, { outcome: 'boot', mac: VM_MAC, hostname: 'newmachine' });
    const initrd = await step(
      'initrd from rfs0',
      (r) => r.event === 'netboot.file' && r.path === '/boot/initramfs-linux.img' && r.client === ip,
      60_000,
    );
    t.match(initrd, { host: 'rfs0', status: 200, bytes: 48 * 1024 });
    const kernel = await step(
      'kernel from rfs0',
      (r) => r.event === 'netboot.file' && r.path === '/boot/vmlinuz-linux' && r.client === ip,
      60_000,
    );
    t.match(kernel, { host: 'rfs0', status: 200, bytes: 96 * 1024 });
  },
);
