/**
 * The Prosody side of the presence benchmark: Debian's prosody package
 * (installed with apt-get when missing), a config of our own in a temp
 * folder (loopback port of its own, epoll, no rate limits, plaintext PLAIN
 * allowed, internal_plain auth, internal file storage under the temp
 * folder), the same users and rosters written straight into Prosody's
 * storage files, and Prosody run in the foreground as a child process.
 *
 * Prosody 0.12 internal storage (util/datamanager.lua): one Lua file per
 * user and store, `<data_path>/<host>/<store>/<user>.dat`, holding
 * `return <table>;`, where host and user are encoded by replacing every
 * non-alphanumeric byte with %xx ("localhost" stays as it is; a dot would be
 * %2e). accounts: `{ password = "..." }` (internal_plain keeps the password).
 * roster: one entry per contact JID `{ subscription = "both"; groups = {
 * ["G"] = true } }` plus `[false] = { version = 1; pending = {} }`, the
 * roster's metadata (core/rostermanager.lua).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fdLimitOf, freePort, sleep, spawnWithFds, stopChild, waitPort } from './procs.js';
import { DOMAIN, GROUP, PASSWORD, type Ring, userName } from './topology.js';

const PROSODY = '/usr/bin/prosody';

/** Prosody's version, or null when it is not installed (and could not be). `log` tells what was tried. */
export function ensureProsody(log: (s: string) => void): string | null {
  if (!existsSync(PROSODY)) {
    log('prosody is not installed: apt-get install -y prosody lua-event');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-q', 'prosody', 'lua-event'], { env, encoding: 'utf8', timeout: 300000 });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { env, encoding: 'utf8', timeout: 300000 });
      r = spawnSync('apt-get', ['install', '-y', '-q', 'prosody', 'lua-event'], { env, encoding: 'utf8', timeout: 300000 });
    }
    if (r.status !== 0 || !existsSync(PROSODY)) {
      log(`could not install prosody: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
      return null;
    }
  }
  try { return readFileSync('/usr/lib/prosody/prosody.version', 'utf8').trim(); } catch { return 'unknown'; }
}

/** util/datamanager.lua's encode(): every byte that is not a letter or digit becomes %xx. */
export function encodePath(s: string): string {
  return Buffer.from(s, 'utf8').reduce((out, b) => out + (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`), '');
}

const luaString = (s: string): string => `"${s.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n')}"`;

function rosterFile(ring: Ring, i: number): string {
  const items = ring.contacts(i).map((c) => `[${luaString(`${userName(c)}@${DOMAIN}`)}] = { ["subscription"] = "both"; ["groups"] = { [${luaString(GROUP)}] = true; }; };`);
  return `return {\n[false] = { ["version"] = 1; ["pending"] = {}; };\n${items.join('\n')}\n};\n`;
}

/** Writes accounts and rosters of u0..u{N-1}; returns the time it took. */
export function provisionProsody(dataPath: string, ring: Ring): number {
  const t0 = performance.now();
  const host = path.join(dataPath, encodePath(DOMAIN));
  const accounts = path.join(host, 'accounts');
  const roster = path.join(host, 'roster');
  mkdirSync(accounts, { recursive: true });
  mkdirSync(roster, { recursive: true });
  const account = `return {\n["password"] = ${luaString(PASSWORD)};\n};\n`;
  for (let i = 0; i < ring.n; i++) {
    const u = encodePath(userName(i));
    writeFileSync(path.join(accounts, `${u}.dat`), account);
    writeFileSync(path.join(roster, `${u}.dat`), rosterFile(ring, i));
  }
  return performance.now() - t0;
}

export function prosodyConfig(dir: string, dataPath: string, port: number): string {
  return `-- Written by bench/presence/prosody.ts for one benchmark run.
run_as_root = true -- the benchmark runs as root in a throw-away container; nothing here is served beyond loopback
pidfile = ${luaString(path.join(dir, 'prosody.pid'))}
data_path = ${luaString(dataPath)}
log = { { levels = { min = "warn" }, to = "file", filename = ${luaString(path.join(dir, 'prosody.log'))} } }
network_backend = "epoll"
network_settings = { tcp_backlog = 1024 }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "posix" }
-- No s2s (loopback only), no offline storage; mod_limits is not loaded, so no rate limits.
modules_disabled = { "s2s"; "s2s_auth_certs"; "offline"; "limits" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
certificates = ${luaString(path.join(dir, 'certs'))}
VirtualHost ${luaString(DOMAIN)}
`;
}

export interface ProsodyNode { proc: ChildProcess; pid: number; port: number; fdLimit: number; log(): string; stop(): Promise<void> }

/** Writes the config into `dir` and runs prosody in the foreground (-F) until stop(). */
export async function startProsody(dir: string, dataPath: string): Promise<ProsodyNode> {
  const port = await freePort();
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  const cfg = path.join(dir, 'prosody.cfg.lua');
  writeFileSync(cfg, prosodyConfig(dir, dataPath, port));
  const proc = spawnWithFds([PROSODY, '--config', cfg, '-F'], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-4000); });
  proc.stderr!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-4000); });
  const log = (): string => {
    let file = '';
    try { file = readFileSync(path.join(dir, 'prosody.log'), 'utf8').slice(-4000); } catch { /* none yet */ }
    return `${out}\n${file}`.trim();
  };
  try {
    await waitPort(port, 30000, () => proc.exitCode === null);
  } catch (e) {
    throw new Error(`prosody did not start: ${(e as Error).message}: ${log()}`, { cause: e });
  }
  await sleep(300);
  return { proc, pid: proc.pid!, port, fdLimit: fdLimitOf(proc.pid!), log, stop: () => stopChild(proc, 15000) };
}
