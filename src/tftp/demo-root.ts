import fs from 'node:fs';
import path from 'node:path';

/**
 * The TFTP root of the embedded defaults (`gatehouse serve` without `--config`, i.e. `npm
 * start`): `<dataDir>/tftp`, created on first start so that a fresh clone is ready at once.
 * It holds placeholders under the boot file names the demo DHCP configuration hands out and
 * a README saying what to put there. Existing files are never overwritten.
 */
export const DEMO_BOOT_FILES = ['prologin.kpxe', 'prologin.efi', 'arch.kpxe', 'arch.efi'] as const;

const README = `Gatehouse demo TFTP root
========================

Gatehouse created this directory because it was started on its embedded defaults
(\`npm start\` / \`gatehouse serve\` without --config). It is served over TFTP on
127.0.0.1:6969.

The files ${DEMO_BOOT_FILES.join(', ')} are the boot file names
the demo DHCP configuration hands out. Here they are text placeholders, so that
a TFTP download can be tried (e.g. \`atftp -g -r prologin.kpxe -l /tmp/x
127.0.0.1 6969\`); they do not boot anything.

For real machines, write a configuration file (README "Configuration",
docs/operations.md) whose \`tftp.root\` (conventionally /srv/tftp) holds iPXE
builds with contrib/ipxe/chain.ipxe embedded, e.g.
  make bin/undionly.kpxe EMBED=/path/to/contrib/ipxe/chain.ipxe
copied as prologin.kpxe (and bin-x86_64-efi/ipxe.efi as prologin.efi).
`;

function placeholder(name: string): string {
  return `Gatehouse demo placeholder for ${name}: not a boot image. See README.txt in this directory.\n`;
}

/** `<dataDir>/tftp`. */
export function demoTftpRoot(dataDir: string): string {
  return path.join(dataDir, 'tftp');
}

/** Creates the demo root and its files when missing. */
export function ensureDemoTftpRoot(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['README.txt', README],
    ...DEMO_BOOT_FILES.map((f): [string, string] => [f, placeholder(f)]),
  ];
  for (const [name, text] of files) {
    try {
      fs.writeFileSync(path.join(dir, name), text, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
