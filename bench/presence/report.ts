/** The presence benchmark's output: terminal tables as it goes, and bench/presence/RESULTS.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ProfileSummary } from '../lib/profile.js';
import { fmt, markdownTable, ms, textTable, type Table } from '../lib/stats.js';
import type { SignInResult } from './generator.js';
import type { ServerKind } from './options.js';
import { best, firstFailure, type ProfileRun, type ServerRun, type StepRow } from './results.js';

export interface MachineInfo {
  nproc: number; cpu: string; ramGiB: number; node: string; redis: string; prosody: string | null; kernel: string;
  command: string; date: string; users: number;
  /** The server code measured: git commit and whether the tree had changes (absent in older results). */
  tree?: string; stepSeconds: number; p99LimitMs: number; drainMs: number; concurrency: number;
}

const kb = (bytes: number): string => (bytes / 1000).toFixed(1);
const name = (s: ServerKind): string => (s === 'imp' ? 'imp (Redis store)' : 'Prosody');
const us = (n: number | null): string => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(1));
const pct = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '–');
const ratio = (a: number | null | undefined, b: number | null | undefined, digits = 2): string =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '–' : `${(a / b).toFixed(digits)}×`;

function stepTable(steps: StepRow[], withRedis: boolean): Table {
  const head = ['offered deliv/s', 'changes/s', 'expected', 'received', 'delivered/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'dup', 'server CPU %', 'µs/delivery'];
  if (withRedis) head.push('µs incl. Redis', 'GC pause ms (max)');
  head.push('gen CPU %', 'gen loop p99 ms', 'irq %', 'others %', 'result');
  return {
    head,
    rows: steps.map((s) => {
      const row = [fmt(s.offeredPerSec), fmt(s.changesPerSec), fmt(s.expected), fmt(s.received), fmt(s.deliveredPerSec), ms(s.p50), ms(s.p99), ms(s.max),
        fmt(s.lost), fmt(s.duplicates), pct(s.serverCpuPct), us(s.usPerDelivery)];
      if (withRedis) row.push(us(s.usPerDeliveryWithRedis), s.gc ? `${fmt(s.gc.pauseMs)} (${ms(s.gc.maxMs)})` : '–');
      row.push(pct(s.genCpuPct), ms(s.loopDelayP99Ms), pct(s.irqPct), pct(s.othersPct),
        s.pastLimit ? `past the limit${s.why ? `: ${s.why}` : ''}` : s.pass ? 'pass' : `FAIL: ${s.why}`);
      if (s.attempt > 1) row[row.length - 1] += ' (2nd try)';
      if (s.reruns) row[row.length - 1] += ` (measured ${s.reruns + 1}×: others were busy)`;
      return row;
    }),
  };
}

function signinLine(s: SignInResult & { serverCpuS: number; perSec: number; redisCpuS?: number | null; gc?: StepRow['gc']; othersPct?: number; irqPct?: number }): string {
  return `${fmt(s.ok)}/${fmt(s.ok + s.failed)} signed in in ${(s.ms / 1000).toFixed(1)} s (${fmt(s.perSec)}/s; one sign-in p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms; server CPU ${s.serverCpuS.toFixed(1)} s${s.redisCpuS != null ? `, redis-server ${s.redisCpuS.toFixed(1)} s` : ''}, generator ${s.genCpuS.toFixed(1)} s${s.irqPct != null ? `, interrupts ${pct(s.irqPct)} % and other processes ${pct(s.othersPct ?? NaN)} % of a core` : ''}). `
    + `Contact pairs: ${fmt(s.pairs)}, exactly one available presence: ${fmt(s.exactlyOne)}, missing: ${fmt(s.missing)}, `
    + `duplicated: ${fmt(s.duplicatePairs)} pairs (${fmt(s.duplicates)} extra stanzas); from non-contacts: ${fmt(s.unexpected)}; unavailable presence seen: ${fmt(s.unavailable)}.`
    + (s.gc ? ` Node GC during the sign-in: ${fmt(s.gc.count)} collections (${fmt(s.gc.majors)} mark-compact), ${fmt(s.gc.pauseMs)} ms of pauses, longest ${ms(s.gc.maxMs)} ms.` : '');
}

export const printRun = {
  signin(server: ServerKind, k: number, s: SignInResult & { serverCpuS: number; perSec: number }): void {
    process.stdout.write(`  ${name(server)}, K=${k}: ${signinLine(s)}\n`);
  },
  step(server: ServerKind, s: StepRow): void {
    process.stdout.write(`  ${server} ${fmt(s.offeredPerSec).padStart(7)} deliv/s offered (${fmt(s.changesPerSec)} changes/s): received ${fmt(s.received)}/${fmt(s.expected)}`
      + ` (${fmt(s.deliveredPerSec)}/s), p50 ${ms(s.p50)} p99 ${ms(s.p99)} max ${ms(s.max)} ms, lost ${s.lost}, dup ${s.duplicates},`
      + `${s.gc ? ` GC ${fmt(s.gc.pauseMs)} ms (max ${ms(s.gc.maxMs)}),` : ''} server ${pct(s.serverCpuPct)}% ${us(s.usPerDelivery)} µs/deliv${s.usPerDeliveryWithRedis !== null ? ` (${us(s.usPerDeliveryWithRedis)} with Redis)` : ''}, gen ${pct(s.genCpuPct)}% (loop p99 ${ms(s.loopDelayP99Ms)} ms), irq ${pct(s.irqPct)}%, others ${pct(s.othersPct)}%`
      + ` → ${s.pass ? 'pass' : `FAIL (${s.why})`}\n`);
  },
  profile(p: ProfileSummary): void {
    process.stdout.write(`\nimp CPU profile during the step: ${fmt(p.busyMs)} ms busy of ${fmt(p.windowMs)} ms\n${textTable(profileTable(p))}\n`);
  },
  summary(runs: ServerRun[]): void {
    process.stdout.write(`\n${textTable(summaryTable(runs))}\n`);
  },
};

function profileTable(p: ProfileSummary): Table {
  return { head: ['function', 'where', 'self ms', 'share of busy'], rows: p.top.map((e) => [e.name, e.where, fmt(e.selfMs), `${(e.share * 100).toFixed(1)} %`]) };
}

function perUser(r: ServerRun): { rss: number; redis: number | null; total: number } | null {
  if (!r.mem || !r.signin?.ok) return null;
  const n = r.signin.ok;
  const redis = r.mem.redisSignedIn === null ? null : r.mem.redisSignedIn / n;
  return { rss: r.mem.rssSignedIn / n, redis, total: r.mem.rssSignedIn / n + (redis ?? 0) };
}

function summaryTable(runs: ServerRun[]): Table {
  return {
    head: ['server', 'K', 'sign-in s', 'logins/s', 'pairs missing', 'pairs dup', 'best deliv/s (p99 ≤ limit)', 'p50 ms', 'p99 ms', 'µs/delivery', 'first rate failed twice', 'deliv/s at p99 ≤ 1 s', 'RSS KB/user', 'Redis KB/user'],
    rows: runs.map((r) => {
      const b = best(r);
      const m = perUser(r);
      return [name(r.server), String(r.k), r.signin ? (r.signin.ms / 1000).toFixed(1) : '–', r.signin ? fmt(r.signin.perSec) : '–',
        r.signin ? fmt(r.signin.missing) : '–', r.signin ? fmt(r.signin.duplicatePairs) : '–',
        b ? fmt(b.deliveredPerSec) : (r.error ? `error` : 'none'), b ? ms(b.p50) : '–', b ? ms(b.p99) : '–', b ? us(b.usPerDelivery) : '–',
        firstFailure(r) ? fmt(firstFailure(r)!.offeredPerSec) : '–', saturation(r) ? fmt(saturation(r)!.deliveredPerSec) : '–', m ? kb(m.rss) : '–', m?.redis != null ? kb(m.redis) : '–'];
    }),
  };
}

/** The last step of a run at an offered rate that lost nothing (whatever its latency). */
const at = (r: ServerRun | undefined, rate: number): StepRow | undefined =>
  r?.steps.filter((s) => !s.lost && !s.duplicates && Math.round(s.offeredPerSec) === rate).at(-1);

/** The highest rate delivered with p99 ≤ 1 s and nothing lost. */
function saturation(r: ServerRun): StepRow | null {
  const ok = r.steps.filter((s) => !s.lost && !s.duplicates && !s.unexpected && s.p99 <= 1000);
  return ok.length ? ok.reduce((a, b) => (b.deliveredPerSec > a.deliveredPerSec ? b : a)) : null;
}

function sideBySide(imp: ServerRun, pro: ServerRun): Table {
  const bi = best(imp);
  const bp = best(pro);
  const mi = perUser(imp);
  const mp = perUser(pro);
  const common = [...new Set(imp.steps.map((s) => Math.round(s.offeredPerSec)))].filter((rate) => at(imp, rate) && at(pro, rate));
  const eq = common.length ? Math.max(...common) : null;
  const si = saturation(imp);
  const sp = saturation(pro);
  const row = (what: string, a: number | null | undefined, b: number | null | undefined, f: (n: number) => string): string[] =>
    [what, a == null ? '–' : f(a), b == null ? '–' : f(b), ratio(a, b)];
  const rows = [
    row('sign-in of all users, s', imp.signin ? imp.signin.ms / 1000 : null, pro.signin ? pro.signin.ms / 1000 : null, (n) => n.toFixed(1)),
    row('logins/s', imp.signin?.perSec, pro.signin?.perSec, (n) => fmt(n)),
    row('server CPU per login, ms', imp.signin ? (1000 * imp.signin.serverCpuS) / Math.max(1, imp.signin.ok) : null, pro.signin ? (1000 * pro.signin.serverCpuS) / Math.max(1, pro.signin.ok) : null, (n) => n.toFixed(2)),
    row('contact pairs missing presence at sign-in', imp.signin?.missing, pro.signin?.missing, (n) => fmt(n)),
    row('contact pairs with duplicate presence at sign-in', imp.signin?.duplicatePairs, pro.signin?.duplicatePairs, (n) => fmt(n)),
    row('highest deliveries/s of a passing step (p99 ≤ limit, nothing lost)', bi?.deliveredPerSec ?? 0, bp?.deliveredPerSec ?? 0, (n) => fmt(n)),
    row('first offered rate that failed twice', firstFailure(imp)?.offeredPerSec, firstFailure(pro)?.offeredPerSec, (n) => fmt(n)),
    row('  p50 latency there, ms', bi?.p50, bp?.p50, ms),
    row('  p99 latency there, ms', bi?.p99, bp?.p99, ms),
    row('  server CPU per delivery there, µs', bi?.usPerDelivery, bp?.usPerDelivery, us),
    row('highest deliveries/s with p99 ≤ 1 s, nothing lost', si?.deliveredPerSec, sp?.deliveredPerSec, (n) => fmt(n)),
    row(`server CPU per delivery at an equal rate${eq ? ` (${fmt(eq)}/s offered, the highest both delivered without loss)` : ''}, µs`, eq ? at(imp, eq)?.usPerDelivery : null, eq ? at(pro, eq)?.usPerDelivery : null, us),
    row('  the same with redis-server\'s CPU for imp, µs', eq ? at(imp, eq)?.usPerDeliveryWithRedis : null, eq ? at(pro, eq)?.usPerDelivery : null, us),
    row('  p99 latency at that rate, ms', eq ? at(imp, eq)?.p99 : null, eq ? at(pro, eq)?.p99 : null, ms),
    row('server RSS per signed-in user, KB', mi?.rss, mp?.rss, kb),
    row('RSS + Redis used_memory per user, KB', mi?.total, mp?.total, kb),
  ];
  return { head: ['', 'imp', 'Prosody', 'imp / Prosody'], rows };
}

const ANALYSIS = '<!-- analysis: everything below this line is written by hand and kept when the file is rewritten -->';

export function writeResults(file: string, info: MachineInfo, runs: ServerRun[], profile: ProfileRun | null, notes: string[], minutes: number): void {
  const kept = existsSync(file) ? readFileSync(file, 'utf8').split(ANALYSIS)[1] ?? '' : '';
  const md: string[] = [];
  const ks = [...new Set(runs.map((r) => r.k))];
  md.push('# Presence fan-out benchmark: results', '');
  md.push(`Written by \`bench/presence/run.ts\` on ${info.date.slice(0, 16).replace('T', ' ')} UTC (${minutes.toFixed(1)} minutes).`, '');
  md.push('## Machine and run', '');
  md.push(`- ${info.nproc} cores (${info.cpu}), ${info.ramGiB.toFixed(0)} GiB RAM, Linux ${info.kernel}; Node ${info.node}; Redis ${info.redis}; Prosody ${info.prosody ?? 'not run'}`);
  md.push(`- Command: \`${info.command}\`${info.tree ? `; server code: ${info.tree}` : ''}`);
  md.push(`- N = ${fmt(info.users)} users; K mutual \`both\` contacts each (K = ${ks.join(' and ')}): user i's contacts are the K/2 users on either side of it on a ring of N, so every user has exactly K and every pair is mutual.`);
  md.push(`- One load-generator process (bench/presence/generator.ts, raw sockets) and the server share the machine's ${info.nproc} cores (and redis-server for imp). Sign-in: ${info.concurrency} in flight; TCP → stream → SASL (imp: SCRAM-SHA-256, Prosody: PLAIN, both without TLS) → restart → bind → \`<presence/>\`, done at its echo.`);
  md.push(`- Presence steps: each ${info.stepSeconds} s; a change is a random user sending \`<presence><show>away|dnd|xa|chat</show><status>t=<ms> n=<change></status></presence>\` (show toggling); every contact is online with one resource, so expected deliveries = changes × K. Latency: the sender's timestamp to the receipt at each watcher (same process, same clock). Stragglers are awaited ${info.drainMs / 1000} s; a step fails on p99 > ${info.p99LimitMs} ms or any loss or duplicate and is tried once more; a second failure ends the climb, except that when it is latency alone up to 3 higher steps follow, once each, while p99 ≤ 2 s and nothing is lost ("past the limit"), to compare CPU per delivery at equal rates and show where each server saturates. "Best" is the highest rate of any passing step; the first rate that failed twice is shown beside it.`);
  md.push('- Before each measured phase the run waits (up to --quiet-wait) for other processes on the machine to use under 15 % of a core; a step during which they used more than 25 % is measured again (twice at most).');
  md.push('- µs/delivery = the server process\'s CPU seconds (from /proc/<pid>/stat, user + system) over the step, divided by the deliveries received. "others %" is CPU used by processes other than the server, redis-server and the generator (noise).', '');
  for (const n of notes) md.push(`- Note: ${n}`);
  if (notes.length) md.push('');

  const impMax = runs.find((r) => r.server === 'imp' && r.k === Math.max(...ks));
  if (impMax) {
    md.push(`## The issue's targets (imp, N = ${fmt(impMax.n)}, K = ${impMax.k}, Redis store)`, '');
    md.push(markdownTable(targets(impMax)), '');
  }
  for (const k of ks) {
    const imp = runs.find((r) => r.server === 'imp' && r.k === k);
    const pro = runs.find((r) => r.server === 'prosody' && r.k === k);
    if (imp && pro) {
      md.push(`## Side by side, K = ${k}`, '', markdownTable(sideBySide(imp, pro)), '');
    }
  }
  md.push('## Summary', '', markdownTable(summaryTable(runs)), '');
  for (const r of runs) {
    md.push(`## ${name(r.server)}, K = ${r.k}`, '');
    if (r.server === 'imp') md.push(`Provisioning: ${fmt(r.n)} users in ${(r.provision.usersMs / 1000).toFixed(1)} s (store.users.create, credentials derived once), ${fmt(r.n * r.k)} roster items in ${(r.provision.rostersMs / 1000).toFixed(1)} s (RosterStore.importItems).`, '');
    else md.push(`Provisioning: ${fmt(r.n)} account and ${fmt(r.n)} roster files written into Prosody's internal storage in ${((r.provision.filesMs ?? 0) / 1000).toFixed(1)} s.`, '');
    md.push(`Open-file limit: server ${fmt(r.fdLimits.server)}, generator ${fmt(r.fdLimits.generator)}.`, '');
    if (r.signin) md.push(`Sign-in: ${signinLine(r.signin)}`, '');
    if (r.mem) {
      const m = perUser(r)!;
      md.push(`Memory: server RSS ${(r.mem.rssStart / 2 ** 20).toFixed(0)} MiB before sign-in, ${(r.mem.rssSignedIn / 2 ** 20).toFixed(0)} MiB with everyone signed in: **${kb(m.rss)} KB per user** (${kb((r.mem.rssSignedIn - r.mem.rssStart) / r.n)} KB of it added by the sign-in).`
        + (r.mem.redisSignedIn !== null ? ` Redis used_memory ${(r.mem.redisProvisioned! / 2 ** 20).toFixed(0)} MiB provisioned, ${(r.mem.redisSignedIn / 2 ** 20).toFixed(0)} MiB with the sessions: **${kb(m.redis!)} KB per user** (${kb((r.mem.redisSignedIn - r.mem.redisProvisioned!) / r.n)} KB of it sessions). RSS + Redis: **${kb(m.total)} KB per user**.` : ''), '');
    }
    if (r.heap) {
      const h = r.heap;
      md.push(`imp node memory after two forced full GCs with everyone signed in: RSS ${(h.rss / 2 ** 20).toFixed(0)} MiB, V8 heap used ${(h.heapUsed / 2 ** 20).toFixed(0)} MiB of ${(h.heapTotal / 2 ** 20).toFixed(0)} MiB, external ${(h.external / 2 ** 20).toFixed(0)} MiB (array buffers ${(h.arrayBuffers / 2 ** 20).toFixed(0)} MiB): **${kb(h.heapUsed / r.n)} KB of live JS heap per user**, ${kb(h.rss / r.n)} KB RSS per user after GC.`, '');
    }
    if (r.heapTop) {
      md.push(`Heap snapshot of the node with everyone signed in: ${(r.heapTop.total / 2 ** 20).toFixed(1)} MiB of objects (${kb(r.heapTop.total / r.n)} KB per user); the largest kinds:`, '');
      md.push(markdownTable({ head: ['object', 'count', 'count per user', 'MiB', 'bytes per user'], rows: r.heapTop.entries.map((e) => [e.what.replace(/\|/g, '\\|'), fmt(e.count), (e.count / r.n).toFixed(1), (e.bytes / 2 ** 20).toFixed(1), fmt(e.bytes / r.n)]) }), '');
    }
    if (r.redisKeys) {
      md.push('Redis memory per user by key (MEMORY USAGE, mean over 20 users):', '');
      md.push(markdownTable({ head: ['key', 'bytes per user'], rows: [...r.redisKeys.map((x) => [x.key, fmt(x.bytes)]), ['sum', fmt(r.redisKeys.reduce((a, x) => a + x.bytes, 0))]] }), '');
    }
    if (r.steps.length) md.push(markdownTable(stepTable(r.steps, r.server === 'imp')), '');
    if (r.signinCommandstats) {
      md.push('Redis commandstats over the sign-in (top by time):', '');
      md.push(markdownTable({ head: ['command', 'calls', 'calls per login', 'total ms', 'µs per call'], rows: r.signinCommandstats.map((c) => [c.cmd, fmt(c.calls), (c.calls / r.n).toFixed(1), fmt(c.usec / 1000), c.perCall.toFixed(1)]) }), '');
    }
    if (r.commandstats) {
      md.push('Redis commandstats over the steps (top by time):', '');
      md.push(markdownTable({ head: ['command', 'calls', 'total ms', 'µs per call'], rows: r.commandstats.map((c) => [c.cmd, fmt(c.calls), fmt(c.usec / 1000), c.perCall.toFixed(1)]) }), '');
    }
    if (r.error) md.push(`**Run error:** ${r.error}`, '');
    for (const n of r.notes.filter((x) => !x.startsWith('profile:'))) md.push(`> ${n.replace(/\n/g, ' ')}`, '');
  }
  if (profile) {
    md.push(`## Where imp's time goes: CPU profile of a presence step (K = ${profile.k}, ${fmt(profile.rate)} deliveries/s offered)`, '');
    md.push('A separate run of the same set-up with the node under `node --cpu-prof`, cut to the one presence step (the profiler costs a little, so its rates are not the ones above).', '');
    if (profile.step) md.push(`That step: ${fmt(profile.step.received)}/${fmt(profile.step.expected)} delivered, p50 ${ms(profile.step.p50)} ms, p99 ${ms(profile.step.p99)} ms, server CPU ${pct(profile.step.serverCpuPct)} %, ${us(profile.step.usPerDelivery)} µs per delivery (${us(profile.step.usPerDeliveryWithRedis)} with redis-server).`, '');
    if (profile.summary) {
      const p = profile.summary;
      md.push(`${fmt(p.busyMs)} ms busy of ${fmt(p.sampledMs)} ms sampled; top 15 functions by self time, share of the busy time:`, '');
      md.push(markdownTable(profileTable(p)), '');
    } else md.push(`No profile: ${profile.error ?? 'unknown'}`, '');
    if (profile.signin) {
      const p = profile.signin;
      md.push(`The same profile during the sign-in of all users (${((profile.signinMs ?? 0) / 1000).toFixed(1)} s under the profiler): ${fmt(p.busyMs)} ms busy of ${fmt(p.sampledMs)} ms sampled; top 15 by self time:`, '');
      md.push(markdownTable(profileTable(p)), '');
    }
  }
  md.push(ANALYSIS);
  writeFileSync(file, md.join('\n') + (kept || '\n'));
}

function targets(r: ServerRun): Table {
  const s = r.signin;
  const b = best(r);
  const m = perUser(r);
  const yes = (ok: boolean): string => (ok ? '**met**' : '**not met**');
  const at50 = r.steps.filter((x) => x.pass && x.offeredPerSec >= 50000);
  const cpuStep = b;
  return {
    head: ['target', 'measured', 'verdict'],
    rows: [
      ['1. all users signed in within 30 s; every contact pair gets exactly one presence each way',
        s ? `${fmt(s.ok)}/${fmt(r.n)} in ${(s.ms / 1000).toFixed(1)} s (${fmt(s.perSec)}/s); ${fmt(s.exactlyOne)}/${fmt(s.pairs)} pairs exactly once, ${fmt(s.missing)} missing, ${fmt(s.duplicatePairs)} duplicated` : 'no sign-in',
        yes(!!s && s.failed === 0 && s.ms <= 30000 && s.missing === 0 && s.duplicatePairs === 0 && s.pairs === r.n * r.k)],
      ['2. ≥ 50,000 deliveries/s sustained with p99 ≤ 100 ms, nothing lost or duplicated',
        b ? `${fmt(b.deliveredPerSec)}/s at p50 ${ms(b.p50)} / p99 ${ms(b.p99)} ms` : 'no passing step',
        yes(at50.length > 0)],
      ['3. ≤ 20 µs of server CPU per delivery',
        cpuStep ? `${us(cpuStep.usPerDelivery)} µs at ${fmt(cpuStep.deliveredPerSec)}/s (node only; ${us(cpuStep.usPerDeliveryWithRedis)} µs with redis-server)` : '–',
        yes(!!cpuStep && cpuStep.usPerDelivery <= 20)],
      ['4. node RSS + Redis memory ≤ 30 KB per signed-in user',
        m ? `${kb(m.rss)} KB RSS + ${kb(m.redis ?? 0)} KB Redis = ${kb(m.total)} KB` : '–',
        yes(!!m && m.total <= 30000)],
    ],
  };
}
