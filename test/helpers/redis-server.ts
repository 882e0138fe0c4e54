/**
 * A private redis-server per test run, on an ephemeral loopback port, so runs
 * never collide and never depend on what an earlier run left behind. It keeps
 * an append-only file (fsync always) in a temp folder, so a test can stop and
 * restart it and find every acknowledged write again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  readonly dir: string;
  constructor(readonly port: number) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'imp-redis-'));
  }

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    await r.start();
    return r;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const proc = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once('error', (e) => reject(new Error(`cannot start redis-server (is it installed?): ${e.message}`)));
      const deadline = Date.now() + 10000;
      const tryConnect = (): void => {
        const s = net.connect(this.port, '127.0.0.1');
        s.once('connect', () => { s.end('PING\r\n'); resolve(); });
        s.once('error', () => {
          s.destroy();
          if (proc.exitCode !== null) reject(new Error(`redis-server exited with ${proc.exitCode}`));
          else if (Date.now() > deadline) reject(new Error('redis-server did not start'));
          else setTimeout(tryConnect, 30);
        });
      };
      tryConnect();
    });
  }

  /** Stops the server (SIGTERM: it finishes writing its AOF) and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill('SIGTERM'); });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let shared: RedisServer | null = null;

/** The run's shared Redis (started by the root hook). */
export function testRedisUrl(): string {
  if (!shared) throw new Error('the test Redis is not running (root hook not loaded?)');
  return shared.url;
}

/** A fresh key prefix for one suite. */
export function freshPrefix(tag = 't'): string {
  return `imp-test:${tag}:${randomBytes(6).toString('hex')}:`;
}

export async function startSharedRedis(): Promise<void> { shared = await RedisServer.start(); }
export async function stopSharedRedis(): Promise<void> { await shared?.destroy(); shared = null; }
