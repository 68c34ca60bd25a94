import { z } from 'zod';

/** `host:port` or `[v6]:port`; port 0 asks the kernel for a free port (tests). */
export const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080');

export interface HostPort {
  host: string;
  port: number;
}

export function parseListen(s: string): HostPort {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(s.slice(i + 1)) };
}
