/**
 * The load generator of the presence benchmark: a child process of run.ts,
 * driven over the IPC channel. It holds one PresenceClient per user and
 *
 * - signs every user in (bounded concurrency), each sending initial presence,
 *   counting available presence per (receiver, sender) contact pair — every
 *   pair must see exactly one each way, the self-echo excluded;
 * - runs presence-change steps: at a given rate a random user sends
 *   <presence><show>…</show><status>t=<epoch ms> n=<change></status></presence>
 *   (show toggling away → dnd → xa → chat), and every receipt at a watcher is
 *   timed against the timestamp (same process, same clock) and checked off
 *   per (change, watcher), so losses and duplicates are exact.
 *
 * Messages in: GenConfig, then {cmd:'signin'}, {cmd:'step', ...}, {cmd:'close'}.
 * Each answer is one message back (see the *Result types).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { percentile } from '../lib/stats.js';
import { ScramKeyCache } from '../lib/xmpp-client.js';
import { PresenceClient, type Mech } from './client.js';
import { Ring, userName } from './topology.js';

export interface GenConfig { cmd: 'config'; port: number; n: number; k: number; mech: Mech; password: string; domain: string; concurrency: number; timeoutMs: number }
export interface StepCommand { cmd: 'step'; changesPerSec: number; seconds: number; drainMs: number }
export type GenCommand = GenConfig | { cmd: 'signin' } | StepCommand | { cmd: 'quiet'; ms: number; maxMs: number } | { cmd: 'close' };

export interface SignInResult {
  kind: 'signin';
  ok: number; failed: number; firstError: string | null;
  ms: number; p50: number; p99: number;
  /** Contact pairs (receiver, sender), and how many saw available presence exactly once, never, or more than once. */
  pairs: number; exactlyOne: number; missing: number; duplicatePairs: number; duplicates: number;
  /** Available presence from someone not a contact; unavailable presence seen (probe answers for offline contacts). */
  unexpected: number; unavailable: number;
  settleMs: number; genCpuS: number; fdLimit: number;
  /** hrtime µs (CLOCK_MONOTONIC) of the first connect and the last echo, to cut a server CPU profile to the sign-in. */
  fromUs: number; toUs: number;
}

export interface StepResult {
  kind: 'step';
  changesPerSec: number; changes: number; sendMs: number; k: number;
  expected: number; received: number; lost: number; duplicates: number; unexpected: number; late: number;
  /** From the first send to the last receipt counted. */
  spanMs: number;
  p50: number; p99: number; max: number;
  genCpuS: number; loopDelayP99Ms: number;
  /** hrtime µs (CLOCK_MONOTONIC), to cut a server CPU profile to the step. */
  fromUs: number; toUs: number;
}

export type GenResult = SignInResult | StepResult | { kind: 'ok' } | { kind: 'error'; message: string };

const SHOWS = ['away', 'dnd', 'xa', 'chat'];
const nowEpoch = (): number => performance.timeOrigin + performance.now();
const hrUs = (): number => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cpuS = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

let cfg: GenConfig;
let ring: Ring;
let clients: Array<PresenceClient | null> = [];

// --- sign-in accounting
let phase: 'signin' | 'step' | 'idle' = 'idle';
let pairCount: Uint8Array = new Uint8Array(0);
let unexpectedSignin = 0;
let unavailableSignin = 0;
let lastPresenceAt = 0;
const echoWaiters = new Map<number, () => void>();

// --- step accounting
let seqBase = 0;
let step: { senders: Int32Array; recv: Uint8Array; lat: Float64Array; nLat: number; received: number; dup: number; unexpected: number; late: number; lastAt: number } | null = null;

