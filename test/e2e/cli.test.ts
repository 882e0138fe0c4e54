/**
 * The `imp` command as a user runs it: a real process, the embedded store
 * in a temporary data folder. The README's flow: add two users from the
 * shell, start a node, two clients sign in over STARTTLS and chat.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, nextStanza, stopAll, xml, type Client } from '../helpers/xmpp.js';

const IMP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/imp.js');

function imp(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [IMP, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Served { proc: ChildProcess; ports: { xmpp: number; xmpps: number; http: number }; stdout: string }

function serve(args: string[]): Promise<Served> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [IMP, 'serve', '--xmpp-host', '127.0.0.1', '--xmpp-port', '0', '--xmpps-port', '0', '--http-port', '0', ...args],
      { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => { proc.kill(); reject(new Error(`node did not start: ${out}${err}`)); }, 20000);
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"imp node started"'));
      if (line) {
        clearTimeout(t);
        const j = JSON.parse(line) as { xmpp: number; xmpps: number; http: number };
        resolve({ proc, ports: { xmpp: j.xmpp, xmpps: j.xmpps, http: j.http }, stdout: out });
      }
    });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`imp serve exited with ${code}: ${err}`)); });
  });
}

function stop(s: Served): Promise<number | null> {
  return new Promise((resolve) => { s.proc.removeAllListeners('exit'); s.proc.once('exit', (code) => resolve(code)); s.proc.kill('SIGTERM'); });
}

describe('the imp command', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'imp-cli-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stops start-up with a message naming a bad option, value, config key or variable', () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['serve', '--bogus'], {}, /--bogus/],
      [['serve', '--xmpp-port', 'abc'], {}, /--xmpp-port/],
      [['serve', '--xmpp-port', '70000'], {}, /--xmpp-port/],
      [['serve', '--store', 'postgres'], {}, /--store/],
      [['serve', '--tls-cert', '/nonexistent.pem'], {}, /--tls-cert and --tls-key go together/],
      [['serve'], { IMP_XMPP_PORT: 'x' }, /IMP_XMPP_PORT/],
      [['serve'], { IMP_NO_SUCH_THING: '1' }, /IMP_NO_SUCH_THING/],
    ];
    for (const [args, env, re] of cases) {
      const r = imp([...args, '--data-dir', dir], env);
      assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
      assert.match(r.stderr, re);
    }
    writeFileSync(path.join(dir, 'bad.yaml'), 'domain: example.com\nxmpp_prot: 5222\n');
    const r = imp(['serve', '--config', path.join(dir, 'bad.yaml')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /xmpp_prot/);
    writeFileSync(path.join(dir, 'bad.json'), '{"xmppPort": "many"}');
    const r2 = imp(['serve', '--config', path.join(dir, 'bad.json')]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /xmpp-port in .*bad\.json/);
  });

  it('refuses to start when Redis cannot be reached, naming the URL', () => {
    const r = imp(['serve', '--redis-url', 'redis://127.0.0.1:1', '--data-dir', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /redis:\/\/127\.0\.0\.1:1/);
  });

  it('adds users from the shell, then a node serves them: two clients sign in over STARTTLS and chat', async () => {
    assert.equal(imp(['user', 'add', 'alice', '--password', 'wonderland', '--data-dir', dir]).code, 0);
    assert.equal(imp(['user', 'add', 'bob', '--password', 'builder', '--display-name', 'Bob B.', '--data-dir', dir]).code, 0);
    const dup = imp(['user', 'add', 'alice', '--password', 'x', '--data-dir', dir]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /exists/);
    const list = imp(['user', 'list', '--data-dir', dir]);
    assert.match(list.stdout, /alice/);
    assert.match(list.stdout, /Bob B\./);

    // Nothing like the passwords is kept anywhere in the data folder.
    const db = readFileSync(path.join(dir, 'imp.sqlite'));
    assert.equal(db.includes('wonderland'), false);
    assert.equal(db.includes('builder'), false);

    const node = await serve(['--data-dir', dir, '--log-level', 'info']);
    // The admin token is generated at first start, printed once, and kept.
    assert.match(node.stdout, /Admin API bearer token/);
    const token = readFileSync(path.join(dir, 'admin-token'), 'utf8').trim();
    assert.ok(node.stdout.includes(token));
    let a: Client | undefined;
    let b: Client | undefined;
    try {
      a = await connect({ port: node.ports.xmpp, username: 'alice', password: 'wonderland' });
      b = await connect({ port: node.ports.xmpp, username: 'bob', password: 'builder' });
      const got = nextStanza(b, (s) => s.is('message'));
      await a.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'hi bob')));
      assert.equal((await got).getChildText('body'), 'hi bob');
      // While the node runs, the shell can still change users in the same store.
      assert.equal(imp(['user', 'set', 'bob', '--email', 'bob@example.com', '--data-dir', dir]).code, 0);
      const res = await fetch(`http://127.0.0.1:${node.ports.http}/api/v1/users/bob`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(((await res.json()) as { email: string }).email, 'bob@example.com');
    } finally {
      await stopAll(a, b);
      assert.equal(await stop(node), 0);
    }
    // A second start keeps the token and the certificate, and prints no token.
    const again = await serve(['--data-dir', dir, '--log-level', 'info']);
    assert.doesNotMatch(again.stdout, /Admin API bearer token/);
    assert.ok(existsSync(path.join(dir, 'tls', 'localhost.crt')));
    await stop(again);
    assert.equal(imp(['user', 'remove', 'bob', '--data-dir', dir]).code, 0);
    assert.doesNotMatch(imp(['user', 'list', '--data-dir', dir]).stdout, /bob/);
  });
});
