import { type OperationArgs, type OperationOutput, registerOperation } from '../cli/operations.js';
import { ValidationError } from '../errors.js';
import { ModelValidationError } from './django-fields.js';
import { MdbError } from './errors.js';
import { deleteMachine, listMachines, queryMachines, upsertMachine } from './machines.js';
import { MACHINE_FIELDS, type Machine } from './model.js';
import { DryRunTx } from './overlay-tx.js';
import { setSetting } from './settings.js';
import { createSwitch } from './switches.js';
import { T } from './tables.js';

/**
 * The `gatehouse mdb …` operations (spec §2.6). They run inside the server when one owns the
 * data directory (so mdbsync subscribers see each change) and directly on the store otherwise.
 */
const ADDMACHINE_REQUIRED = ['hostname', 'mac', 'aliases', 'rfs', 'hfs', 'mtype', 'room'] as const;

function flag(args: OperationArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Domain errors become a one-line message naming the fields. */
function explain(e: unknown): never {
  if (e instanceof ModelValidationError)
    throw new ValidationError(`invalid machine: ${e.pyMessage}`, { fields: e.fields });
  throw e;
}

export function describeMachine(m: Machine): string {
  return [m.hostname, m.ip, m.mac, m.mtype, m.room, `rfs=${m.rfs}`, `hfs=${m.hfs}`, m.aliases || '-'].join(
    '\t',
  );
}

registerOperation({
  name: 'mdb-addmachine',
  async run(ctx, args, out) {
    const update = args.flags.update === true;
    const input: Record<string, unknown> = {};
    for (const f of [...ADDMACHINE_REQUIRED, 'ip'] as const) {
      const v = flag(args, f);
      if (v !== undefined) input[f] = v;
    }
    const hostname = flag(args, 'hostname');
    if (hostname === undefined) throw new ValidationError('addmachine needs --hostname');
    const exists = ctx.store.read((tx) => tx.get(T.machines, hostname) !== undefined);
    if (!update || !exists) {
      const missing = ADDMACHINE_REQUIRED.filter((f) => input[f] === undefined);
      if (missing.length > 0) {
        throw new ValidationError(
          `addmachine needs ${missing.map((m) => `--${m}`).join(', ')} to create a machine (use --aliases '' for none)`,
        );
      }
    }
    if (!update && exists) {
      explain(new ModelValidationError({ hostname: ['Machine with this Host name already exists.'] }));
    }
    const { machine, created } = await ctx.store.write((tx) => upsertMachine(tx, input)).catch(explain);
    out.out(
      `${created ? 'Added' : 'Updated'} machine ${machine.hostname} (ip ${machine.ip}, mac ${machine.mac})`,
    );
    return 0;
  },
});

registerOperation({
  name: 'mdb-delmachine',
  async run(ctx, args, out) {
    const hostname = args.positionals[0];
    if (!hostname || args.positionals.length > 1) throw new ValidationError('usage: delmachine HOSTNAME');
    const m = await ctx.store.write((tx) => deleteMachine(tx, hostname));
    out.out(`Deleted machine ${m.hostname} (ip ${m.ip}, mac ${m.mac})`);
    return 0;
  },
});

registerOperation({
  name: 'mdb-list',
  async run(ctx, args, out) {
    const filters: Record<string, string> = {};
    for (const p of args.positionals) {
      const eq = p.indexOf('=');
      if (eq <= 0)
        throw new ValidationError(`filter "${p}" must look like field=value or field__lookup=value`);
      filters[p.slice(0, eq)] = p.slice(eq + 1);
    }
    let machines: Machine[];
    try {
      machines = ctx.store.read((tx) =>
        args.positionals.length ? queryMachines(tx, filters) : listMachines(tx),
      );
    } catch (e) {
      if (e instanceof MdbError) throw new ValidationError(e.message);
      throw e;
    }
    if (args.flags.json === true) out.out(JSON.stringify(machines, null, 2));
    else for (const m of machines) out.out(describeMachine(m));
    return 0;
  },
});

registerOperation({
  name: 'mdb-switch-add',
  async run(ctx, args, out) {
    const input: Record<string, unknown> = {};
    for (const f of ['name', 'chassis', 'room', 'rfs', 'hfs']) {
      const v = flag(args, f);
      if (v !== undefined) input[f] = v;
    }
    if (input.name === undefined || input.chassis === undefined) {
      throw new ValidationError('switch add needs --name and --chassis');
    }
    const s = await ctx.store
      .write((tx) => createSwitch(tx, input))
      .catch((e: unknown) => {
        if (e instanceof ModelValidationError)
          throw new ValidationError(`invalid switch: ${e.pyMessage}`, { fields: e.fields });
        throw e;
      });
    out.out(`Added switch ${s.name} (chassis ${s.chassis}, room ${s.room}, rfs ${s.rfs}, hfs ${s.hfs})`);
    return 0;
  },
});

/** Parses VALUE for `mdb set`: booleans and integers by default, `--type` to force. */
export function parseSettingValue(text: string, type?: string): boolean | number | string {
  const lower = text.toLowerCase();
  const asBool = ['true', 'yes', 'on', '1'].includes(lower)
    ? true
    : ['false', 'no', 'off', '0'].includes(lower)
      ? false
      : undefined;
  if (type === 'bool' || (type === undefined && asBool !== undefined && !/^\d+$/.test(text))) {
    if (asBool === undefined) throw new ValidationError(`"${text}" is not a boolean (use true/false)`);
    return asBool;
  }
  if (type === 'int' || (type === undefined && /^-?\d+$/.test(text))) {
    if (!/^-?\d+$/.test(text)) throw new ValidationError(`"${text}" is not an integer`);
    return Number(text);
  }
  if (type !== undefined && type !== 'str')
    throw new ValidationError(`--type must be bool, int or str, not "${type}"`);
  return text;
}

registerOperation({
  name: 'mdb-set',
  async run(ctx, args, out) {
    const [key, value, ...rest] = args.positionals;
    if (key === undefined || value === undefined || rest.length > 0)
      throw new ValidationError('usage: set KEY VALUE [--type bool|int|str]');
    const typed = parseSettingValue(value, flag(args, 'type'));
    const s = await ctx.store
      .write((tx) => setSetting(tx, key, typed))
      .catch((e: unknown) => {
        if (e instanceof ModelValidationError)
          throw new ValidationError(`invalid setting: ${e.pyMessage}`, { fields: e.fields });
        throw e;
      });
    out.out(`Set ${s.key} = ${JSON.stringify(typed)} (setting id ${s.id})`);
    return 0;
  },
});

/** Parses an import file: a JSON array of machine objects, or one JSON object per line. */
export function parseMachineFile(text: string): Array<Record<string, unknown>> {
  const trimmed = text.trim();
  let rows: unknown[];
  if (trimmed.startsWith('[')) {
    try {
      rows = JSON.parse(trimmed) as unknown[];
    } catch (e) {
      throw new ValidationError(`the import file is not a valid JSON array: ${(e as Error).message}`);
    }
  } else {
    rows = [];
    trimmed.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      try {
        rows.push(JSON.parse(line));
      } catch {
        throw new ValidationError(`line ${i + 1} of the import file is not valid JSON`);
      }
    });
  }
  rows.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r))
      throw new ValidationError(`record #${i + 1} is not a JSON object`);
    const unknown = Object.keys(r).filter((k) => !(MACHINE_FIELDS as readonly string[]).includes(k));
    if (unknown.length)
      throw new ValidationError(`record #${i + 1} has unknown field(s) ${unknown.join(', ')}`);
  });
  return rows as Array<Record<string, unknown>>;
}

