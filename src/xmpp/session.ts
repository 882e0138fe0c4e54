/**
 * One client connection (RFC 6120 §4–§7): parser events in, the stream state
 * machine deciding, this class doing the I/O that follows — stream headers
 * and features, STARTTLS, SASL, resource binding — and, once bound, handing
 * stanzas to the router. It also keeps the connection honest: stream errors
 * (§4.9), an authentication deadline, and pings to quiet clients (XEP-0199)
 * that end in `connection-timeout` when nothing answers.
 */
import { randomBytes } from 'node:crypto';
import { Element } from 'ltx';
import type { Logger } from '../util/log.js';
import type { Clock, Timer } from '../util/clock.js';
import { type Jid, jid, fullJid, prepResourcepart, JidError } from '../util/jid.js';
import { isImpError } from '../errors.js';
import type { XmppConnection } from './c2s-listener.js';
import { StreamParser, type StreamEvent } from './codec/stream-parser.js';
import { NS_STREAMS, StanzaError, StreamError, errorReply, saslFailureElement, type StreamErrorCondition } from './errors.js';
import { SaslNegotiation, type AuthDeps, type SaslStep } from './auth.js';
import { NS, initialState, step, type Action, type StreamPolicy, type StreamState } from './stream-fsm.js';
import type { LocalSession, Router } from './router.js';
import { decodeFromClient, elementChildren, iqResult } from './stanza.js';
import { selfUnavailable } from './handlers/presence.js';

export interface SessionOptions extends StreamPolicy {
  domain: string;
  maxStanzaBytes: number;
  idleTimeoutMs: number;
  pingTimeoutMs: number;
  authTimeoutMs: number;
}

export interface SessionCounters {
  stanzasIn(): void;
  authFailures(): void;
}

export class C2SSession implements LocalSession {
  private state: StreamState;
  private parser: StreamParser;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private sasl: SaslNegotiation | null = null;
  private headerSent = false;
  private userIdValue = '';
  private jidValue: Jid | null = null;
  private closing = false;
  private authTimer: Timer | null;
  private idleTimer: Timer | null = null;
  private pingTimer: Timer | null = null;
  private log: Logger;
  readonly streamId = randomBytes(8).toString('hex');
  priority = 0;
  available = false;
  carbons = false;
  replaced = false;
  /** XEP-0160: offline messages go out once, at the first available presence with priority >= 0. */
  offlineFlushed = false;
  rosterRequested = false;
  blocklistRequested = false;
  presenceXml: string | null = null;
  since = 0;

  constructor(
    private readonly conn: XmppConnection,
    private readonly opts: SessionOptions,
    private readonly router: Router,
    private readonly authDeps: AuthDeps,
    private readonly clock: Clock,
    private readonly counters: SessionCounters,
    log: Logger,
  ) {
    this.log = log.child({ conn: conn.id, remote: conn.remoteAddress });
    this.state = initialState(conn.secure);
    this.parser = new StreamParser({ maxStanzaBytes: opts.maxStanzaBytes });
    conn.onData((chunk) => this.onData(chunk));
    conn.onClose(() => this.onClosed());
    this.authTimer = clock.setTimeout(() => this.fail(new StreamError('connection-timeout', 'authentication took too long')), opts.authTimeoutMs);
  }

  get jid(): Jid { return this.jidValue as Jid; }
  get fullJid(): string { return this.jidValue ? fullJid(this.jidValue) : ''; }
  get userId(): string { return this.userIdValue; }
  get resource(): string { return this.jidValue?.resource ?? ''; }

  send(xml: string): void { if (!this.closing) this.conn.write(xml); }
  flushed(): Promise<void> { return this.conn.flushed(); }

  close(condition: StreamErrorCondition, text?: string): void { this.fail(new StreamError(condition, text)); }

  private onData(chunk: Buffer): void {
    this.touch();
    for (const ev of this.parser.feed(chunk)) this.enqueue(ev);
  }

  /** Events are handled one at a time, in order; a client that floods is paused until we catch up. */
  private enqueue(ev: StreamEvent): void {
    if (++this.queued === 64) this.conn.pause();
    this.queue = this.queue.then(() => this.handle(ev)).catch((e) => {
      this.log.error({ err: e }, 'internal error while handling the stream');
      this.fail(new StreamError('internal-server-error'));
    }).finally(() => { if (--this.queued === 32) this.conn.resume(); });
  }

