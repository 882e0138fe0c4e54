/** The results: terminal tables and bench/RESULTS.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ProfileSummary } from './profile.js';
import { fmt, kib, markdownTable, mib, ms, textTable, type Table } from './stats.js';

export interface SignInResult {
  label: string;
  users: number;
  ok: number;
  failures: number;
  firstError: string | null;
  wallMs: number;
  rate: number;
  p50: number;
  p99: number;
  serverCpuS: number;
  genCpuS: number;
  /** CPU of processes other than the server, generator and redis-server, % of one core. */
  othersPct: number;
  /** Interrupt time (mostly loopback TCP), % of one core. */
  irqPct: number;
  /** Runs made: more than 1 when other processes disturbed the earlier ones (the last is kept). */
  attempts: number;
}

export interface StepResult {
  offered: number;
  sent: number;
  received: number;
  lost: number;
  errors: number;
  seconds: number;
  sentRate: number;
  deliveredRate: number;
  p50: number;
  p99: number;
  max: number;
  serverCpuS: number;
  serverCpuPct: number;
  cpuPer1k: number;
  genCpuPct: number;
  genLoopP99: number;
  genLoopMax: number;
  redisCpuPct: number | null;
  othersPct: number;
  irqPct: number;
  /** Runs made: more than 1 when other processes disturbed the earlier ones (the last is kept). */
  attempts: number;
  pass: boolean;
  why: string;
}

export interface StoreResult {
  store: string;
  provisionMs: number;
  signin: SignInResult;
  tls: SignInResult | null;
  /** From all signed-in users closing their streams at once until the server held no session. */
  disconnectMs: number;
  steps: StepResult[];
  best: StepResult | null;
  pairs: number;
  rssBefore: number;
  rssAfter: number;
  rssPerUser: number;
  /** Live JS heap + external memory after a full GC. */
  liveBefore: number;
  liveAfter: number;
  livePerUser: number;
  redis: { usedBefore: number; usedAfter: number; perSession: number; rss: number; peak: number } | null;
  /** With --cpu-prof: where the server spent its time, per phase. */
  profiles: Array<{ phase: string; summary: ProfileSummary }>;
  serverOutput: string;
}

export interface RunInfo {
  date: string;
  command: string;
  nproc: number;
  cpu: string;
  memGiB: number;
  node: string;
  redis: string;
  fdLimit: number;
  tmpFs: string;
  /** The commit measured, and whether the work tree differed from it. */
  tree: string;
  users: number;
  tlsUsers: number;
  concurrency: number;
  mech: string;
  stepSeconds: number;
  p99LimitMs: number;
}

function signInTable(rs: SignInResult[]): Table {
  return {
    head: ['run', 'users', 'ok', 'failed', 'wall s', 'sign-ins/s', 'p50 ms', 'p99 ms', 'server CPU %', 'server CPU ms/sign-in', 'generator CPU %', 'irq %', 'others %', 'runs'],
    rows: rs.map((r) => {
      const pct = (cpuS: number): string => fmt((cpuS / (r.wallMs / 1000)) * 100);
      return [r.label, fmt(r.users), fmt(r.ok), fmt(r.failures), (r.wallMs / 1000).toFixed(2), fmt(r.rate), ms(r.p50), ms(r.p99),
        pct(r.serverCpuS), r.ok ? ((r.serverCpuS * 1000) / r.ok).toFixed(2) : '–', pct(r.genCpuS), fmt(r.irqPct), fmt(r.othersPct), String(r.attempts)];
    }),
  };
}

function stepTable(steps: StepResult[], withRedis: boolean): Table {
  const head = ['offered/s', 'sent/s', 'delivered/s', 'sent', 'received', 'lost', 'p50 ms', 'p99 ms', 'max ms', 'server CPU %', 'CPU s/1k msgs'];
  if (withRedis) head.push('redis CPU %');
  head.push('generator CPU %', 'gen. loop delay p99/max ms', 'irq %', 'others %', 'runs', 'result');
  return {
    head,
    rows: steps.map((s) => {
      const row = [fmt(s.offered), fmt(s.sentRate), fmt(s.deliveredRate), fmt(s.sent), fmt(s.received), fmt(s.lost), ms(s.p50), ms(s.p99), ms(s.max),
        fmt(s.serverCpuPct), s.cpuPer1k.toFixed(3)];
      if (withRedis) row.push(s.redisCpuPct === null ? '–' : fmt(s.redisCpuPct));
      row.push(fmt(s.genCpuPct), `${ms(s.genLoopP99)} / ${ms(s.genLoopMax)}`, fmt(s.irqPct), fmt(s.othersPct), String(s.attempts), s.pass ? (s.why ? `ok (${s.why})` : 'ok') : `FAIL: ${s.why}`);
      return row;
    }),
  };
}

