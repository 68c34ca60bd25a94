import { dhcpMigrations } from './dhcp/lease-store.js';
import { dnsMigrations } from './dns/serials.js';
import { mdbMigrations } from './mdb/migrations.js';
import type { Migration } from './store/index.js';
import { udbMigrations } from './udb/migrations.js';

/**
 * Every store migration, in application order. Each module owns its migrations (ids prefixed
 * with the module name) and adds them here; an applied id is never edited.
 */
export const allMigrations: Migration[] = [...mdbMigrations, ...udbMigrations, ...dnsMigrations, ...dhcpMigrations];
