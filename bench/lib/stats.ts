/** Percentiles and table formatting. */

/** The p-th percentile (0..100) by nearest rank; NaN for no samples. Sorts `xs` in place. */
export function percentile(xs: number[] | Float64Array, p: number): number {
  if (xs.length === 0) return NaN;
  xs.sort((a, b) => a - b);
  const rank = Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1));
  return xs[rank];
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const ms = (n: number): string => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) : '–');
export const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);
export const kib = (bytes: number): string => (bytes / 1024).toFixed(1);

export interface Table { head: string[]; rows: string[][] }

/** A fixed-width table for the terminal; columns after the first are right-aligned. */
export function textTable(t: Table): string {
  const w = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(t.head), w.map((n) => '-'.repeat(n)).join('  '), ...t.rows.map(line)].join('\n');
}

export function markdownTable(t: Table): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(t.head), `|${t.head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...t.rows.map(line)].join('\n');
}
