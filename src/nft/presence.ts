import type { Service } from '../service.js';

/**
 * What the firewall needs from presence: current sessions (login → hostname) and a change
 * notification. The presencesync service satisfies it; tests pass a fake.
 */
export interface PresenceSource {
  sessions(): ReadonlyMap<string, string>;
  /** Subscribes; returns the unsubscribe function. */
  onChange(fn: () => void): () => void;
}

/** A started service that can serve as presence source (duck-typed: no import of its module). */
export function presenceAmong(services: readonly Service[]): PresenceSource | undefined {
  for (const s of services) {
    const c = s as unknown as Partial<PresenceSource>;
    if (typeof c.sessions === 'function' && typeof c.onChange === 'function') return c as PresenceSource;
  }
  return undefined;
}

export const noPresence: PresenceSource = {
  sessions: () => new Map(),
  onChange: () => () => {},
};
