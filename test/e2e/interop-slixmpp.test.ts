/**
 * Interop: a second, independent Jabber client — Debian's python3-slixmpp,
 * driven by test/interop/slixmpp_chat.py — signs in to a real node over
 * STARTTLS on the plain c2s port and chats, with another slixmpp and with an
 * `@xmpp/client` user.
 *
 * Most cases pin a SASL mechanism without channel binding: slixmpp 1.8
 * binds only with "tls-unique", which RFC 9266 leaves undefined on TLS 1.3,
 * so its -PLUS attempts are refused (rightly), then its non-PLUS SCRAM
 * attempts send the "y" flag that RFC 5802 §6 makes a server refuse when it
 * offers -PLUS; PLAIN is its fifth try. The default --max-auth-failures (5,
 * the top of RFC 6120 §6.4.5's range) lets an unconfigured slixmpp get there,
 * which the last case checks.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { connect, nextStanza, stopAll, xml, type Client } from '../helpers/xmpp.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/interop/slixmpp_chat.py');

interface SlixEvent { event: string; [key: string]: unknown }

/** One slixmpp_chat.py process: its JSON lines as they come, its exit. */
class Slix {
  readonly events: SlixEvent[] = [];
  stderr = '';
  private out = '';
  private exitCode: number | null | undefined = undefined;
  private waiters: Array<() => void> = [];
  private readonly proc: ChildProcess;

  constructor(readonly label: string, args: string[]) {
    const env = { ...process.env };
    // Debian's interpreter with Debian's packages, whatever pyenv says.
    delete env.PYTHONPATH; delete env.PYTHONHOME;
    this.proc = spawn(PYTHON, [SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString('utf8');
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, nl).trim();
        this.out = this.out.slice(nl + 1);
        if (line) this.events.push(JSON.parse(line) as SlixEvent);
      }
      this.wake();
    });
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString('utf8'); });
    this.proc.on('close', (code) => { this.exitCode = code; this.wake(); });
    this.proc.on('error', (e) => { this.stderr += String(e); this.exitCode = null; this.wake(); });
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  private describe(): string {
    return `slixmpp ${this.label} (exit ${this.exitCode}); stdout: ${JSON.stringify(this.events)}; stderr: ${this.stderr.slice(-1500)}`;
  }

  private async until<T>(check: () => T | undefined, what: string, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = check();
      if (got !== undefined) return got;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} within ${ms} ms: ${this.describe()}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** The first line with this event; fails early if the process ended without printing it. */
  event(name: string, ms = 14000): Promise<SlixEvent> {
    return this.until(() => {
      const e = this.events.find((x) => x.event === name);
      if (e) return e;
      if (this.exitCode !== undefined) throw new Error(`no "${name}" line: ${this.describe()}`);
      return undefined;
    }, `no "${name}" line`, ms);
  }

  /** Waits for the exit and requires success. */
  async succeeded(ms = 14000): Promise<void> {
    const code = await this.until(() => this.exitCode, 'did not exit', ms);
    assert.equal(code, 0, this.describe());
  }

  kill(): void { if (this.exitCode === undefined) this.proc.kill(); }
}

