import { rpcTypeError } from './errors.js';

/**
 * Binds `*args, **kwargs` to a Python-style signature and reports mistakes with the
 * `TypeError` texts CPython uses, so an RPC caller sees the same errors as with the original
 * server (spec §1.3 step 4). Counts include `self`, as the original methods are bound methods.
 */
export interface PySignature {
  name: string;
  /** Named parameters in order (after self). */
  params: readonly string[];
  /** How many trailing params have defaults. */
  defaults?: Record<string, unknown>;
  /** Accepts **kwargs: unknown keyword names are collected instead of refused. */
  varKwargs?: boolean;
}

export interface BoundArgs {
  values: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export function bindArgs(sig: PySignature, args: unknown[], kwargs: Record<string, unknown>): BoundArgs {
  const { name, params } = sig;
  const defaults = sig.defaults ?? {};
  const values: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  if (args.length > params.length) {
    const required = params.filter((p) => !(p in defaults)).length + 1;
    const max = params.length + 1;
    const takes =
      required === max
        ? `${max} positional argument${max === 1 ? '' : 's'}`
        : `from ${required} to ${max} positional arguments`;
    const given = args.length + 1;
    throw rpcTypeError(`${name}() takes ${takes} but ${given} ${given === 1 ? 'was' : 'were'} given`);
  }
  args.forEach((a, i) => {
    values[params[i]!] = a;
  });
  for (const [k, v] of Object.entries(kwargs)) {
    if (params.includes(k)) {
      if (k in values) throw rpcTypeError(`${name}() got multiple values for argument '${k}'`);
      values[k] = v;
    } else if (sig.varKwargs) {
      extra[k] = v;
    } else {
      throw rpcTypeError(`${name}() got an unexpected keyword argument '${k}'`);
    }
  }
  const missing = params.filter((p) => !(p in values) && !(p in defaults));
  if (missing.length > 0) {
    const quoted = missing.map((m) => `'${m}'`);
    const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
    throw rpcTypeError(
      `${name}() missing ${missing.length} required positional argument${missing.length === 1 ? '' : 's'}: ${list}`,
    );
  }
  for (const [k, v] of Object.entries(defaults)) if (!(k in values)) values[k] = v;
  return { values, extra };
}
