/**
 * The imp side of the presence benchmark: bulk provisioning straight into
 * the Redis store (users with one set of SCRAM credentials derived once;
 * rosters through RosterStore.importItems, many users per pipeline), and an
 * imp node started as `node bin/imp.js serve --store redis ...` with a raised
 * open-file limit, its ports found from its log line or, at warn level
 * (where that info line is not printed), from the sockets it listens on.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { openStore } from '../../src/store/open.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import type { RosterItem } from '../../src/store/roster-types.js';
import { deriveCredentials } from '../../src/xmpp/sasl/scram.js';
import { pool } from '../lib/provision.js';
import { fdLimitOf, listeningPorts, probe, sleep, spawnWithFds, stopChild } from './procs.js';
import { DOMAIN, GROUP, PASSWORD, type Ring, userName } from './topology.js';

export interface ProvisionTimes { usersMs: number; rostersMs: number; items: number }

export function rosterItems(ring: Ring, i: number): RosterItem[] {
  return ring.contacts(i).map((c) => ({
    jid: `${userName(c)}@${DOMAIN}`, name: null, groups: [GROUP], subscription: 'both',
    ask: false, pendingIn: false, approved: false, hidden: false,
  }));
}

/** Users u0..u{N-1} and their rosters, written into the Redis store the node will open (prefix imp:). */
export async function provisionImp(redisUrl: string, ring: Ring): Promise<ProvisionTimes> {
  const store = await openStore({ kind: 'redis', redisUrl, domain: DOMAIN });
  try {
    const creds = deriveCredentials(PASSWORD, { iterations: 4096 });
    const t0 = performance.now();
    await pool(ring.n, 1000, async (i) => {
      await store.users.create(userName(i), { imPresenceEnabled: true, homeCluster: true }, creds);
    });
    const t1 = performance.now();
    const importItems = store.rosters.importItems?.bind(store.rosters);
    if (!importItems) throw new Error('the redis store has no RosterStore.importItems');
    await pool(ring.n, 2000, (i) => importItems(userName(i), rosterItems(ring, i)));
    const t2 = performance.now();
    return { usersMs: t1 - t0, rostersMs: t2 - t1, items: ring.n * ring.k };
  } finally {
    await store.close();
  }
}

/** `INFO <section>` fields of a Redis. */
export async function redisInfo(url: string, section: string): Promise<Record<string, string>> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const out: Record<string, string> = {};
    for (const line of (await r.info(section)).split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  } finally { r.disconnect(); }
}

export async function redisCommand(url: string, ...args: string[]): Promise<unknown> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try { await r.connect(); return await r.call(args[0]!, ...args.slice(1)); } finally { r.disconnect(); }
}

/** process.memoryUsage() of the node after two full garbage collections. */
export interface SettledMemory { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }

/** One garbage collection the node reported (node --trace-gc), timed on arrival here (performance.now()). */
export interface GcEvent { at: number; kind: string; pauseMs: number }

export interface ImpNode {
  proc: ChildProcess; pid: number; ports: { xmpp: number; xmpps: number; http: number }; fdLimit: number;
  output(): string;
  /** With traceGc: every collection so far. */
  gcEvents: GcEvent[];
  /** Memory after two forced full GCs (bench/lib/gc-hook.js, preloaded; SIGUSR2). */
  settledMemory(): Promise<SettledMemory | null>;
  /** Writes a heap snapshot (SIGTTIN) and resolves with its file once written, or null. */
  heapSnapshot(): Promise<string | null>;
  stop(): Promise<string | null>;
}

/** Bytes per user of each kind of key, from MEMORY USAGE of the keys of a sample of users. */
export async function redisBytesPerUser(url: string, sample: number[], n: number): Promise<Array<{ key: string; bytes: number }>> {
  const k = new RedisKeys();
  const kinds: Array<[string, (u: string) => string]> = [
    ['user', (u) => k.user(u)], ['cred', (u) => k.credentials(u)], ['roster', (u) => k.roster(u)], ['roster-ver', (u) => k.rosterVersion(u)],
    ['watchers', (u) => k.watchers(u)], ['sessions', (u) => k.sessions(u)],
  ];
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const out: Array<{ key: string; bytes: number }> = [];
    for (const [kind, key] of kinds) {
      let sum = 0;
      for (const i of sample) sum += Number(await r.call('MEMORY', 'USAGE', key(userName(i)), 'SAMPLES', '0') ?? 0);
      out.push({ key: `${kind}:<user>`, bytes: sum / sample.length });
    }
    const nodeIndex = Number(await r.call('MEMORY', 'USAGE', k.nodeSessions('bench'), 'SAMPLES', '0') ?? 0);
    const users = Number(await r.call('MEMORY', 'USAGE', k.users(), 'SAMPLES', '0') ?? 0);
    out.push({ key: 'node-sessions:bench ÷ N', bytes: nodeIndex / n }, { key: 'users (index) ÷ N', bytes: users / n });
    return out;
  } finally { r.disconnect(); }
}

