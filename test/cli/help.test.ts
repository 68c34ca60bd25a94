import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { commands } from '../../src/cli/commands.js';
import { runCli } from '../../src/cli/main.js';
import { type CommandSpec, usageLine } from '../../src/cli/usage.js';
import { builtCli, operatorEnv } from '../helpers/built-cli.js';
import { tempDir } from '../helpers/tmp.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

/** Every command and subcommand of the table, as the path of names that reaches it. */
function allPaths(specs: readonly CommandSpec[], above: CommandSpec[] = []): CommandSpec[][] {
  return specs.flatMap((s) => [[...above, s], ...allPaths(s.subcommands ?? [], [...above, s])]);
}

const paths = allPaths(commands);

t.test('the table declares a usage for every command, and code for every top-level one', async (t) => {
  t.ok(paths.length >= 30, `${paths.length} commands and subcommands`);
  for (const path of paths) {
    const last = path.at(-1)!;
    t.ok(last.summary.trim().length > 0, `${usageLine(path)} says what it does`);
  }
  for (const c of commands) if (c.name !== 'help') t.type(c.load, 'function', `${c.name} has code`);
});

t.test('--help, -h and help print the usage of every command and subcommand, exit 0', async (t) => {
  for (const path of paths) {
    const names = path.map((c) => c.name);
    for (const spelling of ['--help', '-h', 'help']) {
      const c = capture();
      const argv = [...names, spelling];
      t.equal(await runCli(argv, c.io), 0, `gatehouse ${argv.join(' ')}: exit 0`);
      const out = c.out.join('\n');
      t.ok(out.includes(`usage: ${usageLine(path)}`), `gatehouse ${argv.join(' ')}: its usage on stdout`);
      t.ok(out.includes(path.at(-1)!.summary), `gatehouse ${argv.join(' ')}: what it does`);
      t.same(c.err, [], `gatehouse ${argv.join(' ')}: nothing on stderr`);
    }
  }
});

t.test('help finds the command wherever the options are, and help COMMAND works too', async (t) => {
  const cases: Array<[string[], string]> = [
    [['fw', '--data', '/nonexistent', 'status', '--help'], 'usage: gatehouse fw status [--json]'],
    [['mdb', 'addmachine', '--hostname', 'x', '-h'], 'usage: gatehouse mdb addmachine --hostname H'],
    [['help', 'mdb', 'switch', 'add'], 'usage: gatehouse mdb switch add --name N'],
    [['mdb', 'help', 'delmachine'], 'usage: gatehouse mdb delmachine HOSTNAME'],
    [['lldp', 'neighbors', '--help'], 'usage: gatehouse lldp neighbours [--json]'],
    [['--help'], 'usage: gatehouse <command> [options]'],
    [['help'], 'usage: gatehouse <command> [options]'],
  ];
  for (const [argv, want] of cases) {
    const c = capture();
    t.equal(await runCli(argv, c.io), 0, argv.join(' '));
    t.match(c.out.join('\n'), want, argv.join(' '));
  }
});

t.test('usage errors still exit 2 with the usage on stderr; a word after -- is an argument', async (t) => {
  const missing = capture();
  t.equal(await runCli(['fw'], missing.io), 2);
  t.same(missing.out, []);
  t.match(
    missing.err.join('\n'),
    /gatehouse fw: missing command[\s\S]*usage: gatehouse fw <command>[\s\S]*contest on\|off/,
  );
  const bogus = capture();
  t.equal(await runCli(['mdb', 'addmachine', '--bogus'], bogus.io), 2);
  t.match(bogus.err.join('\n'), /unknown option --bogus\nusage: gatehouse mdb addmachine --hostname H/);
  const none = capture();
  t.equal(await runCli([], none.io), 2, 'no command at all');
  t.match(none.err.join('\n'), /usage: gatehouse <command>/);
  const nosuch = capture();
  t.equal(await runCli(['help', 'nosuch'], nosuch.io), 2);
  const literal = capture();
  const dir = tempDir(t);
  t.equal(await runCli(['mdb', 'delmachine', '--data', dir, '--', 'help'], literal.io), 1);
  t.match(literal.err.join('\n'), /no machine named "help"/, 'after --, help is a hostname');
});

t.test('the installed CLI answers gatehouse fw --help on stdout with exit 0', async (t) => {
  const cli = builtCli();
  for (const argv of [
    ['fw', '--help'],
    ['fw', 'help'],
    ['mdb', 'addmachine', '-h'],
  ]) {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...argv], {
      env: operatorEnv(),
    });
    t.match(stdout, /^usage: gatehouse /, argv.join(' '));
    t.equal(stderr, '', argv.join(' '));
  }
});