  private async handle(ev: StreamEvent): Promise<void> {
    if (this.closing) return;
    switch (ev.type) {
      case 'error': return this.fail(new StreamError(ev.condition, ev.text));
      case 'stream-close': return this.endStream();
      case 'stream-open': return this.onStreamOpen(ev.attrs);
      case 'element': {
        const r = step(this.state, { kind: 'element', name: ev.element.name, ns: ev.ns }, this.opts);
        if (!r.ok) return this.fail(new StreamError(r.condition, r.text));
        this.state = r.state;
        return this.act(r.action, ev.element);
      }
    }
  }

  private onStreamOpen(attrs: Record<string, string>): void {
    // RFC 6120 §4.7: check the header before anything else; errors still need our header first (§4.9.1.1).
    const r = step(this.state, { kind: 'header' }, this.opts);
    if (!r.ok) return this.fail(new StreamError(r.condition, r.text));
    if ((attrs.xmlns ?? '') !== NS.client) return this.fail(new StreamError('invalid-namespace', `the stream's default namespace must be jabber:client, not ${attrs.xmlns ?? '(none)'}`));
    // RFC 6120 §4.8.5: the stream element carries the "stream" prefix; an unprefixed one is refused.
    if (attrs['xmlns:stream'] !== NS_STREAMS) return this.fail(new StreamError('bad-namespace-prefix', 'the stream element must use the "stream" prefix bound to http://etherx.jabber.org/streams'));
    const version = attrs.version ?? '0.9';
    if (!/^1\.\d+$/.test(version)) return this.fail(new StreamError('unsupported-version', `this server speaks XMPP 1.0 streams; version ${version} is not supported`));
    if (attrs.to !== undefined && attrs.to.toLowerCase().replace(/\.$/, '') !== this.opts.domain) {
      return this.fail(new StreamError('host-unknown', `this server does not serve ${attrs.to}`));
    }
    this.state = r.state;
    this.sendHeader();
    this.conn.write(this.features().toString());
  }

