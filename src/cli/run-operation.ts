import { Agent, request } from 'undici';
import { allMigrations } from '../migrations.js';
import { Store } from '../store/index.js';
import { GatehouseError } from '../errors.js';
import { createLogger } from '../log.js';
import type { GatehouseConfig } from '../config/index.js';
import type { CliIo } from './io.js';
import { type OperationArgs, findOperation } from './operations.js';
import { adminHeaders } from './admin-api.js';
import { readServerLock } from './server-lock.js';

/**
 * Runs operation `name` through the server that owns `config.dataDir` when one runs, else
 * directly against the store. Output goes to `io` either way; returns the exit status.
 */
export async function runOperation(name: string, args: OperationArgs, config: GatehouseConfig, io: CliIo): Promise<number> {
  const lock = readServerLock(config.dataDir);
  if (lock) return runRemote(name, args, lock.http, config.secrets.adminToken, io);
  const op = findOperation(name);
  if (!op) throw new GatehouseError('GH_INTERNAL', `operation ${name} is not registered`);
  const store = await Store.open({ dir: config.dataDir, migrations: allMigrations });
  try {
    return await op.run({ store, config, logger: createLogger({ level: 'warn' }) }, args, {
      out: (l) => io.out(l),
      err: (l) => io.err(l),
      progress: progressPrinter(io),
    });
  } finally {
    await store.close();
  }
}

function progressPrinter(io: CliIo): (done: number, total: number, what: string) => void {
  let lastPct = -1;
  return (done, total, what) => {
    const pct = total > 0 ? Math.floor((done * 100) / total) : 100;
    if (pct === lastPct && done !== total) return;
    lastPct = pct;
    io.err(`${what}: ${done}/${total} (${pct}%)`);
  };
}

async function runRemote(name: string, args: OperationArgs, http: string, token: string, io: CliIo): Promise<number> {
  const dispatcher = new Agent({ bodyTimeout: 0, headersTimeout: 0 });
  try {
    const res = await request(`http://${http}/api/v1/ops/${name}`, {
      method: 'POST',
      headers: adminHeaders(token),
      body: JSON.stringify(args),
      dispatcher,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new GatehouseError('GH_INTERNAL', `the running server refused operation ${name} (HTTP ${res.statusCode}): ${text.trim()}`);
    }
    const progress = progressPrinter(io);
    let exit = 1;
    let buf = '';
    for await (const chunk of res.body) {
      buf += chunk.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { out?: string; err?: string; exit?: number; progress?: { done: number; total: number; what: string } };
        if (msg.out !== undefined) io.out(msg.out);
        if (msg.err !== undefined) io.err(msg.err);
        if (msg.progress) progress(msg.progress.done, msg.progress.total, msg.progress.what);
        if (msg.exit !== undefined) exit = msg.exit;
      }
    }
    return exit;
  } finally {
    await dispatcher.close();
  }
}
