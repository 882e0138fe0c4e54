/**
 * A minimal raw-socket XMPP client for load generation: thousands of these
 * run in one process, so it does only what a signing-in, chatting client
 * must. Negotiation (stream header, optional STARTTLS, SASL SCRAM-SHA-256 or
 * PLAIN, restart, bind, initial presence) is parsed with imp's own
 * StreamParser; once signed in, incoming bytes are only scanned for
 * `</message>` and the <body> before it, which costs next to nothing.
 *
 * SCRAM: the client side of RFC 5802 / RFC 7677, written out here instead
 * of using src/xmpp/sasl/scram.ts's ScramClient only so that the salted
 * password (PBKDF2, 4096 rounds) can be cached per salt: every benchmark
 * user has the same password, and without the cache the generator would
 * spend a core on PBKDF2 that the server never does.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Element } from 'ltx';
import { StreamParser, type StreamEvent } from '../../src/xmpp/codec/stream-parser.js';
import type { Mech } from './options.js';

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

interface ScramKeys { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer }

/** SCRAM-SHA-256 client keys per (password, salt, iterations): PBKDF2 runs once per distinct salt. */
export class ScramKeyCache {
  private keys = new Map<string, ScramKeys>();
  misses = 0;

  get(password: string, saltB64: string, iterations: number): ScramKeys {
    const k = `${saltB64},${iterations},${password}`;
    let v = this.keys.get(k);
    if (!v) {
      this.misses++;
      const salted = pbkdf2Sync(password, Buffer.from(saltB64, 'base64'), iterations, 32, 'sha256');
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      v = { clientKey, storedKey: createHash('sha256').update(clientKey).digest(), serverKey: createHmac('sha256', salted).update('Server Key').digest() };
      this.keys.set(k, v);
    }
    return v;
  }
}

export interface SignInOptions {
  port: number;
  user: string;
  password: string;
  resource: string;
  mech: Mech;
  starttls: boolean;
  timeoutMs: number;
  cache: ScramKeyCache;
}

const localName = (el: Element): string => el.name.slice(el.name.indexOf(':') + 1);
const b64 = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');

export class BenchClient {
  private sock: net.Socket | tls.TLSSocket;
  private parser: StreamParser | null = new StreamParser({ maxStanzaBytes: 1 << 20 });
  private events: StreamEvent[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private buf = '';
  private nextId = 0;
  /** Once signed in: called with the text of each <body> of a <message> that is not an error. */
  onBody: ((body: string) => void) | null = null;
  /** Error messages and stream errors seen once signed in. */
  errorMessages = 0;
  streamError: string | null = null;
  closed = false;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    this.attach(sock);
  }

  private attach(sock: net.Socket): void {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => (this.parser ? this.parse(chunk) : this.scan(chunk)));
    sock.on('error', (e: Error) => this.fail(e));
    sock.on('close', () => { this.closed = true; this.fail(new Error('connection closed')); });
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private parse(chunk: Buffer): void {
    const evs = this.parser!.feed(chunk);
    if (evs.length) {
      this.events.push(...evs);
      this.wake();
    }
  }

  /** Signed-in mode: find each complete <message>...</message> and hand its body on. */
  private scan(chunk: Buffer): void {
    const s = this.buf.length ? this.buf + chunk.toString('latin1') : chunk.toString('latin1');
    let from = 0;
    for (;;) {
      const end = s.indexOf('</message>', from);
      if (end < 0) break;
      const start = s.lastIndexOf('<message', end);
      const tagEnd = s.indexOf('>', start);
      const tag = s.slice(start, tagEnd);
      if (tag.includes('type="error"') || tag.includes("type='error'")) this.errorMessages++;
      else {
        const b = s.indexOf('<body>', tagEnd);
        if (b >= 0 && b < end) this.onBody?.(s.slice(b + 6, s.indexOf('</body>', b)));
      }
      from = end + 10;
    }
    const rest = s.slice(from);
    if (rest.includes('<stream:error')) this.streamError = rest.slice(rest.indexOf('<stream:error'), rest.indexOf('<stream:error') + 300);
    // Keep only what may be the start of an incomplete message (presence and iq in between are dropped).
    const open = rest.lastIndexOf('<message');
    this.buf = open >= 0 ? rest.slice(open) : '';
  }

  private async next(): Promise<Element> {
    for (;;) {
      const ev = this.events.shift();
      if (ev) {
        if (ev.type === 'element') {
          if (localName(ev.element) === 'error' && ev.ns === 'http://etherx.jabber.org/streams') {
            throw new Error(`stream error: ${ev.element.toString().slice(0, 300)}`);
          }
          return ev.element;
        }
        if (ev.type === 'stream-open') continue;
        if (ev.type === 'stream-close') throw new Error('the server closed the stream');
        throw new Error(`unparsable server output: ${ev.condition}: ${ev.text}`);
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => { this.waiter = r; });
    }
  }

