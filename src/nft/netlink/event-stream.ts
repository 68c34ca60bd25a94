import type { NetlinkMessage } from './message.js';

/*
 * The types shared by both ways of running a subscription (in this process, subscription.ts;
 * in a helper process, isolated-stream.ts). They live below both so neither imports the other.
 */

/**
 * What an event socket listens to: multicast groups (ctnetlink NEW events) or one nflog group
 * (bound with NFULNL_MSG_CONFIG on the socket that will receive its packets).
 */
export type SubscriptionSpec =
  | { kind: 'groups'; name: string; groups: number[]; recvBufferBytes: number }
  | {
      kind: 'nflog';
      name: string;
      group: number;
      copyRange: number;
      qthreshold: number;
      timeoutCs: number;
      recvBufferBytes: number;
    };

export interface EventHandlers {
  onMessage(m: NetlinkMessage): void;
  /**
   * Messages were lost: `overrun` when the kernel reported ENOBUFS, `restart` when the socket
   * (or the process holding it) died and was reopened.
   */
  onLoss(reason: 'overrun' | 'restart', detail: string): void;
}

export interface EventStreamStats {
  messages: number;
  overruns: number;
  restarts: number;
  /** Effective SO_RCVBUF of the (latest) socket. */
  recvBufferBytes: number;
}

export interface EventStream {
  readonly stats: EventStreamStats;
  close(): Promise<void>;
}
