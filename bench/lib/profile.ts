/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function
 * over a time window. Sample timestamps are CLOCK_MONOTONIC microseconds, the
 * clock of process.hrtime in any process on the machine, so the window can be
 * taken from the load generator.
 */
import { readFileSync } from 'node:fs';

interface CpuProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: CpuProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

export interface ProfileEntry { name: string; where: string; selfMs: number; share: number }
export interface ProfileSummary { windowMs: number; sampledMs: number; idleMs: number; busyMs: number; top: ProfileEntry[] }

/** Self time per function between fromUs and toUs (hrtime µs), top `n` of the non-idle time. */
export function summariseProfile(file: string, fromUs: number, toUs: number, root: string, n = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  for (const node of p.nodes) byId.set(node.id, node);
  const self = new Map<string, { name: string; where: string; us: number }>();
  let t = p.startTime;
  let sampled = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    // A sample stands for the time until the next one.
    const dur = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : 0;
    if (t < fromUs || t > toUs || dur <= 0) continue;
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    sampled += dur;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') { idle += dur; continue; }
    const where = url ? `${shorten(url, root)}:${lineNumber + 1}` : '';
    const key = `${functionName}|${where}`;
    const e = self.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    e.us += dur;
    self.set(key, e);
  }
  const busy = sampled - idle;
  const top = [...self.values()].sort((a, b) => b.us - a.us).slice(0, n)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: busy > 0 ? e.us / busy : 0 }));
  return { windowMs: (toUs - fromUs) / 1000, sampledMs: sampled / 1000, idleMs: idle / 1000, busyMs: busy / 1000, top };
}

function shorten(url: string, root: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root + '/')) u = u.slice(root.length + 1);
  return u.replace(/^.*node_modules\//, 'node_modules/');
}
