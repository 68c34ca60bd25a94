import { constants } from 'node:os';
import { GatehouseError } from '../../errors.js';
import type { NetlinkAck } from './message.js';

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno))
  if (!errnoNames.has(num)) errnoNames.set(num, name);

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** What an operator can do about a kernel refusal, by errno. */
function hint(errno: number): string {
  switch (errnoName(errno)) {
    case 'EPERM':
      return 'Gatehouse needs root or CAP_NET_ADMIN to program netfilter';
    case 'ENOENT':
      return 'a table, chain, set or expression it refers to does not exist; run "gatehouse fw up" to recreate the ruleset';
    case 'EEXIST':
      return 'the object already exists; another program may own a table with the same name (see firewall.table)';
    case 'EBUSY':
      return 'the object is in use (another process may have bound the same nflog group, or a set is referenced)';
    case 'EOPNOTSUPP':
    case 'EAFNOSUPPORT':
    case 'EPROTONOSUPPORT':
      return 'this kernel lacks the nf_tables/conntrack feature; check the kernel configuration';
    case 'EINVAL':
    case 'ERANGE':
      return 'the kernel rejected the message as invalid; this is a Gatehouse bug, please report it with this line';
    case 'ENOBUFS':
    case 'ENOMEM':
      return 'the kernel ran out of memory or socket buffer; retry, and raise net.core.rmem_max if it persists';
    default:
      return 'see the kernel log (dmesg) for details';
  }
}

/** A kernel NLMSG_ERROR turned into a GatehouseError naming the request it answers. */
export function ackError(what: string, ack: NetlinkAck, extra?: Record<string, unknown>): GatehouseError {
  const name = errnoName(ack.errno);
  const ext = ack.extMessage ? ` (kernel: ${ack.extMessage})` : '';
  return new GatehouseError('GH_NETLINK', `netlink ${what} failed with ${name}${ext}: ${hint(ack.errno)}`, {
    errno: ack.errno,
    errnoName: name,
    request: what,
    ...(ack.extMessage ? { extMessage: ack.extMessage } : {}),
    ...(ack.extOffset !== undefined ? { extOffset: ack.extOffset } : {}),
    ...extra,
  });
}

export function netlinkTimeout(what: string, ms: number): GatehouseError {
  return new GatehouseError(
    'GH_NETLINK_TIMEOUT',
    `netlink ${what} got no answer from the kernel within ${ms} ms; retry`,
    { request: what },
  );
}

export function socketError(what: string, e: unknown): GatehouseError {
  const err = e as { code?: string; message?: string };
  const perm = err.code === 'EPERM' || err.code === 'EACCES';
  return new GatehouseError(
    'GH_NETLINK',
    `netlink ${what} failed: ${err.message ?? String(e)}${perm ? '; Gatehouse needs root or CAP_NET_ADMIN' : ''}`,
    { request: what, code: err.code },
    { cause: e },
  );
}
