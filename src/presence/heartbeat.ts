import { execFile } from 'node:child_process';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

const execFileP = promisify(execFile);

/** Users managed by UDB have uids in [10000, 20000) (spec §9.4). */
export const PROLOGIN_UID_MIN = 10000;
export const PROLOGIN_UID_MAX = 20000;

export function isProloginUid(uid: number): boolean {
  return Number.isInteger(uid) && uid >= PROLOGIN_UID_MIN && uid < PROLOGIN_UID_MAX;
}

/**
 * The machine name presencesync knows: the system hostname without its last dot-separated
 * label (`pas-r01p01.prolo` → `pas-r01p01`); a name without a dot is kept as is.
 */
export function shortHostname(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot === -1 ? name : name.slice(0, dot);
}

/** The distinct names on the first line of `who -q` (`foo bar` then `# users=2`). */
export function whoUsers(output: string): string[] {
  const first = output.split(/\r?\n/)[0] ?? '';
  return [...new Set(first.split(/\s+/).filter(Boolean))];
}

export interface SessionProbe {
  /** Output of `who -q`. */
  who(): Promise<string>;
  /** The uid of `user`, or undefined when the system does not know the name. */
  uid(user: string): Promise<number | undefined>;
}

/** `who -q` and `id -u USER` as commands (fakes in tests). */
export function commandProbe(whoCommand = 'who', idCommand = 'id'): SessionProbe {
  return {
    async who() {
      const { stdout } = await execFileP(whoCommand, ['-q'], { timeout: 10_000 });
      return stdout;
    },
    async uid(user) {
      try {
        const { stdout } = await execFileP(idCommand, ['-u', user], { timeout: 10_000 });
        const uid = Number(stdout.trim());
        return Number.isInteger(uid) ? uid : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** The logged-on users presencesync cares about (uid in [10000, 20000)). */
export async function loggedOnProloginUsers(probe: SessionProbe): Promise<string[]> {
  const out: string[] = [];
  for (const user of whoUsers(await probe.who())) {
    const uid = await probe.uid(user);
    if (uid !== undefined && isProloginUid(uid)) out.push(user);
  }
  return out;
}

export interface HeartbeatLoopOptions {
  probe: SessionProbe;
  send: (login: string, hostname: string) => Promise<{ status: number }>;
  hostname: string;
  /** Seconds between heartbeats (presencesync timeout / 2). */
  intervalSeconds: number;
  /** Seconds before retrying after an error (the original: 2). */
  retrySeconds?: number;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * The presenced heartbeat daemon (spec §9.4, `prologin/presenced/heartbeat.py`): every interval,
 * zero Prologin users → nothing, exactly one → POST /heartbeat, more → log an error and send
 * nothing. Any failure is logged and retried after 2 s. The answer is otherwise ignored, as in
 * the original; a refused token is logged so a wrong secret is visible.
 */
export async function runHeartbeatLoop(opts: HeartbeatLoopOptions): Promise<void> {
  const retry = (opts.retrySeconds ?? 2) * 1000;
  while (!opts.signal.aborted) {
    let wait = opts.intervalSeconds * 1000;
    try {
      const users = await loggedOnProloginUsers(opts.probe);
      if (users.length === 1) {
        const r = await opts.send(users[0]!, opts.hostname);
        opts.logger.debug('presence.heartbeat_sent', {
          login: users[0],
          hostname: opts.hostname,
          status: r.status,
        });
        if (r.status === 403)
          opts.logger.warn('presence.heartbeat_refused', {
            status: r.status,
            hint: 'check the presencesync pub secret',
          });
      } else if (users.length > 1) {
        opts.logger.error('presence.too_many_users', { users });
      } else {
        opts.logger.debug('presence.nobody_logged_in', {});
      }
    } catch (e) {
      opts.logger.error('presence.heartbeat_failed', { error: errorMessage(e), retryIn: retry / 1000 });
      wait = retry;
    }
    try {
      await sleep(wait, undefined, { signal: opts.signal });
    } catch {
      return;
    }
  }
}

export function systemShortHostname(): string {
  return shortHostname(os.hostname());
}
