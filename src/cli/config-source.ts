import fs from 'node:fs';
import type { GatehouseConfig } from '../config/index.js';
import { DEFAULT_ADMIN_TOKEN, DEFAULT_DATA_DIR } from '../config/defaults.js';
import { type ParsedArgs, flagString } from './args.js';
import { type QuickConfig, quickConfig } from './quick-config.js';
import { readServerLock } from './server-lock.js';

/** Where a command's configuration comes from: `--config FILE` and `--data DIR`. */
export interface ConfigSource {
  file: string | undefined;
  dataDir: string | undefined;
}

export function configSource(args: ParsedArgs): ConfigSource {
  return { file: flagString(args, 'config'), dataDir: flagString(args, 'data') };
}

/**
 * The validated configuration: the file, else the embedded defaults, with `--data` on top.
 * The schemas are loaded here, on first use, so commands that only talk to a running server
 * never pay for them.
 */
export async function loadConfig(source: ConfigSource): Promise<GatehouseConfig> {
  const { defaultConfig, loadConfigFile } = await import('../config/index.js');
  const config = source.file ? loadConfigFile(source.file) : defaultConfig();
  if (source.dataDir) config.dataDir = source.dataDir;
  return config;
}

/** The data directory, the server that owns it if one runs, and the token its admin API takes. */
export interface ServerLocation {
  dataDir: string;
  /** host:port of the running server's HTTP API; undefined when no server owns dataDir. */
  http: string | undefined;
  adminToken: string;
}

/**
 * The server that owns the configured data directory, if one runs. Only `dataDir` and
 * `secrets.adminToken` are needed, so they are read with quick-config.ts, without the YAML
 * parser and the schemas (the server validated its configuration when it started). A file the
 * quick reading does not take goes through `loadConfig`, whose errors name the line.
 */
export async function locateServer(source: ConfigSource): Promise<ServerLocation> {
  let dataDir = source.dataDir;
  let adminToken = DEFAULT_ADMIN_TOKEN;
  if (source.file) {
    const raw = quickRead(source.file);
    if (raw === undefined) {
      const config = await loadConfig(source);
      dataDir = config.dataDir;
      adminToken = config.secrets.adminToken;
    } else {
      dataDir ??= raw.dataDir;
      adminToken = raw.adminToken ?? adminToken;
    }
  }
  dataDir ??= DEFAULT_DATA_DIR;
  return { dataDir, http: readServerLock(dataDir)?.http, adminToken };
}

function quickRead(file: string): QuickConfig | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const quick = quickConfig(text);
  if (quick?.adminToken === '') return undefined;
  return quick;
}
