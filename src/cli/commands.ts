import { fwCommand } from './fw.js';
import { haCommand } from './ha.js';
import type { CommandGroup } from './io.js';
import { leasesCommand } from './leases.js';
import { lldpCommand } from './lldp.js';
import { mdbCommand } from './mdb.js';
import { presenceCommand } from './presence.js';
import { checkConfigCommand, serveCommand } from './serve.js';
import { udbCommand } from './udb.js';
import { zoneCommand } from './zone.js';

/** Every `gatehouse` command group; one file per group, one line here each. */
export const commandGroups: CommandGroup[] = [serveCommand, checkConfigCommand, mdbCommand, lldpCommand, udbCommand, zoneCommand, fwCommand, presenceCommand, leasesCommand, haCommand];
