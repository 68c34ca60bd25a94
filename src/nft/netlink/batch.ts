import {
  NFNL_MSG_BATCH_BEGIN,
  NFNL_MSG_BATCH_END,
  NFNL_SUBSYS_NFTABLES,
  NFPROTO_UNSPEC,
} from './constants.js';
import { encodeNfGen } from './message.js';
import type { NetlinkSocket, OutgoingMessage } from './socket.js';

/**
 * nfnetlink batch framing: BATCH_BEGIN/BATCH_END carry an nfgenmsg whose resource id is the
 * subsystem (10 = nf_tables, big-endian); everything between them commits or aborts as one.
 */
export function batchBegin(subsys = NFNL_SUBSYS_NFTABLES): OutgoingMessage {
  return {
    type: NFNL_MSG_BATCH_BEGIN,
    flags: 0,
    payload: encodeNfGen(NFPROTO_UNSPEC, subsys),
    describe: 'BATCH_BEGIN',
  };
}

export function batchEnd(subsys = NFNL_SUBSYS_NFTABLES): OutgoingMessage {
  return {
    type: NFNL_MSG_BATCH_END,
    flags: 0,
    payload: encodeNfGen(NFPROTO_UNSPEC, subsys),
    describe: 'BATCH_END',
  };
}

/** Applies `messages` as one nf_tables transaction. */
export function commitNftBatch(
  sock: NetlinkSocket,
  messages: readonly OutgoingMessage[],
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  return sock.batch(batchBegin(), messages, batchEnd(), opts);
}