  private async expect(name: string): Promise<Element> {
    const el = await this.next();
    if (localName(el) !== name) throw new Error(`expected <${name}>, got ${el.toString().slice(0, 300)}`);
    return el;
  }

  send(xml: string): void { this.sock.write(xml); }

  private openStream(): void {
    this.send("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  }

  /** A chat message to `to` (a full JID) with the given body text (no markup in it). */
  sendChat(to: string, body: string): void {
    this.sock.write(`<message to='${to}' type='chat' id='m${++this.nextId}'><body>${body}</body></message>`);
  }

  /** Ends the stream and the connection; the socket is destroyed if the server does not close within 2 s. */
  close(): void {
    if (this.closed) return;
    try { this.sock.end('</stream:stream>'); } catch { /* already gone */ }
    setTimeout(() => this.sock.destroy(), 2000).unref();
  }

  destroy(): void { this.sock.destroy(); }

  /** Connects and signs in: features, [STARTTLS], SASL, restart, bind, initial presence (resolves once it is echoed). */
  static async signIn(o: SignInOptions): Promise<BenchClient> {
    const sock = net.connect(o.port, '127.0.0.1');
    const c = new BenchClient(sock);
    const timer = setTimeout(() => { c.fail(new Error(`sign-in took longer than ${o.timeoutMs} ms`)); sock.destroy(); }, o.timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      c.openStream();
      await c.expect('features');
      if (o.starttls) {
        c.send(`<starttls xmlns='${NS_TLS}'/>`);
        await c.expect('proceed');
        await c.upgrade();
        c.openStream();
        await c.expect('features');
      }
      await c.authenticate(o);
      c.parser = new StreamParser({ maxStanzaBytes: 1 << 20 });
      c.events = [];
      c.openStream();
      await c.expect('features');
      c.send(`<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${o.resource}</resource></bind></iq>`);
      const bound = await c.expect('iq');
      if (bound.attrs.type !== 'result') throw new Error(`bind failed: ${bound.toString().slice(0, 300)}`);
      c.send('<presence/>');
      await c.expect('presence');
      // Signed in: from here on only messages matter.
      c.parser = null;
      c.events = [];
      return c;
    } catch (e) {
      c.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async upgrade(): Promise<void> {
    const raw = this.sock as net.Socket;
    raw.removeAllListeners('data');
    const secure = tls.connect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.sock = secure;
    this.attach(secure);
    this.parser = new StreamParser({ maxStanzaBytes: 1 << 20 });
    this.events = [];
  }

  private authenticate(o: SignInOptions): Promise<void> {
    return saslSignIn({ send: (x) => this.send(x), next: () => this.next() }, o);
  }

}

/**
 * PLAIN, or SCRAM-SHA-256 with keys from the cache (RFC 5802 §3; PBKDF2 once
 * per salt), over any raw client that can send text and await the next
 * element; the server's signature is verified.
 */
export async function saslSignIn(io: { send(xml: string): void; next(): Promise<Element> }, o: { mech: string; user: string; password: string; cache: ScramKeyCache }): Promise<void> {
  if (o.mech === 'PLAIN') {
    io.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64(`\0${o.user}\0${o.password}`)}</auth>`);
    const r = await io.next();
    if (localName(r) !== 'success') throw new Error(`PLAIN refused: ${r.toString().slice(0, 300)}`);
    return;
  }
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=${o.user},r=${nonce}`;
  io.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-256'>${b64('n,,' + bare)}</auth>`);
  const ch = await io.next();
  if (localName(ch) !== 'challenge') throw new Error(`SCRAM refused: ${ch.toString().slice(0, 300)}`);
  const serverFirst = Buffer.from(ch.getText(), 'base64').toString('utf8');
  const m = /^r=([^,]+),s=([^,]+),i=(\d+)/.exec(serverFirst);
  if (!m || !m[1].startsWith(nonce)) throw new Error(`bad server-first-message: ${serverFirst}`);
  const keys = o.cache.get(o.password, m[2], Number(m[3]));
  const withoutProof = `c=biws,r=${m[1]}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const sig = createHmac('sha256', keys.storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) proof[i] = keys.clientKey[i] ^ sig[i];
  io.send(`<response xmlns='${NS_SASL}'>${b64(`${withoutProof},p=${proof.toString('base64')}`)}</response>`);
  const ok = await io.next();
  if (localName(ok) !== 'success') throw new Error(`SCRAM failed: ${ok.toString().slice(0, 300)}`);
  const v = /^v=(.+)$/.exec(Buffer.from(ok.getText(), 'base64').toString('utf8'));
  const expected = createHmac('sha256', keys.serverKey).update(authMessage).digest();
  const got = v ? Buffer.from(v[1], 'base64') : Buffer.alloc(0);
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new Error('the server signature does not verify');
}
