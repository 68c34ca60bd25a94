import { typeName } from './constants.js';
import { relativeName } from './names.js';
import { type RData, quoteCharString } from './records.js';
import { type Zone, presentationOrder, zoneSoa } from './zone.js';

/**
 * RFC 1035 §5 master file of a zone, in the layout of the original generated files (spec
 * §4.2): `$ORIGIN`, `$TTL`, the SOA, then one record per line, tab-separated, owners relative
 * to the origin. `named-checkzone <zone> <file>` accepts it.
 */
export function renderMasterFile(zone: Zone, header: string[] = []): string {
  const origin = zone.name;
  const rel = (n: string) => relativeName(n, origin);
  const lines: string[] = [...header.map((h) => `; ${h}`)];
  lines.push(`$ORIGIN ${origin === '' ? '.' : origin + '.'}`);
  lines.push(`$TTL ${zone.ttl}`);
  const soa = zoneSoa(zone).data;
  if (soa.kind === 'soa') {
    lines.push(
      `@\tIN\tSOA\t${abs(soa.mname)} ${abs(soa.rname)} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}`,
    );
  }
  for (const rr of presentationOrder(zone.records)) {
    const ttl = rr.ttl === zone.ttl ? '' : `${rr.ttl}\t`;
    lines.push(`${rel(rr.name)}\t${ttl}IN\t${typeName(rr.type)}\t${rdata(rr.data)}`);
  }
  return lines.join('\n') + '\n';
}

function abs(name: string): string {
  return name === '' ? '.' : `${name}.`;
}

/** RDATA with absolute names, so the file does not depend on $ORIGIN for targets. */
function rdata(d: RData): string {
  switch (d.kind) {
    case 'a':
    case 'aaaa':
      return d.address;
    case 'name':
      return abs(d.target);
    case 'soa':
      return `${abs(d.mname)} ${abs(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'mx':
      return `${d.preference} ${abs(d.exchange)}`;
    case 'srv':
      return `${d.priority} ${d.weight} ${d.port} ${abs(d.target)}`;
    case 'txt':
      return d.strings.map(quoteCharString).join(' ');
    case 'raw':
      return `\\# ${d.bytes.length}${d.bytes.length ? ' ' + d.bytes.toString('hex') : ''}`;
  }
}