function onPresence(receiver: number, sender: number, type: string, status: string | null): void {
  lastPresenceAt = performance.now();
  if (sender === receiver) {
    if (type === '') {
      const w = echoWaiters.get(receiver);
      if (w) { echoWaiters.delete(receiver); w(); }
    }
    return;
  }
  if (phase === 'step' && status !== null && status.startsWith('t=')) {
    const s = step!;
    const sp = status.indexOf(' n=');
    const seq = Number(status.slice(sp + 3)) - seqBase;
    if (!(seq >= 0 && seq < s.senders.length)) { s.late++; return; }
    if (s.senders[seq] !== sender) { s.unexpected++; return; }
    const slot = ring.slot(sender, receiver);
    if (slot < 0) { s.unexpected++; return; }
    const at = seq * ring.k + slot;
    if (s.recv[at]++ === 0) {
      s.received++;
      s.lat[s.nLat++] = nowEpoch() - Number(status.slice(2, sp));
      s.lastAt = performance.now();
    } else s.dup++;
    return;
  }
  if (type === 'unavailable') { unavailableSignin++; return; }
  if (type !== '') return;
  const slot = sender < 0 ? -1 : ring.slot(receiver, sender);
  if (slot < 0) { unexpectedSignin++; return; }
  const at = receiver * ring.k + slot;
  if (pairCount[at] < 255) pairCount[at]++;
}

async function signInAll(): Promise<SignInResult> {
  phase = 'signin';
  pairCount = new Uint8Array(ring.pairs);
  const cache = new ScramKeyCache();
  const durations: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  const cpu0 = cpuS();
  const fromUs = hrUs();
  const t0 = performance.now();
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const start = performance.now();
    try {
      const c = await PresenceClient.connectAndBind({
        port: cfg.port, index: i, user: userName(i), password: cfg.password, domain: cfg.domain, resource: 'r',
        mech: cfg.mech, timeoutMs: cfg.timeoutMs, cache, onPresence,
      });
      clients[i] = c;
      const echoed = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => { echoWaiters.delete(i); reject(new Error('no echo of the initial presence')); }, cfg.timeoutMs);
        echoWaiters.set(i, () => { clearTimeout(t); resolve(); });
      });
      c.send('<presence/>');
      await echoed;
      durations.push(performance.now() - start);
    } catch (e) {
      failed++;
      firstError ??= `${userName(i)}: ${(e as Error).message}`;
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.concurrency, cfg.n) }, async () => {
    while (next < cfg.n) await one(next++);
  }));
  const ms = performance.now() - t0;
  const toUs = hrUs();
  // Presence still in flight when the last echo came: wait until 2 s pass without any.
  const s0 = performance.now();
  while (performance.now() - lastPresenceAt < 2000 && performance.now() - s0 < 30000) await sleep(100);
  const settleMs = performance.now() - s0;
  let exactlyOne = 0; let missing = 0; let duplicatePairs = 0; let duplicates = 0;
  for (let r = 0; r < cfg.n; r++) {
    if (!clients[r]) continue;
    for (let slot = 0; slot < ring.k; slot++) {
      const sender = slot < ring.half ? (r + slot + 1) % cfg.n : (r - (slot - ring.half + 1) + cfg.n) % cfg.n;
      if (!clients[sender]) continue; // a pair with a failed sign-in owes nothing
      const c = pairCount[r * ring.k + slot];
      if (c === 1) exactlyOne++;
      else if (c === 0) missing++;
      else { duplicatePairs++; duplicates += c - 1; }
    }
  }
  phase = 'idle';
  return {
    kind: 'signin', ok: cfg.n - failed, failed, firstError, ms, p50: percentile(durations, 50), p99: percentile(durations, 99),
    pairs: exactlyOne + missing + duplicatePairs, exactlyOne, missing, duplicatePairs, duplicates,
    unexpected: unexpectedSignin, unavailable: unavailableSignin, settleMs, genCpuS: cpuS() - cpu0, fdLimit: fdLimit(), fromUs, toUs,
  };
}

