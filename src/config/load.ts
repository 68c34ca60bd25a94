import fs from 'node:fs';
import { LineCounter, isNode, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, GatehouseError } from '../errors.js';
import { type GatehouseConfig, type GatehouseConfigInput, configSchema } from './schema.js';

/** Embedded defaults: what `gatehouse serve` runs with when no file is given. */
export function defaultConfig(overrides: GatehouseConfigInput = {}): GatehouseConfig {
  return configSchema.parse(overrides);
}

/**
 * Parses and validates YAML text. Every problem is reported as `file:line: reason`, the line
 * being the one of the offending key or value.
 */
export function parseConfig(text: string, file: string): GatehouseConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const line = lineCounter.linePos(err.pos[0]).line;
    throw new ConfigError(file, line, `YAML syntax error: ${err.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, 1, 'the configuration must be a mapping of sections (dns:, dhcp:, …)');
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  throw toConfigError(result.error, file, (path) => {
    // Walk up the path until a node with a position exists (a missing key has none).
    for (let i = path.length; i >= 0; i--) {
      const node = doc.getIn(path.slice(0, i), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      if (i > 0) {
        const parent = doc.getIn(path.slice(0, i - 1), true);
        if (parent && typeof parent === 'object' && 'items' in parent) {
          const items = (parent as { items: Array<{ key?: unknown }> }).items;
          const pair = items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === path[i - 1]);
          if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
        }
      }
    }
    return undefined;
  });
}

function toConfigError(
  error: z.ZodError,
  file: string,
  lineOf: (path: (string | number)[]) => number | undefined,
): ConfigError {
  const issue = error.issues[0]!;
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  let where = path.join('.');
  let reason = issue.message;
  let linePath = path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    linePath = [...path, key];
    where = [...path, key].join('.');
    reason = `unknown key "${key}"${path.length ? ` in ${path.join('.')}` : ''} (check the spelling; see README "Configuration")`;
    return new ConfigError(file, lineOf(linePath), reason);
  }
  return new ConfigError(file, lineOf(linePath), `${where || '(top level)'}: ${reason}`);
}

export function loadConfigFile(file: string): GatehouseConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new GatehouseError('GH_CONFIG_NOT_FOUND', `${file}: cannot read the configuration file (${(e as Error).message})`);
  }
  return parseConfig(text, file);
}
