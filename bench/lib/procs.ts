/**
 * The processes a benchmark runs against: an imp node (`node bin/imp.js
 * serve`) and, for the redis store, a private redis-server, both on loopback
 * and ephemeral ports, plus what /proc says about them. Every child and temp
 * folder is registered for clean-up, which also runs on exit and on signals.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// ---------------------------------------------------------------------------
// Clean-up

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Kills every child still running and removes every temp folder; synchronous, so it can run in 'exit'. */
export function cleanupNow(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

let hooked = false;
export function installCleanupHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\nbench: ${sig}, cleaning up`);
      cleanupNow();
      process.exit(130);
    });
  }
}

export function tempDir(tag: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `imp-bench-${tag}-`));
  tempDirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

/** Registers a child for clean-up; `untrack` once it has exited by itself or been stopped. */
export function track(p: ChildProcess): ChildProcess { children.add(p); return p; }
export function untrack(p: ChildProcess): void { children.delete(p); }

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`. */
async function stopChild(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGTERM');
    if (!(await waitExit(p, ms))) {
      p.kill('SIGKILL');
      await waitExit(p, 2000);
    }
  }
  children.delete(p);
}

// ---------------------------------------------------------------------------
// /proc

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat counts CPU time in these ticks.

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: count fields after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** CPU seconds the whole machine has spent, summed over all cores: in user and system code (processes), and in interrupts (here mostly loopback TCP). */
export function machineCpuSeconds(): { proc: number; irq: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return { proc: (f[0] + f[1] + f[2]) / CLK_TCK, irq: (f[5] + f[6] + f[7]) / CLK_TCK };
}

/**
 * Waits until processes other than ours use less than `maxShare` of one
 * core (other work on the machine, e.g. a test run, would skew every
 * number), checking over 1 s windows, for at most `maxMs`. Returns the
 * share of a core others used in the last window.
 */
export async function waitQuiet(ourPids: number[], maxShare: number, maxMs: number, onWait: (share: number) => void): Promise<number> {
  const deadline = Date.now() + maxMs;
  let warned = false;
  for (;;) {
    const ours0 = ourPids.reduce((a, p) => a + cpuSeconds(p), 0) + selfCpu();
    const m0 = machineCpuSeconds().proc;
    const t0 = Date.now();
    await sleep(1000);
    const ours = ourPids.reduce((a, p) => a + cpuSeconds(p), 0) + selfCpu() - ours0;
    const share = Math.max(0, machineCpuSeconds().proc - m0 - ours) / ((Date.now() - t0) / 1000);
    if (share <= maxShare || Date.now() > deadline) return share;
    if (!warned) { onWait(share); warned = true; }
  }
}

function selfCpu(): number { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

// ---------------------------------------------------------------------------
// redis-server

export class RedisChild {
  private constructor(readonly proc: ChildProcess, readonly port: number, readonly dir: string) {}

  get url(): string { return `redis://127.0.0.1:${this.port}`; }
  get pid(): number { return this.proc.pid!; }

  /** A private redis-server with no persistence at all (nothing measured here should wait on a disk). */
  static async start(): Promise<RedisChild> {
    const port = await freePort();
    const dir = tempDir('redis');
    const proc = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(proc);
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const r = new RedisChild(proc, port, dir);
    await new Promise<void>((resolve, reject) => {
      proc.once('error', (e) => reject(new Error(`cannot start redis-server (is it installed?): ${e.message}`)));
      const deadline = Date.now() + 10000;
      const tryConnect = (): void => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => { s.end('PING\r\n'); resolve(); });
        s.once('error', () => {
          s.destroy();
          if (proc.exitCode !== null) reject(new Error(`redis-server exited with ${proc.exitCode}: ${err}`));
          else if (Date.now() > deadline) reject(new Error('redis-server did not start within 10 s'));
          else setTimeout(tryConnect, 30);
        });
      };
      tryConnect();
    });
    return r;
  }

  async stop(): Promise<void> {
    await stopChild(this.proc, 5000);
    removeTempDir(this.dir);
  }
}

