import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, GatehouseError } from '../errors.js';
import { createLogger } from '../log.js';
import { PresenceClient } from '../presence/client.js';
import { commandProbe, runHeartbeatLoop, shortHostname, systemShortHostname } from '../presence/heartbeat.js';
import { flagString, type ParsedArgs, parseArgs, UsageError } from './args.js';
import type { CliIo, CommandRun } from './io.js';

/**
 * Client side of presence, run on contestant machines (spec §9.4–9.5): the heartbeat daemon,
 * the fake-presence tool, and the login/logout calls the PAM hook makes.
 */

const DEFAULT_URL = 'http://presencesync/';
const DEFAULT_SECRET_FILE = '/etc/gatehouse/presencesync-pub.secret';
const COMMON = ['url', 'secret', 'secret-file', 'host-header'] as const;

function clientFrom(args: ParsedArgs): PresenceClient {
  const env = process.env;
  const url = flagString(args, 'url') ?? env.GATEHOUSE_PRESENCE_URL ?? DEFAULT_URL;
  let secret = flagString(args, 'secret') ?? env.GATEHOUSE_PRESENCE_SECRET;
  if (secret === undefined) {
    const file = flagString(args, 'secret-file') ?? env.GATEHOUSE_PRESENCE_SECRET_FILE ?? DEFAULT_SECRET_FILE;
    try {
      secret = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new GatehouseError(
        'GH_CONFIG_NOT_FOUND',
        `cannot read the presencesync pub secret from ${file} (${errorMessage(e)}); pass --secret-file or set GATEHOUSE_PRESENCE_SECRET`,
      );
    }
  }
  if (!secret) throw new UsageError('the presencesync pub secret is empty');
  const hostHeader = flagString(args, 'host-header') ?? env.GATEHOUSE_PRESENCE_HOST;
  return new PresenceClient({ url, pubSecret: secret, ...(hostHeader ? { hostHeader } : {}) });
}

/**
 * The name presencesync knows this machine by: --hostname, else GATEHOUSE_PRESENCE_HOSTNAME,
 * else the system hostname; each stands for a system hostname and is shortened the same way.
 */
function machineName(flag: string | undefined): string {
  const named = flag ?? process.env.GATEHOUSE_PRESENCE_HOSTNAME;
  return named ? shortHostname(named) : systemShortHostname();
}

function seconds(args: ParsedArgs, name: string): number | undefined {
  const v = flagString(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new UsageError(`--${name} needs a positive number of seconds`);
  return n;
}

/** Resolves when SIGINT/SIGTERM arrives; the signal aborts the loops. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}

async function heartbeat(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: [...COMMON, 'interval', 'timeout', 'hostname', 'who', 'id'],
    booleans: ['debug'],
  });
  const client = clientFrom(args);
  const interval = seconds(args, 'interval') ?? (seconds(args, 'timeout') ?? 30) / 2;
  const hostname = machineName(flagString(args, 'hostname'));
  const logger = createLogger({
    level: args.flags.has('debug') ? 'debug' : 'info',
    bindings: { program: 'presenced-heartbeat' },
  });
  logger.info('presence.heartbeat_started', { hostname, interval });
  await runHeartbeatLoop({
    probe: commandProbe(flagString(args, 'who') ?? 'who', flagString(args, 'id') ?? 'id'),
    send: (login, host) => client.heartbeat(login, host),
    hostname,
    intervalSeconds: interval,
    logger,
    signal: stopSignal(),
  });
  return 0;
}

/** `fakepresence LOGIN HOSTNAME`: a heartbeat every 4 s forever (spec §9.4). */
async function fake(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: [...COMMON, 'every'], booleans: ['debug'] });
  const [login, hostname] = args.positionals;
  if (!login || !hostname) throw new UsageError('fake needs LOGIN HOSTNAME');
  const client = clientFrom(args);
  const every = (seconds(args, 'every') ?? 4) * 1000;
  const logger = createLogger({
    level: args.flags.has('debug') ? 'debug' : 'info',
    bindings: { program: 'fakepresence' },
  });
  const signal = stopSignal();
  while (!signal.aborted) {
    try {
      const r = await client.heartbeat(login, hostname);
      logger.info('presence.fake_heartbeat', { login, hostname, status: r.status });
    } catch (e) {
      logger.error('presence.fake_heartbeat_failed', { error: errorMessage(e) });
    }
    try {
      await sleep(every, undefined, { signal });
    } catch {
      break;
    }
  }
  return 0;
}

async function loginOrLogout(kind: 'login' | 'logout', argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: [...COMMON] });
  const [user, host] = args.positionals;
  if (!user) throw new UsageError(`${kind} needs USER [HOSTNAME]`);
  const client = clientFrom(args);
  const hostname = host ?? machineName(undefined);
  let refusal: string | null;
  try {
    refusal =
      kind === 'login'
        ? await client.requestLogin(user, hostname)
        : await client.notifyLogout(user, hostname);
  } catch (e) {
    // Not a refusal: presencesync could not be asked (the PAM hook tells these apart).
    io.err(`cannot reach presencesync: ${errorMessage(e)}`);
    return 3;
  }
  if (refusal === null) return 0;
  io.out(refusal);
  return 1;
}

/** `gatehouse presence …`. Usage: commands.ts. */
export const presence: CommandRun = async (argv, io) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'heartbeat':
      return heartbeat(rest);
    case 'fake':
      return fake(rest);
    case 'login':
    case 'logout':
      return loginOrLogout(sub, rest, io);
    case undefined:
      throw new UsageError('missing command');
    default:
      throw new UsageError(`unknown command "${sub}"`);
  }
};