function summaryTable(rs: StoreResult[]): Table {
  return {
    head: ['store', 'sign-ins/s (TCP)', 'p50/p99 ms', 'sign-ins/s (STARTTLS)', 'p50/p99 ms', 'max msgs/s, p99 ≤ limit', 'p99 there ms', 'server CPU s/1k msgs', 'server heap/user KiB', 'server RSS/user KiB', 'redis mem/session B'],
    rows: rs.map((r) => [
      r.store, fmt(r.signin.rate), `${ms(r.signin.p50)} / ${ms(r.signin.p99)}`,
      r.tls ? fmt(r.tls.rate) : '–', r.tls ? `${ms(r.tls.p50)} / ${ms(r.tls.p99)}` : '–',
      r.best ? fmt(r.best.deliveredRate) : 'none passed', r.best ? ms(r.best.p99) : '–', r.best ? r.best.cpuPer1k.toFixed(3) : '–',
      kib(r.livePerUser), kib(r.rssPerUser), r.redis ? fmt(r.redis.perSession) : '–',
    ]),
  };
}

function profileTable(p: ProfileSummary): Table {
  return {
    head: ['self ms', '% of busy', 'function', 'where'],
    rows: p.top.map((e) => [fmt(e.selfMs), (e.share * 100).toFixed(1), e.name, e.where]),
  };
}

export function printStore(r: StoreResult, limit: number): void {
  const out: string[] = [];
  out.push('', `=== store: ${r.store} ===`);
  out.push(`provisioning: ${(r.provisionMs / 1000).toFixed(1)} s (not measured below)`);
  out.push('', textTable(signInTable([r.signin, ...(r.tls ? [r.tls] : [])])));
  for (const s of [r.signin, r.tls]) if (s?.firstError) out.push(`  first sign-in failure (${s.label}): ${s.firstError}`);
  if (r.steps.length) {
    out.push('', `chat: ${fmt(r.pairs)} pairs, p99 limit ${limit} ms`, textTable(stepTable(r.steps, r.redis !== null)));
  }
  out.push('', `disconnect: all ${fmt(r.signin.ok)} users closed their streams at once; the server held no session ${(r.disconnectMs / 1000).toFixed(1)} s later`);
  out.push(`server memory after full GC, nobody → ${fmt(r.signin.ok)} users on line: live heap + external ${mib(r.liveBefore)} → ${mib(r.liveAfter)} MiB (${kib(r.livePerUser)} KiB per user); RSS ${mib(r.rssBefore)} (fresh node) → ${mib(r.rssAfter)} MiB (${kib(r.rssPerUser)} KiB per user)`);
  if (r.redis) out.push(`redis used_memory: ${mib(r.redis.usedBefore)} MiB before, ${mib(r.redis.usedAfter)} MiB with sessions (${fmt(r.redis.perSession)} B/session); peak ${mib(r.redis.peak)} MiB, RSS ${mib(r.redis.rss)} MiB`);
  for (const { phase, summary: p } of r.profiles) {
    out.push('', `server CPU profile during ${phase}: ${fmt(p.windowMs)} ms window, ${fmt(p.busyMs)} ms busy (${fmt(p.idleMs)} ms idle)`, textTable(profileTable(p)));
  }
  if (r.serverOutput.trim()) out.push('', 'server output (warnings/errors):', r.serverOutput.trim().split('\n').slice(-10).join('\n'));
  console.log(out.join('\n'));
}

export function printSummary(rs: StoreResult[]): void {
  console.log('\n=== summary ===\n' + textTable(summaryTable(rs)));
}