  private sendHeader(): void {
    this.headerSent = true;
    const to = this.jidValue ? ` to='${this.fullJid.replace(/'/g, '&apos;')}'` : '';
    this.conn.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAMS}' id='${this.streamId}' from='${this.opts.domain}'${to} version='1.0' xml:lang='en'>`);
  }

  private features(): Element {
    const f = new Element('stream:features');
    if (!this.state.authenticated) {
      if (!this.state.secure) {
        const tls = f.c('starttls', { xmlns: NS.tls });
        if (!this.opts.allowPlaintext) tls.c('required');
      }
      if (this.state.secure || this.opts.allowPlaintext) {
        this.sasl = new SaslNegotiation(this.authDeps, this.state.secure, this.conn.channelBinding());
        const mechs = f.c('mechanisms', { xmlns: NS.sasl });
        for (const m of this.sasl.mechanisms()) mechs.c('mechanism').t(m);
        const cb = this.conn.channelBinding().types;
        if (cb.length) {
          // XEP-0440: tell the client which channel-binding types we can verify.
          const adv = f.c('sasl-channel-binding', { xmlns: 'urn:xmpp:sasl-cb:0' });
          for (const t of cb) adv.c('channel-binding', { type: t });
        }
      }
    } else {
      f.c('bind', { xmlns: NS.bind });
      f.c('session', { xmlns: NS.session }).c('optional');
      // XEP-0237 roster versioning and RFC 6121 §3.4 subscription pre-approval.
      f.c('ver', { xmlns: 'urn:xmpp:features:rosterver' });
      f.c('sub', { xmlns: 'urn:xmpp:features:pre-approval' });
    }
    return f;
  }

  private async act(action: Action, el: Element): Promise<void> {
    switch (action) {
      case 'starttls': return this.startTls();
      case 'sasl-auth': {
        const mech = el.attrs.mechanism ?? '';
        const data = decodeSasl(el.getText());
        if (data === 'bad') return this.saslResult({ kind: 'failure', condition: 'incorrect-encoding', text: 'the initial response is not valid base64' });
        return this.saslResult(await this.sasl!.start(mech, data));
      }
      case 'sasl-response': {
        const data = decodeSasl(el.getText());
        if (data === 'bad') return this.saslResult({ kind: 'failure', condition: 'incorrect-encoding', text: 'the response is not valid base64' });
        this.state = this.advance({ kind: 'sasl-verify' });
        return this.saslResult(await this.sasl!.respond(data ?? Buffer.alloc(0)));
      }
      case 'sasl-abort':
        return this.saslResult({ kind: 'failure', condition: 'aborted', text: 'the client aborted the exchange' });
      case 'bind': return this.bindOrSession(el);
      case 'stanza': return this.stanza(el);
      default: return;
    }
  }

  private advance(input: Parameters<typeof step>[1]): StreamState {
    const r = step(this.state, input, this.opts);
    if (!r.ok) throw new StreamError(r.condition, r.text);
    return r.state;
  }

  private async startTls(): Promise<void> {
    this.conn.write(`<proceed xmlns='${NS.tls}'/>`);
    try {
      await this.conn.startTls();
    } catch (e) {
      this.log.debug({ err: e }, 'TLS handshake failed');
      this.conn.destroy();
      return;
    }
    this.state = this.advance({ kind: 'tls-established' });
    this.restart();
  }

  private async saslResult(r: SaslStep): Promise<void> {
    if (r.kind === 'challenge') {
      this.state = this.advance({ kind: 'sasl-continue' });
      this.conn.write(`<challenge xmlns='${NS.sasl}'>${r.data.length ? r.data.toString('base64') : '='}</challenge>`);
      return;
    }
    if (r.kind === 'failure') {
      this.counters.authFailures();
      this.log.info({ condition: r.condition }, 'authentication failed');
      const next = step(this.state, { kind: 'sasl-failure' }, this.opts);
      this.conn.write(saslFailureElement(r.condition, r.text).toString());
      if (!next.ok) return this.fail(new StreamError(next.condition, next.text));
      this.state = next.state;
      if (next.action === 'sasl-failure-limit') this.fail(new StreamError('policy-violation', `too many failed authentication attempts (${this.opts.maxAuthFailures})`));
      return;
    }
    this.state = this.advance({ kind: 'sasl-success' });
    this.userIdValue = r.userId;
    this.log.setBindings({ user: r.userId });
    this.conn.write(`<success xmlns='${NS.sasl}'>${r.data ? r.data.toString('base64') : ''}</success>`);
    this.restart();
  }

  /** A stream restart (RFC 6120 §5.4.3.3, §6.4.6): a new stream, a new header owed. */
  private restart(): void {
    this.parser.reset();
    this.headerSent = false;
  }

  private async bindOrSession(el: Element): Promise<void> {
    const payload = el.name === 'iq' ? elementChildren(el)[0] : undefined;
    const isSet = el.attrs.type === 'set' && el.attrs.id;
    if (el.name === 'iq' && isSet && payload?.name === 'bind' && payload.attrs.xmlns === NS.bind) return this.bind(el, payload);
    if (el.name === 'iq' && isSet && payload?.name === 'session' && payload.attrs.xmlns === NS.session) {
      this.conn.write(iqResult({ id: el.attrs.id, el }).toString());
      return;
    }
    // RFC 6120 §7.1: nothing but binding is served before a resource is bound; only requests get an answer.
    if (el.name !== 'iq' || (el.attrs.type !== 'get' && el.attrs.type !== 'set')) return;
    const reply = errorReply(el, new StanzaError('not-authorized', 'bind a resource first (RFC 6120 §7)'), this.opts.domain);
    if (reply) this.conn.write(reply.toString());
  }

  private async bind(el: Element, payload: Element): Promise<void> {
    const asked = payload.getChildText('resource');
    let resource: string;
    try {
      resource = asked && asked.trim() !== '' ? prepResourcepart(asked) : `imp-${randomBytes(6).toString('hex')}`;
    } catch (e) {
      const err = new StanzaError('bad-request', `the resource is not valid: ${e instanceof JidError ? e.message : String(e)}`);
      this.conn.write(errorReply(el, err, this.opts.domain)!.toString());
      return;
    }
    this.jidValue = jid(this.userIdValue, this.opts.domain, resource);
    this.since = this.clock.now();
    try {
      await this.router.bind(this);
    } catch (e) {
      await this.router.unbind(this).catch(() => {});
      this.jidValue = null;
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
      const err = new StanzaError('internal-server-error', 'the session registry is unavailable; try again shortly', 'wait');
      this.conn.write(errorReply(el, err, this.opts.domain)!.toString());
      return;
    }
    if (this.closing) return;
    this.state = this.advance({ kind: 'bound' });
    this.authTimer?.cancel();
    this.authTimer = null;
    this.log.setBindings({ jid: this.fullJid });
    this.log.info('session bound');
    const result = new Element('bind', { xmlns: NS.bind });
    result.c('jid').t(this.fullJid);
    this.conn.write(new Element('iq', { type: 'result', id: el.attrs.id }).cnode(result).root().toString());
    this.touch();
  }

  private async stanza(el: Element): Promise<void> {
    this.counters.stanzasIn();
    const env = decodeFromClient(el, this.jid);
    if (env instanceof StreamError) return this.fail(env);
    if (env instanceof StanzaError) {
      const reply = errorReply(el, env, this.opts.domain);
      if (reply) this.router.reply(this, reply.toString());
      return;
    }
    try {
      await this.router.route(this, env);
    } catch (e) {
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
      this.router.replyError(this, env, new StanzaError('internal-server-error', 'the store is unavailable; try again shortly', 'wait'));
    }
  }

  /** Any bytes from the client prove it alive: restart the idle clock (XEP-0199 §4.2 client-to-server pings). */
  private touch(): void {
    this.pingTimer?.cancel();
    this.pingTimer = null;
    if (!this.jidValue || this.closing) return;
    this.idleTimer?.cancel();
    this.idleTimer = this.clock.setTimeout(() => this.pingClient(), this.opts.idleTimeoutMs);
  }

  private pingClient(): void {
    if (this.closing) return;
    const iq = new Element('iq', { type: 'get', id: `ping-${randomBytes(4).toString('hex')}`, from: this.opts.domain, to: this.fullJid });
    iq.c('ping', { xmlns: 'urn:xmpp:ping' });
    this.conn.write(iq.toString());
    this.pingTimer = this.clock.setTimeout(() => this.fail(new StreamError('connection-timeout', 'the client did not answer a ping')), this.opts.pingTimeoutMs);
  }

  /** Sends a stream error and closes (RFC 6120 §4.9.1.1). */
  private fail(err: StreamError): void {
    if (this.closing) return;
    this.log.info({ condition: err.condition, text: err.text }, 'stream error');
    if (!this.headerSent) this.sendHeader();
    this.conn.write(err.toElement().toString() + '</stream:stream>');
    this.shutdown();
  }

  /** The client closed its stream: close ours (RFC 6120 §4.4). */
  private endStream(): void {
    if (this.closing) return;
    this.conn.write('</stream:stream>');
    this.shutdown();
  }

  private shutdown(): void {
    this.closing = true;
    this.cancelTimers();
    if (this.jidValue) this.router.detach(this);
    this.conn.end();
    void this.leave();
  }

  private onClosed(): void {
    this.closing = true;
    this.cancelTimers();
    if (this.jidValue) this.router.detach(this);
    void this.leave();
  }

  /** Resolves once the session has ended and is unregistered. */
  ended(): Promise<void> { return this.leaving ?? Promise.resolve(); }

  private leaving: Promise<void> | null = null;
  private leave(): Promise<void> {
    if (!this.leaving) {
      this.leaving = (async () => {
        if (!this.jidValue) return;
        try {
          await selfUnavailable(this.router, this);
        } catch (e) {
          this.log.warn({ err: e }, 'unavailable presence not broadcast');
        }
        await this.router.unbind(this).catch((e) => this.log.warn({ err: e }, 'session not unregistered'));
        this.log.info('session ended');
      })();
    }
    return this.leaving;
  }

  private cancelTimers(): void {
    this.authTimer?.cancel();
    this.idleTimer?.cancel();
    this.pingTimer?.cancel();
  }
}

/** SASL payloads are base64; "=" stands for an empty one (RFC 6120 §6.4.2). null: no data at all. */
function decodeSasl(text: string | null): Buffer | null | 'bad' {
  const t = (text ?? '').trim();
  if (t === '') return null;
  if (t === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return 'bad';
  return Buffer.from(t, 'base64');
}
