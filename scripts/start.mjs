// `npm start`: installs what is missing, builds, and runs `gatehouse serve` on embedded
// defaults (store in ./data, HTTP 127.0.0.1:8080, DNS :5353, TFTP :6969 from ./data/tftp (a demo root), DHCP :1067, demo data).
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync('bash', [path.join(root, 'scripts/ensure-node-deps.sh')], { stdio: 'inherit', cwd: root });
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
  cwd: root,
});
const args = process.argv.slice(2);
// Node started as production starts it: the flags of src/runtime-flags.ts (why: there).
const { SERVE_NODE_FLAGS } = await import(path.join(root, 'dist/runtime-flags.js'));
const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, path.join(root, 'dist/cli/main.js'), 'serve', ...args], {
  stdio: 'inherit',
  cwd: root,
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
