/**
 * Entry point of a DNS UDP worker process (forked by WorkerPool through node:cluster). It
 * holds no store: zones arrive over IPC, are compiled here, and answered from the shared
 * UDP socket. It exits when the main process goes away.
 */
import { createLogger } from '../log.js';
import { WarmKeeper } from '../warm-keeper.js';
import { DnsEngine } from './engine.js';
import { Forwarder } from './forwarder.js';
import { makePolicy, upstreamsOf } from './policy-config.js';
import { compileSnapshot } from './snapshot.js';
import { DnsUdpServer } from './udp-server.js';
import { warmAnswerPath } from './warmup.js';
import type { FromWorker, ToWorker } from './workers.js';

const send = (m: FromWorker) => process.send?.(m);
let engine: DnsEngine | undefined;
let udp: DnsUdpServer | undefined;
let forwarder: Forwarder | undefined;

process.on('disconnect', () => process.exit(0));
// Signals that reach the whole process group (systemd's KillMode=control-group, Ctrl-C, a
// terminal hangup) are the main process's business: it stops the workers in order (a `stop`
// message) or reloads. A worker killed by them first would be logged and replaced as a crash.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => {});
process.on('message', (raw: unknown) => {
  const m = raw as ToWorker;
  void handle(m).catch((e: unknown) => send({ type: 'failed', error: (e as Error).message }));
});
send({ type: 'hello' });

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      const logger = createLogger({ level: 'warn', bindings: { part: 'dns-worker', pid: process.pid } });
      const policy = makePolicy(m.cfg);
      forwarder = policy.recursion
        ? new Forwarder(upstreamsOf(m.cfg.dns), {
            ...m.cfg.dns.forwarder,
            ednsUdpSize: m.cfg.dns.ednsUdpSize,
          })
        : undefined;
      engine = new DnsEngine(compileSnapshot(m.zones, m.generation), policy, forwarder, logger);
      udp = new DnsUdpServer(engine, logger);
      // Not exclusive: the cluster primary shares one socket among the workers.
      await udp.listen(m.listen, { exclusive: false });
      setInterval(() => send({ type: 'stats', delta: engine!.stats.take() }), 1000).unref();
      send({ type: 'ready', addresses: udp.addresses() });
      if (m.cfg.dns.warmupQueries > 0) {
        // The zones arrive structured-cloned here: the warm-up's are cloned alike (warmup.ts).
        const warm = () => warmAnswerPath(m.cfg, m.cfg.dns.warmupQueries, { cloned: true });
        const report = await warm().catch((e: unknown) => ({ queries: 0, ms: 0, error: (e as Error).message }));
        send({ type: 'warmed', report });
        // This process answers the LAN's DNS all night: its own full GCs are the keeper's
        // business here (src/warm-keeper.ts; the main process's keeper sees only its heap).
        new WarmKeeper({
          logger,
          rewarm: async () => {
            const again = await warm();
            if (again.error) throw new Error(again.error);
          },
        }).start();
      }
      return;
    }
    case 'snapshot':
      if (engine) engine.snapshot = compileSnapshot(m.zones, m.generation);
      send({ type: 'applied', generation: m.generation });
      return;
    case 'config':
      if (engine) {
        engine.policy = makePolicy(m.cfg);
        forwarder?.close();
        forwarder = engine.policy.recursion
          ? new Forwarder(upstreamsOf(m.cfg.dns), {
              ...m.cfg.dns.forwarder,
              ednsUdpSize: m.cfg.dns.ednsUdpSize,
            })
          : undefined;
        engine.forwarder = forwarder;
      }
      return;
    case 'stop':
      await udp?.close();
      forwarder?.close();
      if (engine) send({ type: 'stats', delta: engine.stats.take() });
      process.disconnect?.();
      process.exit(0);
  }
}
