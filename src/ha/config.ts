import { z } from 'zod';

/**
 * `ha:` — a hot standby pair (docs/ha.md). keepalived (VRRP) moves the floating addresses;
 * Gatehouse is primary only while every floating address is on one of its interfaces.
 */
export const haConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** This gateway's name in the pair (logs, terms, `gatehouse ha status`). */
    node: z.string().min(1).default('gw1'),
    /** Base URL of the other gateway's HTTP server on its own (not floating) address. */
    peer: z.url().optional(),
    /** The VRRP addresses; present on an interface of this host = primary. */
    floatingAddresses: z.array(z.ipv4()).default([]),
    /**
     * `auto` follows the floating addresses. `standby` forces standby (maintenance); `primary`
     * forces primary and exists for single-machine tests only: it breaks the "never primary
     * without the address" rule.
     */
    role: z.enum(['auto', 'primary', 'standby']).default('auto'),
    /** How often the floating addresses are checked (the keepalived notify hook also triggers a check). */
    addressCheckMs: z.number().int().min(20).max(10_000).default(200),
    /**
     * `sync`: a write's answer (RPC, admin API, netboot registration, DHCP ACK) waits until the
     * standby has applied it, at most `syncTimeoutMs`, after which replication degrades to
     * asynchronous until the standby catches up. `async`: answers at commit.
     */
    mode: z.enum(['sync', 'async']).default('sync'),
    syncTimeoutMs: z.number().int().min(1).max(60_000).default(500),
    /** Tables that stay local to each gateway (not replicated). */
    localTables: z.array(z.string()).default(['dhcp_state']),
    /** Replicated transactions kept for a standby to resume from; older ones need a snapshot. */
    journalMax: z.number().int().min(10).default(20_000),
    /** Reconnect delay of the standby's follower after an error. */
    retryMs: z.number().int().min(10).default(250),
  })
  .prefault({});

export type HaConfig = z.infer<typeof haConfigSchema>;
