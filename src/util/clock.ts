/**
 * The clock port: everything that waits goes through it, so unit tests drive
 * time by hand instead of sleeping.
 */
export interface Timer { cancel(): void }

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  },
};

/** A clock that moves only when `advance()` is called. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void; every?: number }>();
  constructor(start = 0) { this.t = start; }
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return { cancel: () => { this.timers.delete(id); } };
  }
  setInterval(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn, every: Math.max(1, ms) });
    return { cancel: () => { this.timers.delete(id); } };
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1; let next: { at: number; fn: () => void; every?: number } | undefined;
      for (const [id, tm] of this.timers) if (tm.at <= end && (!next || tm.at < next.at)) { next = tm; nextId = id; }
      if (!next) break;
      this.t = next.at;
      if (next.every) next.at += next.every; else this.timers.delete(nextId);
      next.fn();
    }
    this.t = end;
  }
}