/** Starts the node; with `cpuProfDir`, under node --cpu-prof (the profile is written when it stops). */
export async function startImp(root: string, redisUrl: string, dataDir: string, cpuProfDir?: string, traceGc = false): Promise<ImpNode> {
  // SIGTTIN writes a heap snapshot into dataDir (heapSnapshot()); nothing else sends it.
  const memoryFile = path.join(dataDir, 'memory.json');
  const nodeArgs = ['--expose-gc', '--import', pathToFileURL(path.join(root, 'dist/bench/lib/gc-hook.js')).href];
  if (cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', cpuProfDir);
  if (traceGc) nodeArgs.push('--trace-gc');
  nodeArgs.push('--heapsnapshot-signal=SIGTTIN', `--diagnostic-dir=${dataDir}`);
  const args = [
    'serve', '--store', 'redis', '--redis-url', redisUrl, '--node-id', 'bench', '--domain', DOMAIN,
    '--xmpp-host', '127.0.0.1', '--xmpp-port', '0', '--xmpps-port', '0', '--http-port', '0',
    '--allow-plaintext', '--log-level', 'warn', '--max-contacts', '1000', '--max-watchers', '1000', '--idle-timeout', '3600',
    '--auth-timeout', '300', '--data-dir', dataDir,
  ];
  const proc = spawnWithFds([process.execPath, ...nodeArgs, path.join(root, 'bin/imp.js'), ...args], {
    cwd: root,
    // No IMP_* variables from the caller's shell: the flags are the whole configuration.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', BENCH_MEMORY_FILE: memoryFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let started: { xmpp: number; xmpps: number; http: number } | null = null;
  const gcEvents: GcEvent[] = [];
  let partial = '';
  const onGc = (d: Buffer): void => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    const at = performance.now();
    for (const line of lines) {
      // [pid:0x…]   1234 ms: Scavenge 190.5 (210.2) -> 185.1 (212.2) MB, 3.45 / 0.00 ms  (…)
      const m = /ms: ([A-Za-z -]+?) [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/.exec(line);
      if (m) gcEvents.push({ at, kind: m[1]!.trim(), pauseMs: Number(m[2]) });
    }
  };
  const onData = (d: Buffer): void => {
    if (traceGc) onGc(d);
    out = (out + d.toString()).slice(-8000);
    for (const line of out.split('\n')) {
      if (!line.includes('imp node started')) continue;
      try { const j = JSON.parse(line) as { xmpp: number; xmpps: number; http: number }; started = { xmpp: j.xmpp, xmpps: j.xmpps, http: j.http }; } catch { /* partial line */ }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-8000); });
  const pid = proc.pid!;
  const deadline = Date.now() + 30000;
  let ports: { xmpp: number; xmpps: number; http: number } | null = null;
  while (!ports) {
    if (proc.exitCode !== null) throw new Error(`imp serve exited with ${proc.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`imp serve did not start listening within 30 s: ${out}`);
    await sleep(100);
    if (started) { ports = started; break; }
    let listening: number[] = [];
    try { listening = listeningPorts(pid); } catch { /* not yet */ }
    if (listening.length < 3) continue;
    ports = await classify(listening);
  }
  const node: ImpNode = {
    proc, pid, ports, fdLimit: fdLimitOf(pid), output: () => out, gcEvents,
    settledMemory: async () => {
      rmSync(memoryFile, { force: true });
      for (let i = 0; i < 2; i++) { proc.kill('SIGUSR2'); await sleep(1500); }
      const deadline = Date.now() + 15000;
      while (!existsSync(memoryFile) && Date.now() < deadline) await sleep(100);
      await sleep(300);
      try { return JSON.parse(readFileSync(memoryFile, 'utf8')) as SettledMemory; } catch { return null; }
    },
    heapSnapshot: async () => {
      proc.kill('SIGTTIN');
      const deadline = Date.now() + 120000;
      let last = -1;
      while (Date.now() < deadline) {
        await sleep(1000);
        const f = readdirSync(dataDir).find((n) => n.endsWith('.heapsnapshot'));
        if (!f) continue;
        const size = statSync(path.join(dataDir, f)).size;
        // Written when the size stops changing and the node answers again.
        if (size > 0 && size === last) {
          try { await fetch(`http://127.0.0.1:${node.ports.http}/healthz`, { signal: AbortSignal.timeout(5000) }); return path.join(dataDir, f); } catch { /* still busy */ }
        }
        last = size;
      }
      return null;
    },
    stop: async () => {
      await stopChild(proc, 30000);
      if (!cpuProfDir) return null;
      const f = readdirSync(cpuProfDir).filter((n) => n.endsWith('.cpuprofile'));
      return f.length ? path.join(cpuProfDir, f[0]!) : null;
    },
  };
  return node;
}

/** Which listening port is which: HTTP answers /healthz, XMPP answers a stream header in the clear, the direct-TLS port does not. */
async function classify(ports: number[]): Promise<{ xmpp: number; xmpps: number; http: number } | null> {
  let http = 0; let xmpp = 0; const rest: number[] = [];
  for (const p of ports) {
    const hello = await probe(p, "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", 1500);
    if (hello.startsWith('HTTP/')) http = p;
    else if (hello.includes('stream:stream') || hello.includes('<?xml')) xmpp = p;
    else rest.push(p);
  }
  if (!http || !xmpp || rest.length !== 1) return null;
  // /healthz must answer before the node counts as up.
  try {
    const res = await fetch(`http://127.0.0.1:${http}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
  } catch { return null; }
  return { xmpp, xmpps: rest[0]!, http };
}
