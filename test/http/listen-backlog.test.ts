import t from 'tap';
import { loopbackNetns, needsRoot } from '../helpers/netns.js';
import { spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Issue 13 item 1: `http.listenBacklog` reaches listen(2). For a listening socket, `ss -ltn`
 * shows the backlog in the Send-Q column. net.core.somaxconn caps it and is per namespace, so
 * the server runs in a namespace of its own with somaxconn raised.
 */
const configYaml = (dir: string, backlog?: number) =>
  [
    `dataDir: ${dir}/data`,
    'demo: { seed: false }',
    `http: { listen: ["127.0.0.1:8080"]${backlog === undefined ? '' : `, listenBacklog: ${backlog}`} }`,
    'dns: { listen: ["127.0.0.1:0"] }',
    `tftp: { listen: ["127.0.0.1:0"], root: ${dir} }`,
    'dhcp: { listen: "127.0.0.1:0" }',
    '',
  ].join('\n');

for (const [backlog, expected] of [
  [undefined, 4096],
  [12345, 12345],
] as const) {
  t.test(
    `http.listenBacklog ${backlog ?? '(default)'} reaches listen(): Send-Q ${expected}`,
    { skip: needsRoot },
    async (t) => {
      const ns = await loopbackNetns(t, 'hh-backlog');
      await ns.exec('sysctl', ['-qw', 'net.core.somaxconn=65535']);
      const dir = tempDir(t);
      const gh = await spawnGatehouse({
        dir,
        netns: ns,
        configYaml: configYaml(dir, backlog),
        startTimeoutMs: 60_000,
      });
      t.teardown(() => gh.stop('SIGKILL'));
      const ss = await ns.exec('ss', ['-ltnH', 'sport = :8080']);
      const columns = ss.stdout.trim().split(/\s+/);
      t.equal(columns[0], 'LISTEN', ss.stdout);
      t.equal(Number(columns[2]), expected, 'Send-Q of the listening socket is the backlog');
    },
  );
}