async function runStep(cmd: StepCommand): Promise<StepResult> {
  const m = Math.max(1, Math.round(cmd.changesPerSec * cmd.seconds));
  const online: number[] = [];
  for (let i = 0; i < cfg.n; i++) if (clients[i] && !clients[i]!.closed) online.push(i);
  const senders = new Int32Array(m);
  for (let j = 0; j < m; j++) senders[j] = online[Math.floor(Math.random() * online.length)]!;
  step = { senders, recv: new Uint8Array(m * ring.k), lat: new Float64Array(m * ring.k), nLat: 0, received: 0, dup: 0, unexpected: 0, late: 0, lastAt: 0 };
  const shows = new Uint8Array(cfg.n);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = cpuS();
  const fromUs = hrUs();
  const t0 = performance.now();
  phase = 'step';
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(m, Math.floor(((performance.now() - t0) / 1000) * cmd.changesPerSec) + 1);
      while (sent < due) {
        const who = senders[sent]!;
        const show = SHOWS[shows[who]++ % 4];
        clients[who]!.send(`<presence><show>${show}</show><status>t=${nowEpoch().toFixed(3)} n=${seqBase + sent}</status></presence>`);
        sent++;
      }
      if (sent >= m) resolve(); else setTimeout(tick, 2);
    };
    tick();
  });
  const sendMs = performance.now() - t0;
  const expected = m * ring.k;
  const drainEnd = performance.now() + cmd.drainMs;
  while (step.received < expected && performance.now() < drainEnd) await sleep(10);
  // A moment more for duplicates that trail the last expected receipt.
  await sleep(200);
  const toUs = hrUs();
  phase = 'idle';
  loop.disable();
  const s = step;
  step = null;
  seqBase += m;
  const lat = s.lat.subarray(0, s.nLat);
  lat.sort();
  return {
    kind: 'step', changesPerSec: cmd.changesPerSec, changes: m, sendMs, k: ring.k,
    expected, received: s.received, lost: expected - s.received, duplicates: s.dup, unexpected: s.unexpected, late: s.late,
    spanMs: (s.lastAt || performance.now()) - t0,
    p50: percentile(lat, 50), p99: percentile(lat, 99), max: s.nLat ? lat[s.nLat - 1]! : NaN,
    genCpuS: cpuS() - cpu0, loopDelayP99Ms: loop.percentile(99) / 1e6, fromUs, toUs,
  };
}

/** Waits until no presence has arrived for `ms` (at most `maxMs`). */
async function quiet(ms: number, maxMs: number): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - lastPresenceAt < ms && performance.now() - t0 < maxMs) await sleep(50);
}

function fdLimit(): number {
  try {
    return Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? NaN);
  } catch { return NaN; }
}

async function closeAll(): Promise<void> {
  for (const c of clients) c?.close();
  const t0 = performance.now();
  while (clients.some((c) => c && !c.closed) && performance.now() - t0 < 5000) await sleep(50);
  for (const c of clients) c?.destroy();
}

async function handle(msg: GenCommand): Promise<GenResult> {
  switch (msg.cmd) {
    case 'config':
      cfg = msg;
      ring = new Ring(msg.n, msg.k);
      clients = new Array<PresenceClient | null>(msg.n).fill(null);
      return { kind: 'ok' };
    case 'signin': return signInAll();
    case 'step': return runStep(msg);
    case 'quiet': await quiet(msg.ms, msg.maxMs); return { kind: 'ok' };
    case 'close': await closeAll(); return { kind: 'ok' };
  }
}

if (!process.send) {
  console.error('generator.js is started by bench/presence/run.js (it needs an IPC channel)');
  process.exit(2);
}
let queue = Promise.resolve();
process.on('message', (m: GenCommand) => {
  queue = queue.then(async () => {
    let out: GenResult;
    try { out = await handle(m); } catch (e) { out = { kind: 'error', message: (e as Error).stack ?? String(e) }; }
    process.send!(out);
    if (m.cmd === 'close') setTimeout(() => process.exit(0), 100);
  });
});
process.on('disconnect', () => process.exit(0));
