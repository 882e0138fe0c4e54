/**
 * A raw-socket XMPP client that signs in and then only counts presence:
 * thousands run in one load-generator process. Negotiation (stream header,
 * SASL SCRAM-SHA-256 or PLAIN over plain TCP, restart, bind) is parsed with
 * imp's own StreamParser; from the bind result on, incoming bytes are only
 * scanned for <presence> stanzas, and each is handed on as (sender index,
 * type, <status> text). The initial presence is sent by the caller, so that
 * presence arriving before the self-echo is counted too.
 *
 * Adapted from bench/lib/xmpp-client.ts (which stops reading presence once
 * signed in); its ScramKeyCache is reused so PBKDF2 runs once per salt.
 */
import net from 'node:net';
import type { Element } from 'ltx';
import { StreamParser, type StreamEvent } from '../../src/xmpp/codec/stream-parser.js';
import { saslSignIn, type ScramKeyCache } from '../lib/xmpp-client.js';
import { indexOfJid } from './topology.js';

const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

export type Mech = 'SCRAM-SHA-256' | 'PLAIN';

/** What a presence stanza carries that the benchmark reads. `type` is '' for available. */
export type PresenceHandler = (receiver: number, sender: number, type: string, status: string | null) => void;

export interface SignInOptions {
  port: number;
  index: number;
  user: string;
  password: string;
  domain: string;
  resource: string;
  mech: Mech;
  timeoutMs: number;
  cache: ScramKeyCache;
  onPresence: PresenceHandler;
}

const localName = (el: Element): string => el.name.slice(el.name.indexOf(':') + 1);

/** The value of attribute `name` in a start tag (either quote), or null. */
function attr(tag: string, name: string): string | null {
  let at = tag.indexOf(` ${name}=`);
  if (at < 0) return null;
  at += name.length + 2;
  const q = tag[at];
  const end = tag.indexOf(q, at + 1);
  return end < 0 ? null : tag.slice(at + 1, end);
}

export class PresenceClient {
  private parser: StreamParser | null = new StreamParser({ maxStanzaBytes: 1 << 20 });
  private events: StreamEvent[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private buf = '';
  closed = false;
  streamError: string | null = null;

  private constructor(private readonly sock: net.Socket, readonly index: number, private readonly onPresence: PresenceHandler) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => (this.parser ? this.parse(chunk) : this.scan(chunk)));
    sock.on('error', (e: Error) => this.fail(e));
    sock.on('close', () => { this.closed = true; this.fail(new Error('connection closed')); });
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private parse(chunk: Buffer): void {
    const evs = this.parser!.feed(chunk);
    if (evs.length) {
      this.events.push(...evs);
      const w = this.waiter;
      this.waiter = null;
      w?.();
    }
  }

  /** Signed-in mode: every complete <presence> goes to the handler; everything else is dropped. */
  private scan(chunk: Buffer): void {
    const s = this.buf.length ? this.buf + chunk.toString('latin1') : chunk.toString('latin1');
    let from = 0;
    for (;;) {
      const start = s.indexOf('<presence', from);
      if (start < 0) break;
      const tagEnd = s.indexOf('>', start);
      if (tagEnd < 0) { from = start; break; }
      let end: number;
      let body = '';
      if (s.charCodeAt(tagEnd - 1) === 47 /* / */) end = tagEnd + 1;
      else {
        const close = s.indexOf('</presence>', tagEnd);
        if (close < 0) { from = start; break; }
        end = close + 11;
        body = s.slice(tagEnd + 1, close);
      }
      const tag = s.slice(start, tagEnd);
      const fromJid = attr(tag, 'from');
      const type = attr(tag, 'type') ?? '';
      let status: string | null = null;
      const st = body.indexOf('<status>');
      if (st >= 0) status = body.slice(st + 8, body.indexOf('</status>', st));
      this.onPresence(this.index, fromJid === null ? -1 : indexOfJid(fromJid), type, status);
      from = end;
    }
    const rest = s.slice(from);
    if (rest.startsWith('<presence')) this.buf = rest;
    else {
      const se = rest.indexOf('<stream:error');
      if (se >= 0) this.streamError = rest.slice(se, se + 300);
      // Nothing worth keeping but a possibly cut '<presence' at the very end.
      this.buf = rest.length > 12 ? rest.slice(-12) : rest;
      if (this.buf.includes('>')) this.buf = this.buf.slice(this.buf.lastIndexOf('>') + 1);
    }
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

  send(xml: string): void { if (!this.closed) this.sock.write(xml); }

  private openStream(domain: string): void {
    this.send(`<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  }

  close(): void {
    if (this.closed) return;
    try { this.sock.end('</stream:stream>'); } catch { /* already gone */ }
    setTimeout(() => this.sock.destroy(), 3000).unref();
  }

  destroy(): void { this.sock.destroy(); }

  /**
   * Connects, authenticates and binds; resolves once bound, in presence-scanning
   * mode (the caller sends the initial presence).
   */
  static async connectAndBind(o: SignInOptions): Promise<PresenceClient> {
    const sock = net.connect(o.port, '127.0.0.1');
    const c = new PresenceClient(sock, o.index, o.onPresence);
    const timer = setTimeout(() => { c.fail(new Error(`sign-in took longer than ${o.timeoutMs} ms`)); sock.destroy(); }, o.timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      c.openStream(o.domain);
      await c.expect('features');
      await c.authenticate(o);
      c.parser = new StreamParser({ maxStanzaBytes: 1 << 20 });
      c.events = [];
      c.openStream(o.domain);
      await c.expect('features');
      c.send(`<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${o.resource}</resource></bind></iq>`);
      const bound = await c.expect('iq');
      if (bound.attrs.type !== 'result') throw new Error(`bind failed: ${bound.toString().slice(0, 300)}`);
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

  private authenticate(o: SignInOptions): Promise<void> {
    return saslSignIn({ send: (x) => this.send(x), next: () => this.next() }, o);
  }

}
