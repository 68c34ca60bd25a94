import fs from 'node:fs';
import path from 'node:path';

/**
 * `<dataDir>/gatehouse.pid` tells CLI commands that a server owns this data directory and where
 * its HTTP API listens, so they go through it instead of writing the store behind its back.
 */
export interface ServerLock {
  pid: number;
  http: string;
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'gatehouse.pid');
}

export function writeServerLock(dataDir: string, lock: ServerLock): void {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(lockPath(dataDir), JSON.stringify(lock) + '\n');
}

export function removeServerLock(dataDir: string, pid: number): void {
  const current = readServerLock(dataDir);
  if (current?.pid === pid) fs.rmSync(lockPath(dataDir), { force: true });
}

/** The running server's lock, or undefined when none (a stale file of a dead pid is ignored). */
export function readServerLock(dataDir: string): ServerLock | undefined {
  let lock: ServerLock;
  try {
    lock = JSON.parse(fs.readFileSync(lockPath(dataDir), 'utf8')) as ServerLock;
  } catch {
    return undefined;
  }
  try {
    process.kill(lock.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  return lock;
}
