import fs from 'node:fs';

/**
 * Interface index → name, from /sys/class/net (which `ip netns exec` remounts per namespace).
 * Cached; a miss re-reads at most once per second so a flood of packets from an unknown index
 * cannot turn into a flood of directory reads.
 */
export class InterfaceNames {
  private names = new Map<number, string>();
  private lastRead = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly root = '/sys/class/net',
    private readonly now: () => number = Date.now,
  ) {}

  name(index: number | undefined): string | undefined {
    if (index === undefined) return undefined;
    const hit = this.names.get(index);
    if (hit !== undefined) return hit;
    if (this.now() - this.lastRead < 1000) return undefined;
    this.refresh();
    return this.names.get(index);
  }

  refresh(): void {
    this.lastRead = this.now();
    const next = new Map<number, string>();
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(this.root);
    } catch {
      this.names = next;
      return;
    }
    for (const dev of entries) {
      try {
        const idx = Number(fs.readFileSync(`${this.root}/${dev}/ifindex`, 'utf8').trim());
        if (Number.isInteger(idx)) next.set(idx, dev);
      } catch {
        // the interface went away between readdir and read
      }
    }
    this.names = next;
  }
}