export function redisVersion(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return 'not installed';
  return /v=([0-9.]+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

// ---------------------------------------------------------------------------
// The imp node

export interface ImpServerOptions {
  store: 'memory' | 'embedded' | 'redis';
  root: string;
  adminToken: string;
  dataDir?: string;
  redisUrl?: string;
  redisPrefix?: string;
  cpuProfDir?: string;
  /** Where the server's gc-hook writes its memory usage. */
  memoryFile: string;
}

export class ImpServer {
  private stderr = '';
  private constructor(
    readonly proc: ChildProcess,
    readonly ports: { xmpp: number; xmpps: number; http: number },
    readonly adminToken: string,
    readonly cpuProfDir: string | undefined,
    private readonly memoryFile: string,
  ) {}

  get pid(): number { return this.proc.pid!; }

  /**
   * Starts `node bin/imp.js serve` at warn level. The start-up line is an
   * info log, so the ports are chosen here (free ephemeral ports) and
   * readiness is /healthz answering 200.
   */
  static async start(o: ImpServerOptions): Promise<ImpServer> {
    const [xmpp, xmpps, http] = [await freePort(), await freePort(), await freePort()];
    const args = [
      'serve', '--store', o.store, '--domain', 'localhost', '--node-id', 'bench',
      '--xmpp-host', '127.0.0.1', '--xmpp-port', String(xmpp), '--xmpps-port', String(xmpps),
      '--http-host', '127.0.0.1', '--http-port', String(http),
      '--log-level', 'warn', '--allow-plaintext', '--admin-token', o.adminToken,
      // The sign-in runs queue up to --users connections; none should time out while waiting its turn.
      '--auth-timeout', '120',
    ];
    if (o.dataDir) args.push('--data-dir', o.dataDir);
    if (o.redisUrl) args.push('--redis-url', o.redisUrl, '--redis-prefix', o.redisPrefix ?? 'imp-bench:');
    const nodeArgs = ['--expose-gc', '--import', pathToFileURL(path.join(o.root, 'dist/bench/lib/gc-hook.js')).href];
    if (o.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', o.cpuProfDir);
    const proc = spawn(process.execPath, [...nodeArgs, path.join(o.root, 'bin/imp.js'), ...args], {
      cwd: o.root,
      // No IMP_* variables from the caller's shell: the flags above are the whole configuration.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', BENCH_MEMORY_FILE: o.memoryFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(proc);
    const s = new ImpServer(proc, { xmpp, xmpps, http }, o.adminToken, o.cpuProfDir, o.memoryFile);
    proc.stdout!.on('data', (d: Buffer) => { s.stderr = (s.stderr + d.toString()).slice(-4000); });
    proc.stderr!.on('data', (d: Buffer) => { s.stderr = (s.stderr + d.toString()).slice(-4000); });
    const deadline = Date.now() + 30000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`imp serve exited with ${proc.exitCode}: ${s.stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${http}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`imp serve did not become healthy within 30 s: ${s.stderr}`);
      await sleep(100);
    }
    return s;
  }

  /** What the server wrote to stdout/stderr lately (warnings and errors only, at warn level). */
  get output(): string { return this.stderr; }

  async metrics(): Promise<Record<string, number>> {
    const res = await fetch(`http://127.0.0.1:${this.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) });
    const out: Record<string, number> = {};
    for (const line of (await res.text()).split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  }

  /**
   * Waits until the node holds no XMPP connection (after the clients hung
   * up). A scrape that times out (the node's event loop is busy) is retried
   * until the deadline.
   */
  async waitIdle(ms = 60000): Promise<void> {
    const deadline = Date.now() + ms;
    let last: string;
    for (;;) {
      try {
        const m = await this.metrics();
        if ((m.imp_xmpp_connections ?? 0) === 0 && (m.imp_xmpp_sessions ?? 0) === 0) return;
        last = `${m.imp_xmpp_connections} connections, ${m.imp_xmpp_sessions} sessions`;
      } catch (e) {
        last = `/metrics: ${(e as Error).message}`;
      }
      if (Date.now() > deadline) throw new Error(`the server is not idle ${ms} ms after its clients left (${last})`);
      await sleep(100);
    }
  }

  cpuSeconds(): number { return cpuSeconds(this.pid); }

  /** Memory after two full garbage collections (see gc-hook.ts): RSS, and the live JS heap plus memory held outside it (buffers, native objects). */
  async settledMemory(): Promise<{ rss: number; live: number }> {
    rmSync(this.memoryFile, { force: true });
    for (let i = 0; i < 2; i++) {
      this.proc.kill('SIGUSR2');
      await sleep(500);
    }
    const deadline = Date.now() + 10000;
    while (!existsSync(this.memoryFile) && Date.now() < deadline) await sleep(100);
    await sleep(200);
    const m = JSON.parse(readFileSync(this.memoryFile, 'utf8')) as { rss: number; heapUsed: number; external: number };
    return { rss: m.rss, live: m.heapUsed + m.external };
  }

  /** Stops the node (SIGTERM; it closes cleanly, which is also when --cpu-prof writes its profile). Returns the profile file, if any. */
  async stop(): Promise<string | null> {
    await stopChild(this.proc, 20000);
    if (!this.cpuProfDir) return null;
    const f = readdirSync(this.cpuProfDir).filter((n) => n.endsWith('.cpuprofile'));
    return f.length ? path.join(this.cpuProfDir, f[0]) : null;
  }
}
