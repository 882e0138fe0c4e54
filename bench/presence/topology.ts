/**
 * Who is whose contact in the presence benchmark: user i (named u<i>) has
 * subscription `both` with the K users nearest to it on a ring of N — K/2 on
 * each side (a circulant graph). Every user then has exactly K mutual
 * contacts whatever N is (teams of K+1 would leave a short last team unless
 * K+1 divides N), and every contact pair is mutual. A receiver's contacts are
 * numbered 0..K-1 ("slots"), so per-pair counters are flat typed arrays.
 */

export const DOMAIN = 'localhost';
export const PASSWORD = 'bench-password';
export const GROUP = 'Colleagues';

export const userName = (i: number): string => `u${i}`;

/** The user index in a JID such as `u12@localhost/r`, or -1. */
export function indexOfJid(jid: string): number {
  if (jid.charCodeAt(0) !== 117 /* u */) return -1;
  let n = 0;
  let i = 1;
  for (; i < jid.length; i++) {
    const c = jid.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return i > 1 && jid.charCodeAt(i) === 64 /* @ */ ? n : -1;
}

export class Ring {
  readonly half: number;
  constructor(readonly n: number, readonly k: number) {
    if (k % 2 !== 0 || k < 2) throw new Error(`K must be even and at least 2, not ${k}`);
    if (n < k + 1) throw new Error(`N (${n}) must exceed K (${k})`);
    this.half = k / 2;
  }

  /** The K contacts of user i, in slot order. */
  contacts(i: number): number[] {
    const out: number[] = [];
    for (let d = 1; d <= this.half; d++) out.push((i + d) % this.n);
    for (let d = 1; d <= this.half; d++) out.push((i - d + this.n) % this.n);
    return out;
  }

  /** Which of `of`'s contacts `who` is (0..K-1), or -1 when it is not one. */
  slot(of: number, who: number): number {
    const d = (who - of + this.n) % this.n;
    if (d >= 1 && d <= this.half) return d - 1;
    const back = this.n - d;
    if (back >= 1 && back <= this.half) return this.half + back - 1;
    return -1;
  }

  /** Directed contact pairs (receiver, sender): N × K. */
  get pairs(): number { return this.n * this.k; }
}
