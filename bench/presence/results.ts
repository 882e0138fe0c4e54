/** What one benchmark run of a server yields (shared by run.ts and report.ts). */
import type { ProfileSummary } from '../lib/profile.js';
import type { SignInResult, StepResult } from './generator.js';
import type { HeapEntry } from './heap.js';
import type { SettledMemory } from './imp.js';
import type { ServerKind } from './options.js';

export interface StepRow extends StepResult {
  deliveredPerSec: number; offeredPerSec: number;
  serverCpuS: number; redisCpuS: number | null; usPerDelivery: number; usPerDeliveryWithRedis: number | null;
  serverCpuPct: number; genCpuPct: number; othersPct: number; irqPct: number;
  attempt: number; pass: boolean; why: string;
  /** imp only (node --trace-gc): collections during the step, how many were not scavenges, their pauses. */
  gc: { count: number; majors: number; pauseMs: number; maxMs: number } | null;
  /** Run after the highest passing rate was found (latency over the limit, nothing lost). */
  pastLimit: boolean;
  /** Times this step was measured again because other processes took over 25 % of a core (the last measurement is kept). */
  reruns?: number;
}

export interface ServerRun {
  server: ServerKind; n: number; k: number; mech: string;
  provision: { usersMs: number; rostersMs: number; filesMs?: number };
  signin: (SignInResult & { serverCpuS: number; perSec: number; redisCpuS: number | null; gc: StepRow['gc']; othersPct: number; irqPct: number }) | null;
  mem: { rssStart: number; rssSignedIn: number; redisProvisioned: number | null; redisSignedIn: number | null } | null;
  /** imp only: the node's memory after full GCs with everyone signed in, and Redis bytes per user by kind of key. */
  heap: SettledMemory | null;
  /** With --heap-snapshot: the node's heap after sign-in, by kind of object. */
  heapTop: { total: number; entries: HeapEntry[] } | null;
  redisKeys: Array<{ key: string; bytes: number }> | null;
  steps: StepRow[];
  commandstats: Array<{ cmd: string; calls: number; usec: number; perCall: number }> | null;
  /** imp: Redis commandstats over the sign-in (older results files lack it). */
  signinCommandstats?: Array<{ cmd: string; calls: number; usec: number; perCall: number }> | null;
  fdLimits: { server: number; generator: number };
  error: string | null;
  notes: string[];
}

export interface ProfileRun { k: number; rate: number; step: StepRow | null; summary: ProfileSummary | null; signin: ProfileSummary | null; signinMs: number | null; error: string | null }

/**
 * The highest rate delivered by a passing step (p99 within the limit,
 * nothing lost or duplicated, first attempt or retry), wherever it came in
 * the run: on a shared 2-core machine a lower step can fail on a
 * neighbour's burst while a higher one passes. firstFailure() tells the rest.
 */
export function best(run: ServerRun): StepRow | null {
  const ok = run.steps.filter((s) => s.pass);
  return ok.length ? ok.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a)) : null;
}

/** The first offered rate that failed on both attempts (where the search for the limit stopped), or null. */
export function firstFailure(run: ServerRun): StepRow | null {
  for (let i = 1; i < run.steps.length; i++) {
    const a = run.steps[i - 1]!;
    const b = run.steps[i]!;
    if (!a.pass && !b.pass && b.attempt === 2 && Math.round(a.offeredPerSec) === Math.round(b.offeredPerSec)) return b;
  }
  return null;
}