const BATCH = 500;

/**
 * Bulk import: every record is first applied to a dry-run transaction (so a bad record stops
 * the import before anything is written), then written in batches of 500 with progress.
 */
export async function importMachines(
  ctx: { store: import('../store/index.js').Store },
  rows: Array<Record<string, unknown>>,
  update: boolean,
  out: OperationOutput,
): Promise<{ created: number; updated: number }> {
  ctx.store.read((tx) => {
    const dry = new DryRunTx(tx);
    rows.forEach((r, i) => {
      try {
        if (!update && typeof r.hostname === 'string' && dry.has(T.machines, r.hostname)) {
          throw new ModelValidationError({ hostname: ['Machine with this Host name already exists.'] });
        }
        upsertMachine(dry, r);
      } catch (e) {
        const why = e instanceof ModelValidationError ? e.pyMessage : (e as Error).message;
        throw new ValidationError(`record #${i + 1} (${String(r.hostname)}): ${why}; nothing was imported`);
      }
    });
  });
  let created = 0;
  let updated = 0;
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    const res = await ctx.store.write((tx) => batch.map((r) => upsertMachine(tx, r).created));
    for (const c of res) c ? created++ : updated++;
    out.progress(Math.min(i + BATCH, rows.length), rows.length, 'machines');
  }
  return { created, updated };
}

registerOperation({
  name: 'mdb-import',
  async run(ctx, args, out) {
    const text = args.files.input;
    if (text === undefined)
      throw new ValidationError('usage: import FILE (JSON array or one JSON object per line)');
    const rows = parseMachineFile(text);
    const { created, updated } = await importMachines(ctx, rows, args.flags.update === true, out);
    out.out(`Imported ${rows.length} machines (${created} added, ${updated} updated)`);
    return 0;
  },
});
