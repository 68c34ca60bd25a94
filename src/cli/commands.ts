import type { CommandSpec } from './usage.js';

const STORE = '[--config FILE] [--data DIR]';

/**
 * Every `gatehouse` command and subcommand with its usage: `--help`, `-h` and `help` print it
 * from here (args.ts finds which node was asked, usage.ts renders it), and errors of usage
 * end with it. A command's code is loaded only when that command runs, so each one costs the
 * start-up of what it uses and no more (`gatehouse mdb addmachine` through a running server
 * loads neither the store nor the schemas).
 */
export const commands: readonly CommandSpec[] = [
  {
    name: 'serve',
    summary: 'run the appliance (SIGHUP re-reads FILE, SIGTERM stops)',
    args: '[--config FILE] [--data DIR]',
    load: () => import('./serve.js').then((m) => m.serve),
  },
  {
    name: 'check-config',
    summary: 'validate a configuration file without starting (errors as file:line: reason)',
    args: 'FILE',
    load: () => import('./check-config.js').then((m) => m.checkConfig),
  },
  {
    name: 'mdb',
    summary: 'machine database (spec §2.6)',
    common: STORE,
    load: () => import('./mdb.js').then((m) => m.mdb),
    subcommands: [
      {
        name: 'addmachine',
        summary:
          'add a machine (its IP from the pool of its mtype when --ip is absent); --update changes one',
        args: '--hostname H --mac M --aliases A --rfs N --hfs N --mtype T --room R [--ip IP] [--update]',
      },
      { name: 'delmachine', summary: 'delete a machine', args: 'HOSTNAME' },
      {
        name: 'list',
        summary: 'list machines, filtered with the lookups of RPC query',
        args: '[--json] [FIELD=VALUE | FIELD__LOOKUP=VALUE ...]',
      },
      {
        name: 'switch',
        summary: 'switches',
        subcommands: [
          {
            name: 'add',
            summary: 'add a switch',
            args: '--name N --chassis C [--room R] [--rfs N] [--hfs N]',
          },
        ],
      },
      {
        name: 'set',
        summary: 'change a setting, e.g. set allow_self_registration false',
        args: 'KEY VALUE [--type bool|int|str]',
      },
      {
        name: 'import',
        summary: 'import machine records: a JSON array or JSON lines',
        args: 'FILE [--update]',
      },
    ],
  },
  {
    name: 'udb',
    summary: 'user database (spec §7.6–7.8)',
    common: STORE,
    load: () => import('./udb.js').then((m) => m.udb),
    subcommands: [
      {
        name: 'batchimport',
        summary: 'import users from "first<TAB>last" lines (or logins, or login:password lines)',
        args: '--file PATH [--type user|orga|root] [--pwdlen N] [--logins] [--passwords] [--update] [--ignore]',
      },
      {
        name: 'pwdsheetdata',
        summary: 'print the password sheet data of a group',
        args: '[--type user|orga|root]',
      },
      {
        name: 'jsonimport',
        summary: 'import users from a JSON array, all or nothing',
        args: 'FILE [--type user|orga|root] [--pwdlen N]',
      },
      {
        name: 'usermod',
        summary: "change a user's SSH public key or password",
        args: 'LOGIN [--ssh-pubkey-file FILE] [--password PASSWORD]',
      },
    ],
  },
  {
    name: 'zone',
    summary: 'DNS zones as the server builds them from the store (read-only)',
    common: STORE,
    load: () => import('./zone.js').then((m) => m.zone),
    subcommands: [
      {
        name: 'export',
        summary: 'print a zone as an RFC 1035 master file',
        args: 'NAME [--view normal|alien]',
      },
      { name: 'list', summary: 'the served zones with their serials' },
    ],
  },
  {
    name: 'leases',
    summary: 'DHCP leases of the alien pool (without --all, rows expired over a day ago are hidden)',
    args: '[--json] [--all]',
    common: STORE,
    load: () => import('./leases.js').then((m) => m.leases),
  },
  {
    name: 'boot',
    summary: "boot progress of every machine, by room and phase, from the running server's memory",
    common: STORE,
    load: () => import('./boot.js').then((m) => m.boot),
    subcommands: [
      {
        name: 'status',
        summary: 'machines in each phase (DHCP PXE, TFTP done, iPXE DHCP, boot script) by room',
        args: '[--json]',
      },
    ],
  },
  {
    name: 'ha',
    summary: 'the hot-standby pair: role, term, replication position and lag (docs/ha.md)',
    common: '[--config FILE] [--data DIR] [--server HOST:PORT]',
    load: () => import('./ha.js').then((m) => m.ha),
    subcommands: [
      { name: 'status', summary: "this gateway's HA state", args: '[--json]' },
      {
        name: 'notify',
        summary: "keepalived's notify hook: make the server re-check its role now",
        args: 'MASTER|BACKUP|FAULT|STOP',
      },
    ],
  },
  {
    name: 'lldp',
    summary: "LLDP neighbours, from the running server's memory",
    common: STORE,
    load: () => import('./lldp.js').then((m) => m.lldp),
    subcommands: [
      { name: 'neighbours', aliases: ['neighbors'], summary: 'the neighbour table', args: '[--json]' },
      {
        name: 'switch',
        summary: 'record a neighbour as a switch in MDB',
        args: 'CHASSIS [--name N] [--rfs N] [--hfs N] [--room R]',
      },
    ],
  },
  {
    name: 'fw',
    summary: 'firewall: the nftables table and its presence-driven allowed set',
    common: STORE,
    load: () => import('./fw.js').then((m) => m.fw),
    subcommands: [
      { name: 'up', summary: 're-create the table (through the running server when there is one)' },
      { name: 'down', summary: 'remove the table (other tables untouched)' },
      {
        name: 'status',
        summary: "the kernel's table compared with the plan; exit 1 if it differs",
        args: '[--json]',
      },
      { name: 'contest', summary: 'switch contest mode (which groups may go out)', args: 'on|off' },
    ],
  },
  {
    name: 'presence',
    summary: 'presence client, run on contestant machines (spec §9.4–9.5)',
    common: '[--url URL] [--secret S | --secret-file FILE] [--host-header NAME] [--debug]',
    notes:
      'env: GATEHOUSE_PRESENCE_URL, GATEHOUSE_PRESENCE_SECRET, GATEHOUSE_PRESENCE_SECRET_FILE,\n     GATEHOUSE_PRESENCE_HOST, GATEHOUSE_PRESENCE_HOSTNAME',
    load: () => import('./presence.js').then((m) => m.presence),
    subcommands: [
      {
        name: 'heartbeat',
        summary: 'the heartbeat daemon: tells presencesync who is logged in here',
        args: '[--interval S | --timeout S] [--hostname H] [--who CMD] [--id CMD]',
      },
      {
        name: 'fake',
        summary: 'a heartbeat for LOGIN on HOSTNAME every few seconds',
        args: 'LOGIN HOSTNAME [--every S]',
      },
      {
        name: 'login',
        summary:
          'ask presencesync whether USER may log in (exit 0 allowed, 1 refused with the reason, 3 unreachable)',
        args: 'USER [HOSTNAME]',
      },
      {
        name: 'logout',
        summary: 'tell presencesync USER logged out (same exit statuses)',
        args: 'USER [HOSTNAME]',
      },
    ],
  },
  {
    name: 'version',
    summary: 'print the version',
    load: async () => async (_argv, io) => {
      const { VERSION } = await import('../version.js');
      io.out(VERSION);
      return 0;
    },
  },
  {
    name: 'help',
    summary: 'every command, or the usage of one (also: gatehouse COMMAND --help)',
    args: '[COMMAND [SUBCOMMAND]]',
  },
];
