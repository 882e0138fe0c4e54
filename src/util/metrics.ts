/**
 * A small Prometheus text-format registry: counters and gauges, no labels
 * beyond a fixed set per metric. Enough for /metrics without a dependency.
 */
type Labels = Record<string, string>;

interface Metric { name: string; help: string; type: 'counter' | 'gauge'; values: Map<string, number>; collect?: () => number }

export class Metrics {
  private metrics = new Map<string, Metric>();

  counter(name: string, help: string): (by?: number, labels?: Labels) => void {
    const m = this.define(name, help, 'counter');
    return (by = 1, labels) => { const k = labelKey(labels); m.values.set(k, (m.values.get(k) ?? 0) + by); };
  }

  /** A gauge whose value is read at scrape time. */
  gauge(name: string, help: string, collect: () => number): void {
    const m = this.define(name, help, 'gauge');
    m.collect = collect;
  }

  value(name: string, labels?: Labels): number {
    const m = this.metrics.get(name);
    if (!m) return 0;
    return m.collect ? m.collect() : m.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
      if (m.collect) out.push(`${m.name} ${m.collect()}`);
      else if (m.values.size === 0) out.push(`${m.name} 0`);
      else for (const [k, v] of m.values) out.push(`${m.name}${k} ${v}`);
    }
    return out.join('\n') + '\n';
  }

  private define(name: string, help: string, type: Metric['type']): Metric {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`);
    let m = this.metrics.get(name);
    if (!m) { m = { name, help, type, values: new Map() }; this.metrics.set(name, m); }
    return m;
  }
}

function labelKey(labels?: Labels): string {
  if (!labels) return '';
  const parts = Object.keys(labels).sort().map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