const NOTES_START = '<!-- interpretation:start -->';
const NOTES_END = '<!-- interpretation:end -->';

/** Writes the results file; a hand-written interpretation between the markers survives regeneration. */
export function writeResults(file: string, info: RunInfo, rs: StoreResult[]): void {
  let notes = `${NOTES_START}\n_Not written yet: add 3–6 lines on what bounds these numbers._\n${NOTES_END}`;
  if (existsSync(file)) {
    const old = readFileSync(file, 'utf8');
    const a = old.indexOf(NOTES_START);
    const b = old.indexOf(NOTES_END);
    if (a >= 0 && b > a) notes = old.slice(a, b + NOTES_END.length);
  }
  const md: string[] = [];
  md.push('# imp benchmark results', '');
  md.push(`Written by \`bench/run.ts\` on ${info.date}. How to run it and what each number means: [README.md](README.md).`, '');
  md.push('## Machine and run', '');
  md.push(`- CPU: ${info.cpu}, ${info.nproc} cores (\`nproc\`); memory ${info.memGiB.toFixed(1)} GiB`);
  md.push(`- Node ${info.node}; Redis ${info.redis}; open-file limit ${fmt(info.fdLimit)}; temp dir on ${info.tmpFs}`);
  md.push(`- Command: \`${info.command}\`; server code: ${info.tree}`);
  md.push(`- ${fmt(info.users)} users over plain TCP (${info.mech}, \`--allow-plaintext\`), ${fmt(info.tlsUsers)} over STARTTLS + SCRAM-SHA-256, ${info.concurrency} sign-ins in flight; chat steps of ${info.stepSeconds} s, p99 limit ${info.p99LimitMs} ms`);
  md.push('- The load generator (one Node process) and the server (another) share the same cores; so does redis-server for the redis store.', '');
  md.push('## Summary', '', markdownTable(summaryTable(rs)), '');
  md.push('## Interpretation', '', notes, '');
  for (const r of rs) {
    md.push(`## Store: ${r.store}`, '');
    md.push(`Sign-in (TCP connect → stream → ${info.mech} → restart → bind → initial presence echoed; provisioning took ${(r.provisionMs / 1000).toFixed(1)} s and is not measured):`, '');
    md.push(markdownTable(signInTable([r.signin, ...(r.tls ? [r.tls] : [])])), '');
    for (const s of [r.signin, r.tls]) if (s?.firstError) md.push(`First sign-in failure (${s.label}): \`${s.firstError}\``, '');
    if (r.steps.length) {
      md.push(`Chat, ${fmt(r.pairs)} pairs, each step ${info.stepSeconds} s (stops at the first step over the limit or with a loss):`, '');
      md.push(markdownTable(stepTable(r.steps, r.redis !== null)), '');
    }
    md.push(`All ${fmt(r.signin.ok)} users then closed their streams at once: the server held no session ${(r.disconnectMs / 1000).toFixed(1)} s later.`);
    md.push(`Server memory after a full GC, nobody → ${fmt(r.signin.ok)} users on line: live JS heap + external ${mib(r.liveBefore)} → ${mib(r.liveAfter)} MiB (after the warm-up), RSS ${mib(r.rssBefore)} MiB (fresh node) → ${mib(r.rssAfter)} MiB: **${kib(r.livePerUser)} KiB heap, ${kib(r.rssPerUser)} KiB RSS per connected user**.`);
    if (r.redis) md.push(`Redis used_memory ${mib(r.redis.usedBefore)} MiB with the users provisioned, ${mib(r.redis.usedAfter)} MiB with their sessions (${fmt(r.redis.perSession)} B per session); peak ${mib(r.redis.peak)} MiB, RSS ${mib(r.redis.rss)} MiB at the end.`);
    md.push('');
    for (const { phase, summary: p } of r.profiles) {
      md.push(`Server CPU profile during ${phase} (node --cpu-prof; the profiler itself slows the server): ${fmt(p.busyMs)} ms busy of ${fmt(p.windowMs)} ms.`, '');
      md.push(markdownTable(profileTable(p)), '');
    }
  }
  writeFileSync(file, md.join('\n'));
}
