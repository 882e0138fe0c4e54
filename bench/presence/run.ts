/**
 * The presence fan-out benchmark (issue 3, "Benchmark"): N users, each with
 * K mutual `both` contacts, provisioned in bulk; a server (imp on the Redis
 * store, then Prosody from Debian) started as a child process; one separate
 * load-generator process (generator.ts) signs everyone in and then raises
 * the rate of presence changes step by step until p99 latency passes the
 * limit or anything is lost. Results: terminal tables and
 * bench/presence/RESULTS.md. See bench/presence/README.md.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summariseProfile } from '../lib/profile.js';
import { summariseHeap } from './heap.js';
import { machineCpuSeconds, waitQuiet } from '../lib/procs.js';
import type { GenCommand, GenResult } from './generator.js';
import { provisionImp, redisBytesPerUser, redisCommand, redisInfo, startImp, type GcEvent, type ImpNode } from './imp.js';
import { parseOptions, type PresenceOptions, type ServerKind } from './options.js';
import { cleanupNow, cpuSeconds, fdLimitOf, installCleanupHooks, RedisProc, removeTempDir, rssBytes, sleep, spawnWithFds, stopChild, tempDir } from './procs.js';
import { ensureProsody, provisionProsody, startProsody, type ProsodyNode } from './prosody.js';
import { printRun, writeResults, type MachineInfo } from './report.js';
import { best, type ProfileRun, type ServerRun, type StepRow } from './results.js';
import { DOMAIN, PASSWORD, Ring } from './topology.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root: dist/bench/presence → ../../.. */
const ROOT = path.resolve(here, '../../..');

/** The load generator as a child process, one request at a time over IPC. */
class Generator {
  private waiting: ((r: GenResult) => void) | null = null;
  private constructor(readonly proc: ReturnType<typeof spawnWithFds>) {
    proc.on('message', (m: GenResult) => { const w = this.waiting; this.waiting = null; w?.(m); });
    proc.on('exit', (code) => { const w = this.waiting; this.waiting = null; w?.({ kind: 'error', message: `the generator exited (${code})` }); });
  }

