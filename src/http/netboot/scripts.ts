/**
 * The short iPXE scripts answered by /boot/<mac>/ and /register (spec §6.1). Pure text
 * builders: no store, no clock. Every value that comes from the store or from an error is put
 * on one line first, because iPXE runs a script line by line and a newline inside an `echo`
 * argument would turn the rest of a reason into commands.
 */

/** One printable line: control characters (newlines included) become spaces. */
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}

export function unknownMachineScript(): string {
  return [
    '#!ipxe',
    "echo Netboot error: this machine's MAC address is not in MDB.",
    'echo Rebooting in 30 seconds.',
    'sleep 30',
    'reboot',
    '',
  ].join('\n');
}

export function faultyMachineScript(details: string): string {
  return [
    '#!ipxe',
    'echo ERROR: this machine is marked as faulty in MDB.',
    `echo Reason: ${oneLine(details)}`,
    'echo',
    'sleep 60',
    'reboot',
    '',
  ].join('\n');
}

export function registrationErrorScript(message: string): string {
  return [
    '#!ipxe',
    `echo Registration failed: ${oneLine(message)}`,
    'echo Rebooting in 30 seconds.',
    'sleep 30',
    'reboot',
    '',
  ].join('\n');
}

export function registrationDoneScript(): string {
  return ['#!ipxe', 'echo Registration succeeded. Rebooting in 30 seconds.', 'sleep 30', 'reboot', ''].join(
    '\n',
  );
}

export const KERNEL_FILE = 'vmlinuz-linux';
export const INITRD_FILE = 'initramfs-linux.img';
export const FALLBACK_INITRD_FILE = 'initramfs-linux-fallback.img';

export interface BootScriptParams {
  /** `rfs<N>`: the RFS host name iPXE fetches the kernel and initrd from over HTTP. */
  rfsHostname: string;
  /** The RFS address, for the NFS root. */
  rfsIp: string;
  fallback: boolean;
  /** The configured kernel options, verbatim (iPXE expands its `${…}` settings on the client). */
  options: string;
}

export function bootScript(p: BootScriptParams): string {
  const initrd = p.fallback ? FALLBACK_INITRD_FILE : INITRD_FILE;
  return [
    '#!ipxe',
    `echo Booting the kernel with its root on ${p.rfsIp}:/nfsroot`,
    `initrd http://${p.rfsHostname}/boot/${initrd}`,
    `boot http://${p.rfsHostname}/boot/${KERNEL_FILE} nfsroot=${p.rfsIp}:/export/nfsroot,ro ${p.options.replace(/[\x00-\x1f\x7f]/g, ' ')}`,
    '',
  ].join('\n');
}
