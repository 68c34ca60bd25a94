import type { GatehouseConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { adminRequest, readText } from './admin-api.js';
import { type ConfigSource, loadConfig, locateServer } from './config-source.js';
import type { CliIo } from './io.js';
import type { OperationArgs } from './operations.js';
import { progressPrinter } from './progress.js';
import { readServerLock } from './server-lock.js';

/**
 * Runs operation `name` through the server that owns the data directory when one runs, else
 * directly against the store. Output goes to `io` either way; returns the exit status. The
 * store, the schemas and the operation's code are loaded only on the local path: through a
 * server, a command costs a process start and one HTTP call.
 */
export async function runOperationFrom(
  name: string,
  args: OperationArgs,
  source: ConfigSource,
  io: CliIo,
): Promise<number> {
  const server = await locateServer(source);
  if (server.http) return runRemote(name, args, server.http, server.adminToken, io);
  // runOperation looks for the lock again in the validated configuration's data directory: if
  // the quick reading of the file ever disagreed with it, the call still goes to that server
  // instead of opening the store behind its back.
  return runOperation(name, args, await loadConfig(source), io);
}

/** The same, for a configuration already loaded (tests, benches). */
export async function runOperation(
  name: string,
  args: OperationArgs,
  config: GatehouseConfig,
  io: CliIo,
): Promise<number> {
  const lock = readServerLock(config.dataDir);
  if (lock) return runRemote(name, args, lock.http, config.secrets.adminToken, io);
  const { runLocally } = await import('./run-local.js');
  return runLocally(name, args, config, io);
}

async function runRemote(
  name: string,
  args: OperationArgs,
  http: string,
  token: string,
  io: CliIo,
): Promise<number> {
  const res = await adminRequest(http, token, 'POST', `/api/v1/ops/${name}`, JSON.stringify(args));
  if (res.statusCode !== 200) {
    const text = await readText(res);
    throw new GatehouseError(
      'GH_INTERNAL',
      `the running server refused operation ${name} (HTTP ${res.statusCode}): ${text.trim()}`,
    );
  }
  const progress = progressPrinter(io);
  let exit = 1;
  let buf = '';
  res.setEncoding('utf8');
  for await (const chunk of res) {
    buf += chunk as string;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as {
        out?: string;
        err?: string;
        exit?: number;
        progress?: { done: number; total: number; what: string };
      };
      if (msg.out !== undefined) io.out(msg.out);
      if (msg.err !== undefined) io.err(msg.err);
      if (msg.progress) progress(msg.progress.done, msg.progress.total, msg.progress.what);
      if (msg.exit !== undefined) exit = msg.exit;
    }
  }
  return exit;
}
