import type { Logger } from '../../log.js';
import { commitNftBatch } from '../netlink/batch.js';
import { NFPROTO_UNSPEC } from '../netlink/constants.js';
import { errnoName } from '../netlink/errors.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { NetlinkSocket, type OutgoingMessage, type RawSocketFactory } from '../netlink/socket.js';
import {
  type NftChain,
  type NftRule,
  type NftSet,
  type NftTable,
  decodeChain,
  decodeRule,
  decodeSet,
  decodeSetElements,
  decodeTable,
  getChains,
  getRules,
  getSetElements,
  getSets,
  getTables,
} from './messages.js';

export interface NftClientOptions {
  logger: Logger;
  rawFactory?: RawSocketFactory;
  timeoutMs?: number;
  /** Let the process exit while this client is open (CLI). */
  unref?: boolean;
}

/** nf_tables over one request socket: atomic batches and listings. */
export class NftClient {
  private readonly sock: NetlinkSocket;

  constructor(opts: NftClientOptions) {
    this.sock = new NetlinkSocket({
      name: 'nftables',
      logger: opts.logger,
      rawFactory: opts.rawFactory,
      timeoutMs: opts.timeoutMs,
      unref: opts.unref,
      // Listings of big sets arrive as many datagrams at once.
      recvBufferBytes: 4 << 20,
      sendBufferBytes: 4 << 20,
    });
  }

  /** Applies the messages as one transaction: all or nothing. */
  commit(messages: readonly OutgoingMessage[]): Promise<void> {
    return commitNftBatch(this.sock, messages);
  }

  private async dumpAll(req: OutgoingMessage): Promise<NetlinkMessage[]> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.sock.dump(req);
      // The ruleset changed under the dump: retry a couple of times, then take what we have.
      if (!r.interrupted || attempt >= 3) return r.messages;
    }
  }

  async listTables(family = NFPROTO_UNSPEC): Promise<NftTable[]> {
    return (await this.dumpAll(getTables(family))).map(decodeTable);
  }

  async tableExists(family: number, name: string): Promise<boolean> {
    return (await this.listTables(family)).some((t) => t.family === family && t.name === name);
  }

  async listChains(family: number, table?: string): Promise<NftChain[]> {
    const all = (await this.dumpAll(getChains(family))).map(decodeChain);
    return table === undefined ? all : all.filter((c) => c.table === table);
  }

  async listRules(family: number, table: string): Promise<NftRule[]> {
    return (await this.dumpAll(getRules(family, table))).map(decodeRule);
  }

  async listSets(family: number, table: string): Promise<NftSet[]> {
    return (await this.dumpAll(getSets(family, table))).map(decodeSet);
  }

  /** Keys of a set; an absent table or set gives undefined rather than an error. */
  async listSetKeys(family: number, table: string, set: string): Promise<Buffer[] | undefined> {
    try {
      const msgs = await this.dumpAll(getSetElements(family, table, set));
      return msgs.flatMap((m) => decodeSetElements(m).keys);
    } catch (e) {
      const errno = (e as { details?: { errno?: number } }).details?.errno;
      if (errno !== undefined && errnoName(errno) === 'ENOENT') return undefined;
      throw e;
    }
  }

  close(): void {
    this.sock.close();
  }
}
