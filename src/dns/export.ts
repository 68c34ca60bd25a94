import type { GatehouseConfig } from '../config/index.js';
import { machinesTable } from '../mdb/model.js';
import type { Store } from '../store/index.js';
import { nextSerial, readSerialRows, serialGreater } from './serials.js';
import { buildZones } from './zone-builder.js';
import type { Zone } from './zone.js';

export interface ExportedZone extends Zone {
  /** False when the content differs from what the stored serial was given to (server not running). */
  published: boolean;
}

/**
 * The zones as the server would serve them, read from the store without writing: the stored
 * serial when the content matches it, otherwise the serial the server will assign at its next
 * start (stored + 1 after a clean stop, past the reservation after a crash, 1 for a new zone).
 */
export function zonesFromStore(
  store: Store,
  config: GatehouseConfig,
): { zones: ExportedZone[]; warnings: string[] } {
  const machines = store.read((tx) => tx.values(machinesTable(store)));
  const { zones, warnings } = buildZones({ machines, network: config.network, dns: config.dns });
  const rows = store.read((tx) =>
    readSerialRows(
      tx,
      zones.map((z) => z.id),
    ),
  );
  return {
    warnings,
    zones: zones.map((z) => {
      const row = rows.get(z.id);
      if (row && row.hash === z.hash) return { ...z, serial: row.serial, published: true };
      // What the server's next start assigns (serials.ts planSerials with afterRestart).
      const floor =
        row?.reserved !== undefined && serialGreater(row.reserved, row.serial) ? row.reserved : row?.serial;
      return { ...z, serial: floor === undefined ? 1 : nextSerial(floor), published: false };
    }),
  };
}
