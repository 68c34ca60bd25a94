/**
 * One shared timer for thousands of transfers. Each item sits in at most one bucket (a tick of
 * `tickMs`); moving its deadline later costs nothing (the bucket re-files it when it comes due),
 * moving it earlier moves it. A boot storm of 1000 transfers therefore costs one interval timer,
 * not 1000 timers re-armed on every ACK.
 */

export interface WheelItem {
  /** Absolute time (ms) at which the item is due; +Infinity = not scheduled. */
  deadline: number;
  /** Bucket the item is filed in, -1 if none. Owned by the wheel. */
  wheelTick: number;
}

export class TimerWheel<T extends WheelItem> {
  private readonly buckets = new Map<number, Set<T>>();
  private lastTick: number;
  private count = 0;

  constructor(
    private readonly tickMs: number,
    now: number,
  ) {
    this.lastTick = Math.floor(now / tickMs);
  }

  get size(): number {
    return this.count;
  }

  /** Files the item for its current deadline (call after changing `deadline`). */
  schedule(item: T): void {
    if (!Number.isFinite(item.deadline)) {
      this.remove(item);
      return;
    }
    // Never file in a tick already processed, or the item would wait for a full scan.
    const tick = Math.max(Math.ceil(item.deadline / this.tickMs), this.lastTick + 1);
    if (item.wheelTick !== -1 && item.wheelTick <= tick) return;
    this.remove(item);
    let bucket = this.buckets.get(tick);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(tick, bucket);
    }
    bucket.add(item);
    item.wheelTick = tick;
    this.count++;
  }

  remove(item: T): void {
    if (item.wheelTick === -1) return;
    const bucket = this.buckets.get(item.wheelTick);
    if (bucket?.delete(item)) {
      this.count--;
      if (bucket.size === 0) this.buckets.delete(item.wheelTick);
    }
    item.wheelTick = -1;
  }

  /** Calls `fire` for every item due at `now`; items whose deadline moved later are re-filed. */
  advance(now: number, fire: (item: T) => void): void {
    const target = Math.floor(now / this.tickMs);
    if (target <= this.lastTick) return;
    // After a long stall, walking every tick would be slower than visiting the few buckets.
    const ticks =
      target - this.lastTick > this.buckets.size
        ? [...this.buckets.keys()].filter((k) => k <= target).sort((a, b) => a - b)
        : range(this.lastTick + 1, target);
    this.lastTick = target;
    for (const tick of ticks) {
      const bucket = this.buckets.get(tick);
      if (!bucket) continue;
      this.buckets.delete(tick);
      for (const item of bucket) {
        this.count--;
        item.wheelTick = -1;
        if (item.deadline <= now) fire(item);
        else this.schedule(item);
      }
    }
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