describe('interop: slixmpp (python3-slixmpp) over STARTTLS', function () {
  this.timeout(20000);
  let node: TestNode;
  let procs: Slix[] = [];
  let clients: Client[] = [];
  let seq = 0;
  const user = async (name: string): Promise<string> => {
    const id = `${name}${++seq}`;
    await node.addUser(id, 'secret');
    return id;
  };
  /** Runs slixmpp_chat.py against the node's plain c2s port. */
  const slix = (label: string, jid: string, peer: string, mode: 'send' | 'receive', text: string, mechanism: string | null): Slix => {
    const p = new Slix(label, ['127.0.0.1', String(node.ports.xmpp), jid, 'secret', peer, mode, text, ...(mechanism ? ['--mechanism', mechanism] : [])]);
    procs.push(p);
    return p;
  };
  const assertSignedIn = (e: SlixEvent, jid: string, mechanism: string): void => {
    assert.equal(e.jid, jid);
    assert.equal(e.mechanism, mechanism);
    assert.equal(e.starttls, true, 'upgraded with STARTTLS');
    assert.match(String(e.tls), /^TLSv1\.[23]$/);
    assert.deepEqual(e.sasl_failures, []);
  };

  before(async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import slixmpp'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      throw new Error(`${PYTHON} cannot import slixmpp: install the Debian package python3-slixmpp `
        + `(apt-get install -y python3-slixmpp). ${probe.error ? String(probe.error) : probe.stderr.trim()}`);
    }
    node = await startTestNode('embedded');
  });
  after(async () => { await node?.stop(); });
  afterEach(async () => {
    for (const p of procs) p.kill();
    await stopAll(...clients);
    procs = []; clients = [];
  });

  it('slixmpp alice sends a chat message, slixmpp bob receives it', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const body = 'héllo bob <&> "quoted" ✓';
    const rx = slix('bob (receive)', `${bob}@localhost/recv`, `${alice}@localhost`, 'receive', '', 'SCRAM-SHA-256');
    assertSignedIn(await rx.event('signed-in'), `${bob}@localhost/recv`, 'SCRAM-SHA-256');
    await rx.event('ready');

    const tx = slix('alice (send)', `${alice}@localhost/send`, `${bob}@localhost`, 'send', body, 'SCRAM-SHA-1');
    assertSignedIn(await tx.event('signed-in'), `${alice}@localhost/send`, 'SCRAM-SHA-1');
    await tx.event('sent');
    await tx.succeeded();

    const got = await rx.event('message');
    assert.equal(got.body, body);
    assert.equal(got.from, `${alice}@localhost/send`);
    assert.equal(got.type, 'chat');
    await rx.succeeded();
  });

  it('slixmpp dave chats with @xmpp/client carol, and carol replies', async () => {
    const carol = await user('carol');
    const dave = await user('dave');
    const c = await connect({ port: node.ports.xmpp, username: carol, password: 'secret', resource: 'web' });
    clients.push(c);
    const rx = slix('dave (receive)', `${dave}@localhost/recv`, `${carol}@localhost`, 'receive', '', 'SCRAM-SHA-256');
    await rx.event('ready');

    const incoming = nextStanza(c, (s) => s.is('message') && s.getChildText('body') !== null, 14000);
    const tx = slix('dave (send)', `${dave}@localhost/send`, `${carol}@localhost`, 'send', 'hi carol, from slixmpp', 'PLAIN');
    assertSignedIn(await tx.event('signed-in'), `${dave}@localhost/send`, 'PLAIN');
    const msg = await incoming;
    assert.equal(msg.getChildText('body'), 'hi carol, from slixmpp');
    assert.equal(msg.attrs.from, `${dave}@localhost/send`);
    assert.equal(msg.attrs.type, 'chat');
    await tx.succeeded();

    // Reply to dave's bare JID: chat goes to every available resource (RFC 6121 §8.5.2.1.1), here dave/recv.
    await c.send(xml('message', { to: `${dave}@localhost`, type: 'chat' }, xml('body', {}, 'hello dave, from @xmpp/client')));
    const got = await rx.event('message');
    assert.equal(got.body, 'hello dave, from @xmpp/client');
    assert.equal(got.from, `${carol}@localhost/web`);
    await rx.succeeded();
  });

  it('slixmpp with its default settings signs in and chats', async () => {
    const erin = await user('erin');
    const fay = await user('fay');
    const c = await connect({ port: node.ports.xmpp, username: fay, password: 'secret', resource: 'web' });
    clients.push(c);
    const incoming = nextStanza(c, (s) => s.is('message') && s.getChildText('body') !== null, 14000);
    const tx = slix('erin (send, defaults)', `${erin}@localhost/send`, `${fay}@localhost`, 'send', 'hello with defaults', null);
    const signedIn = await tx.event('signed-in');
    assert.equal(signedIn.jid, `${erin}@localhost/send`);
    assert.equal(signedIn.starttls, true);
    assert.equal((await incoming).getChildText('body'), 'hello with defaults');
    await tx.succeeded();
  });
});