  static start(): Generator {
    return new Generator(spawnWithFds([process.execPath, path.join(here, 'generator.js')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  get pid(): number { return this.proc.pid!; }

  request<T extends GenResult['kind']>(cmd: GenCommand, kind: T): Promise<Extract<GenResult, { kind: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting = (r) => {
        if (r.kind === kind) resolve(r as Extract<GenResult, { kind: T }>);
        else reject(new Error(r.kind === 'error' ? `generator: ${r.message}` : `generator answered ${r.kind}, not ${kind}`));
      };
      this.proc.send(cmd);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      try { await Promise.race([this.request({ cmd: 'close' }, 'ok'), sleep(15000)]); } catch { /* exiting anyway */ }
    }
    await stopChild(this.proc, 5000);
  }
}

const log = (s: string): void => { process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`); };

interface Target { pid: number; redisPid: number | null }

/** CPU of each process and of the machine over one measured phase. */
function cpuMeter(t: Target, genPid: number): () => { server: number; redis: number | null; gen: number; others: number; irq: number; wall: number } {
  const read = (): number[] => {
    const m = machineCpuSeconds();
    return [cpuSeconds(t.pid), t.redisPid ? cpuSeconds(t.redisPid) : 0, cpuSeconds(genPid), m.proc, m.irq, performance.now()];
  };
  const a = read();
  return () => {
    const b = read();
    const d = b.map((x, i) => x - a[i]!);
    const wall = d[5]! / 1000;
    const ours = d[0]! + d[1]! + d[2]!;
    return { server: d[0]!, redis: t.redisPid ? d[1]! : null, gen: d[2]!, others: Math.max(0, d[3]! - ours - 0.05 * wall), irq: d[4]!, wall };
  };
}

/** INFO commandstats as rows, the costliest first. */
function commandstats(cs: Record<string, string>): NonNullable<ServerRun['commandstats']> {
  return Object.entries(cs).map(([key, v]) => {
    const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
    return { cmd: key.replace(/^cmdstat_/, ''), calls: Number(f.calls), usec: Number(f.usec), perCall: Number(f.usec_per_call) };
  }).filter((c) => !/^(info|config)/.test(c.cmd)).sort((a, b) => b.usec - a.usec).slice(0, 10);
}

/** Collections the node reported between two instants (performance.now()). */
function gcBetween(events: GcEvent[] | null, from: number, to: number): StepRow['gc'] {
  if (!events) return null;
  const e = events.filter((x) => x.at >= from && x.at <= to);
  const major = e.filter((x) => !/Scavenge|Minor/.test(x.kind));
  return { count: e.length, majors: major.length, pauseMs: e.reduce((a, x) => a + x.pauseMs, 0), maxMs: e.reduce((a, x) => Math.max(a, x.pauseMs), 0) };
}

/**
 * Raises the offered rate step by step. A step that fails (p99 over the limit,
 * or anything lost or duplicated) is run once more; a second failure ends the
 * search for the highest passing rate. If that failure was latency alone
 * (p99 ≤ the soft limit, nothing lost), up to `--past-limit` higher steps
 * follow, once each, so that CPU per delivery can be compared at rates one
 * server passes and the other does not, and the saturation rate shows.
 */
/** Waits (at most --quiet-wait) until processes other than ours use under 15 % of a core: a test run elsewhere would skew every number. */
async function quietMachine(o: PresenceOptions, t: Target, gen: Generator): Promise<number> {
  if (o.quietWaitMs <= 0) return 0;
  const ours = [t.pid, gen.pid, ...(t.redisPid ? [t.redisPid] : [])];
  return waitQuiet(ours, 0.15, o.quietWaitMs, (share) => log(`  waiting for other processes to go quiet (they use ${(share * 100).toFixed(0)} % of a core)`));
}

async function runSteps(o: PresenceOptions, gen: Generator, t: Target, k: number, run: ServerRun, rates: number[], gcEvents: GcEvent[] | null): Promise<void> {
  let beyond = -1;
  for (const rate of rates) {
    let reruns = 0;
    for (let attempt = 1; attempt <= 2; attempt++) {
      await gen.request({ cmd: 'quiet', ms: 1000, maxMs: 15000 }, 'ok');
      await quietMachine(o, t, gen);
      const meter = cpuMeter(t, gen.pid);
      const tStart = performance.now();
      const r = await gen.request({ cmd: 'step', changesPerSec: rate / k, seconds: o.stepSeconds, drainMs: o.drainMs }, 'step');
      const c = meter();
      // --trace-gc lines arrive a little after the collection; give them a moment.
      await sleep(200);
      const gc = gcBetween(gcEvents, tStart, performance.now() - 200);
      const why: string[] = [];
      if (!(r.p99 <= o.p99LimitMs)) why.push(`p99 ${r.p99.toFixed(0)} ms > ${o.p99LimitMs}`);
      if (r.lost) why.push(`${r.lost} lost`);
      if (r.duplicates) why.push(`${r.duplicates} duplicated`);
      if (r.unexpected) why.push(`${r.unexpected} unexpected`);
      const row: StepRow = {
        ...r,
        offeredPerSec: (r.changes * k) / (o.stepSeconds),
        deliveredPerSec: r.received / (Math.max(r.sendMs, r.spanMs) / 1000),
        serverCpuS: c.server, redisCpuS: c.redis,
        usPerDelivery: r.received ? (c.server / r.received) * 1e6 : NaN,
        usPerDeliveryWithRedis: c.redis === null || !r.received ? null : ((c.server + c.redis) / r.received) * 1e6,
        serverCpuPct: (100 * c.server) / c.wall, genCpuPct: (100 * c.gen) / c.wall,
        othersPct: (100 * c.others) / c.wall, irqPct: (100 * c.irq) / c.wall,
        attempt, pass: why.length === 0, why: why.join(', '), gc, pastLimit: beyond >= 0,
      };
      row.reruns = reruns;
      if (row.othersPct > 25 && reruns < 2) {
        // Another process took more than a quarter of a core: this step says little; measure it again.
        reruns++;
        attempt--;
        log(`  ${run.server}: other processes used ${row.othersPct.toFixed(0)} % of a core during the ${rate}/s step; measuring it again`);
        continue;
      }
      run.steps.push(row);
      printRun.step(run.server, row);
      const soft = !r.lost && !r.duplicates && !r.unexpected && r.p99 <= o.softP99LimitMs;
      if (beyond >= 0) {
        // Past the limit: one attempt per rate, until something is lost or p99 passes the soft limit.
        if (!soft || ++beyond > o.pastLimit) return;
        break;
      }
      if (row.pass) break;
      if (attempt === 2) {
        if (!soft || o.pastLimit === 0) return;
        log(`  ${run.server}: ${rate} deliveries/s fails on latency alone; up to ${o.pastLimit} steps more (p99 ≤ ${o.softP99LimitMs} ms, nothing lost) for CPU at equal rates`);
        beyond = 0;
        break;
      }
      log(`  ${run.server}: step at ${rate} deliveries/s failed (${row.why}); once more to confirm`);
    }
  }
}

async function benchServer(o: PresenceOptions, server: ServerKind, k: number, cpuProfDir?: string, onlyRate?: number): Promise<ServerRun> {
  const ring = new Ring(o.users, k);
  const run: ServerRun = {
    server, n: o.users, k, mech: server === 'imp' ? 'SCRAM-SHA-256' : 'PLAIN', provision: { usersMs: 0, rostersMs: 0 },
    signin: null, mem: null, heap: null, heapTop: null, redisKeys: null, steps: [], commandstats: null, signinCommandstats: null, fdLimits: { server: NaN, generator: NaN }, error: null, notes: [],
  };
  let redis: RedisProc | null = null;
  let imp: ImpNode | null = null;
  let prosody: ProsodyNode | null = null;
  let gen: Generator | null = null;
  const dirs: string[] = [];
  try {
    let port: number;
    let target: Target;
    let redisProvisioned: number | null = null;
    if (server === 'imp') {
      redis = await RedisProc.start();
      log(`imp K=${k}: provisioning ${o.users} users and ${ring.pairs} roster items into Redis`);
      const p = await provisionImp(redis.url, ring);
      run.provision = { usersMs: p.usersMs, rostersMs: p.rostersMs };
      log(`  users ${(p.usersMs / 1000).toFixed(1)} s, rosters ${(p.rostersMs / 1000).toFixed(1)} s`);
      redisProvisioned = Number((await redisInfo(redis.url, 'memory')).used_memory);
      const data = tempDir('imp-data');
      dirs.push(data);
      imp = await startImp(ROOT, redis.url, data, cpuProfDir, true);
      port = imp.ports.xmpp;
      target = { pid: imp.pid, redisPid: redis.pid };
      run.fdLimits.server = imp.fdLimit;
    } else {
      const dir = tempDir('prosody');
      dirs.push(dir);
      const dataPath = path.join(dir, 'data');
      log(`prosody K=${k}: writing ${o.users} accounts and rosters into its storage files`);
      const ms = provisionProsody(dataPath, ring);
      run.provision = { usersMs: 0, rostersMs: 0, filesMs: ms };
      log(`  files ${(ms / 1000).toFixed(1)} s`);
      prosody = await startProsody(dir, dataPath);
      port = prosody.port;
      target = { pid: prosody.pid, redisPid: null };
      run.fdLimits.server = prosody.fdLimit;
    }
    if (run.fdLimits.server < o.users + 200) throw new Error(`the server's open-file limit is ${run.fdLimits.server}, too low for ${o.users} users`);
    await sleep(1000);
    const rssStart = rssBytes(target.pid);
    gen = Generator.start();
    await sleep(200);
    run.fdLimits.generator = fdLimitOf(gen.pid);
    if (run.fdLimits.generator < o.users + 200) throw new Error(`the generator's open-file limit is ${run.fdLimits.generator}, too low for ${o.users} users`);
    await gen.request({ cmd: 'config', port, n: o.users, k, mech: run.mech as 'PLAIN' | 'SCRAM-SHA-256', password: PASSWORD, domain: DOMAIN, concurrency: o.concurrency, timeoutMs: 300000 }, 'ok');
    log(`${server} K=${k}: signing in ${o.users} users (${run.mech}, ${o.concurrency} in flight)`);
    await quietMachine(o, target, gen);
    if (redis) await redisCommand(redis.url, 'CONFIG', 'RESETSTAT');
    const meter = cpuMeter(target, gen.pid);
    const tSignin = performance.now();
    const s = await gen.request({ cmd: 'signin' }, 'signin');
    const c = meter();
    run.signin = { ...s, serverCpuS: c.server, redisCpuS: c.redis, perSec: s.ok / (s.ms / 1000), gc: gcBetween(imp?.gcEvents ?? null, tSignin, tSignin + s.ms), othersPct: (100 * c.others) / c.wall, irqPct: (100 * c.irq) / c.wall };
    printRun.signin(server, k, run.signin);
    await sleep(1000);
    const rssSignedIn = rssBytes(target.pid);
    const redisSignedIn = redis ? Number((await redisInfo(redis.url, 'memory')).used_memory) : null;
    run.mem = { rssStart, rssSignedIn, redisProvisioned, redisSignedIn };
    if (s.failed > 0) throw new Error(`${s.failed} sign-ins failed; first: ${s.firstError}`);
    if (redis) run.signinCommandstats = commandstats(await redisInfo(redis.url, 'commandstats'));
    if (imp) run.heap = await imp.settledMemory();
    if (imp && o.heapSnapshot) {
      log(`  heap snapshot of the node with ${o.users} users signed in`);
      const f = await imp.heapSnapshot();
      if (f) run.heapTop = summariseHeap(f, 20);
      else run.notes.push('no heap snapshot was written');
    }
    if (redis) {
      const sample = Array.from({ length: 20 }, (_, i) => Math.floor((i * o.users) / 20));
      run.redisKeys = await redisBytesPerUser(redis.url, sample, o.users);
      await redisCommand(redis.url, 'CONFIG', 'RESETSTAT');
    }
    await sleep(4000);
    await runSteps(o, gen, target, k, run, onlyRate ? [onlyRate] : o.steps, imp ? imp.gcEvents : null);
    if (redis) {
      run.commandstats = commandstats(await redisInfo(redis.url, 'commandstats'));
    }
  } catch (e) {
    run.error = (e as Error).message;
    log(`${server} K=${k}: ${run.error}`);
    const out = imp?.output() ?? prosody?.log() ?? '';
    if (out) run.notes.push(`server output: ${out.slice(-600)}`);
  } finally {
    if (gen) await gen.stop();
    if (imp) run.notes.push(...(await imp.stop().then((f) => (f ? [`profile:${f}`] : []))));
    if (prosody) await prosody.stop();
    if (redis) await redis.stop();
    for (const d of dirs) removeTempDir(d);
  }
  return run;
}

/** The commit measured and how many files under src/ differed from it (read-only git). */
function gitTree(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  if (!head) return 'unknown (no git)';
  const dirty = (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).length;
  return dirty ? `commit ${head} with ${dirty} changed file(s) under src/ not committed` : `commit ${head}`;
}

function machine(o: PresenceOptions, prosodyVersion: string | null): MachineInfo {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const redis = /v=([0-9.]+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'unknown';
  return {
    nproc: os.cpus().length, cpu, ramGiB: os.totalmem() / 2 ** 30, node: process.version, redis, prosody: prosodyVersion,
    kernel: os.release(), command: `node dist/bench/presence/run.js ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(),
    tree: gitTree(), users: o.users, stepSeconds: o.stepSeconds, p99LimitMs: o.p99LimitMs, drainMs: o.drainMs, concurrency: o.concurrency,
  };
}

/** What a run saves beside its results file (RESULTS.json), so the file can be re-rendered. */
interface SavedRun { info: MachineInfo; runs: ServerRun[]; profile: ProfileRun | null; notes: string[]; minutes: number }

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), path.join(ROOT, 'bench/presence/RESULTS.md'));
  if (!o) return 0;
  if (o.fromJson) {
    const raw = JSON.parse(readFileSync(o.fromJson, 'utf8')) as SavedRun;
    const file = o.results ?? path.join(ROOT, 'bench/presence/RESULTS.md');
    writeResults(file, raw.info, raw.runs, raw.profile, raw.notes, raw.minutes);
    log(`wrote ${path.relative(process.cwd(), file)} from ${o.fromJson}`);
    return 0;
  }
  installCleanupHooks();
  const abort = setTimeout(() => { console.error(`bench/presence: over --max-minutes ${o.maxMinutes}, aborting`); cleanupNow(); process.exit(1); }, o.maxMinutes * 60000);
  abort.unref();
  const t0 = performance.now();
  let prosodyVersion: string | null = null;
  const notes: string[] = [];
  if (o.servers.includes('prosody')) {
    prosodyVersion = ensureProsody((s) => { log(s); notes.push(s); });
    if (!prosodyVersion) { notes.push('Prosody could not be installed: imp only.'); o.servers = o.servers.filter((s) => s !== 'prosody'); }
  }
  const info = machine(o, prosodyVersion);
  log(`presence benchmark: N=${o.users}, K=${o.ks.join(',')}, servers ${o.servers.join(', ')}; ${info.nproc} × ${info.cpu}, Node ${info.node}, Redis ${info.redis}${prosodyVersion ? `, Prosody ${prosodyVersion}` : ''}`);
  const runs: ServerRun[] = [];
  for (const k of o.ks) for (const server of o.servers) runs.push(await benchServer(o, server, k));
  let profile: ProfileRun | null = null;
  if (o.profile && o.servers.includes('imp')) {
    const k = Math.max(...o.ks);
    const impRun = runs.find((r) => r.server === 'imp' && r.k === k);
    const b = impRun ? best(impRun) : null;
    const rate = b ? Math.round(b.offeredPerSec) : o.steps[Math.min(3, o.steps.length - 1)]!;
    log(`profile: imp K=${k} under node --cpu-prof, one step at ${rate} deliveries/s`);
    const dir = tempDir('cpuprof');
    const r = await benchServer(o, 'imp', k, dir, rate);
    // The last measurement of the step (a first attempt may have been retried).
    const step = r.steps.at(-1) ?? null;
    profile = { k, rate, step, summary: null, signin: null, signinMs: r.signin?.ms ?? null, error: r.error };
    const file = r.notes.find((n) => n.startsWith('profile:'))?.slice(8);
    if (file && step) profile.summary = summariseProfile(file, step.fromUs, step.toUs, ROOT, 15);
    else profile.error ??= 'no profile was written';
    if (file && r.signin) profile.signin = summariseProfile(file, r.signin.fromUs, r.signin.toUs, ROOT, 15);
    removeTempDir(dir);
    if (profile.summary) printRun.profile(profile.summary);
  }
  printRun.summary(runs);
  const minutes = (performance.now() - t0) / 60000;
  log(`done in ${minutes.toFixed(1)} min`);
  if (o.results) {
    const saved: SavedRun = { info, runs, profile, notes, minutes };
    writeFileSync(o.results.replace(/\.md$/, '') + '.json', JSON.stringify(saved, null, 1));
    writeResults(o.results, info, runs, profile, notes, minutes);
    log(`wrote ${path.relative(process.cwd(), o.results)}`);
  }
  return runs.some((r) => r.error) ? 1 : 0;
}

main().then((code) => { cleanupNow(); process.exit(code); }, (e: unknown) => {
  console.error(`bench/presence: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  cleanupNow();
  process.exit(1);
});
