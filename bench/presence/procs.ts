/**
 * The processes of the presence benchmark — redis-server, the imp node,
 * Prosody, the load generator — started on loopback, each registered here
 * so that every one of them and every temp folder goes away on exit, on a
 * signal or on failure. Servers and the generator are started through bash
 * with a raised open-file limit (`ulimit -n`), which is then checked from
 * /proc.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { freePort, removeTempDir, sleep, tempDir, track, untrack } from '../lib/procs.js';

export { cpuSeconds, freePort, rssBytes, sleep, cleanupNow, installCleanupHooks, tempDir, removeTempDir, track } from '../lib/procs.js';

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`. */
export async function stopChild(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGTERM');
    if (!(await waitExit(p, ms))) {
      p.kill('SIGKILL');
      await waitExit(p, 3000);
    }
  }
  untrack(p);
}

export const WANTED_FDS = 65536;

/**
 * Runs `argv` through bash after raising the open-file limit to 65536, or to
 * the hard limit when that is lower (a container may cap it); `exec` keeps
 * the pid, so the returned process is the program itself.
 */
export function spawnWithFds(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdio: StdioOptions }): ChildProcess {
  const script = `ulimit -n ${WANTED_FDS} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  return track(spawn('bash', ['-c', script, 'bash', ...argv], { cwd: opts.cwd, env: opts.env, stdio: opts.stdio }));
}

/** The soft open-file limit a process runs with. */
export function fdLimitOf(pid: number): number {
  return Number(/Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? NaN);
}

/** The TCP ports a process listens on (its socket inodes matched against /proc/net/tcp{,6}). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const ports: number[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || c[3] !== '0A') continue; // 0A: LISTEN
      if (inodes.has(c[9]!)) ports.push(parseInt(c[1]!.split(':')[1]!, 16));
    }
  }
  return [...new Set(ports)];
}

/** Connects, writes `hello`, and resolves with what comes back within `ms` ('' when nothing does). */
export function probe(port: number, hello: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1');
    const done = (): void => { s.destroy(); resolve(got); };
    const t = setTimeout(done, ms);
    s.once('connect', () => s.write(hello));
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); if (got.length > 40) { clearTimeout(t); done(); } });
    s.once('error', () => { clearTimeout(t); done(); });
    s.once('close', () => { clearTimeout(t); done(); });
  });
}

/** Waits until a TCP port accepts connections. */
export async function waitPort(port: number, ms: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (!alive()) throw new Error(`the process meant to listen on ${port} has exited`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// redis-server

export class RedisProc {
  private constructor(readonly proc: ChildProcess, readonly port: number, readonly dir: string) {}
  get url(): string { return `redis://127.0.0.1:${this.port}`; }
  get pid(): number { return this.proc.pid!; }

  /** A private redis-server, no persistence (`--save '' --appendonly no`), on an ephemeral loopback port. */
  static async start(): Promise<RedisProc> {
    const port = await freePort();
    const dir = tempDir('redis');
    const proc = track(spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    await new Promise<void>((resolve, reject) => {
      proc.once('error', (e) => reject(new Error(`cannot start redis-server (is it installed?): ${e.message}`)));
      waitPort(port, 10000, () => proc.exitCode === null).then(resolve, (e: Error) => reject(new Error(`${e.message}: ${err}`)));
    });
    return new RedisProc(proc, port, dir);
  }

  async stop(): Promise<void> {
    await stopChild(this.proc, 5000);
    removeTempDir(this.dir);
  }
}
