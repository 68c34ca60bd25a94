import { fwCommand } from './fw.js';
import { mdbCommand } from './mdb.js';
import { presenceCommand } from './presence.js';
import type { CommandGroup } from './io.js';
import { leasesCommand } from './leases.js';
import { lldpCommand } from './lldp.js';
import { zoneCommand } from './zone.js';
import { checkConfigCommand, serveCommand } from './serve.js';
import { udbCommand } from './udb.js';

/** Every `gatehouse` command group; one file per group, one line here each. */
export const commandGroups: CommandGroup[] = [serveCommand, checkConfigCommand, mdbCommand, zoneCommand, lldpCommand, fwCommand, udbCommand, presenceCommand, leasesCommand];
