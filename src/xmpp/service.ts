/**
 * The XMPP side of a node: the STARTTLS and direct-TLS listeners, a session
 * per connection, and the router they share.
 */
import { randomBytes } from 'node:crypto';
import type { Bus } from '../bus/types.js';
import type { Store } from '../store/types.js';
import type { TlsIdentity } from '../tls.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { C2SListener, type XmppConnection } from './c2s-listener.js';
import { Router } from './router.js';
import { C2SSession, type SessionOptions } from './session.js';

export interface XmppServiceOptions extends SessionOptions {
  host: string;
  port: number;
  tlsPort: number;
  nodeId: string;
  version: string;
  offlineMax: number;
  maxContacts: number;
  maxWatchers: number;
}

export class XmppService {
  readonly router: Router;
  private plain: C2SListener;
  private direct: C2SListener;
  private sessions = new Set<C2SSession>();
  private fakeSecret = randomBytes(32);
  private counters: { stanzasIn(): void; authFailures(): void };
  ports = { xmpp: 0, xmpps: 0 };

  constructor(
    private readonly opts: XmppServiceOptions,
    private readonly store: Store,
    bus: Bus,
    tlsId: TlsIdentity,
    private readonly clock: Clock,
    metrics: Metrics,
    private readonly log: Logger,
  ) {
    const stanzasIn = metrics.counter('imp_xmpp_stanzas_in_total', 'stanzas received from XMPP clients');
    const authFailures = metrics.counter('imp_xmpp_auth_failures_total', 'failed SASL authentications');
    this.counters = { stanzasIn: () => stanzasIn(), authFailures: () => authFailures() };
    const stanzasOut = metrics.counter('imp_xmpp_stanzas_out_total', 'stanzas sent to XMPP clients');
    this.router = new Router({
      domain: opts.domain, nodeId: opts.nodeId, store, bus, log, version: opts.version, offlineMax: opts.offlineMax,
      limits: { maxContacts: opts.maxContacts, maxWatchers: opts.maxWatchers },
      now: () => clock.now(), counters: { stanzasOut: (n = 1) => stanzasOut(n) },
    });
    metrics.gauge('imp_xmpp_sessions', 'bound XMPP sessions on this node', () => this.router.localCount);
    metrics.gauge('imp_xmpp_connections', 'open XMPP connections on this node', () => this.sessions.size);
    const accept = (conn: XmppConnection): void => this.accept(conn);
    this.plain = new C2SListener({ host: opts.host, port: opts.port, directTls: false, context: tlsId.context, cert: tlsId.cert, key: tlsId.key, onConnection: accept });
    this.direct = new C2SListener({ host: opts.host, port: opts.tlsPort, directTls: true, context: tlsId.context, cert: tlsId.cert, key: tlsId.key, onConnection: accept });
  }

  private accept(conn: XmppConnection): void {
    const s = new C2SSession(conn, this.opts, this.router, {
      store: this.store, domain: this.opts.domain, fakeSecret: this.fakeSecret, allowPlaintext: this.opts.allowPlaintext,
    }, this.clock, this.counters, this.log);
    this.sessions.add(s);
    conn.onClose(() => this.sessions.delete(s));
  }

  async start(): Promise<void> {
    await this.router.start();
    try {
      this.ports.xmpp = await this.plain.listen();
      this.ports.xmpps = await this.direct.listen();
    } catch (e) {
      await Promise.all([this.plain.close(), this.direct.close()]);
      this.router.stop();
      throw e;
    }
  }

  get listening(): boolean { return this.plain.listening && this.direct.listening; }

  /** Raw sockets the listeners still track (bookkeeping check in tests). */
  get openSockets(): number { return this.plain.openSockets + this.direct.openSockets; }

  /** Ends every session with system-shutdown and stops listening. */
  async stop(): Promise<void> {
    const ending = [...this.sessions].map((s) => { s.close('system-shutdown', 'the server is shutting down'); return s.ended(); });
    await Promise.all([this.plain.close(), this.direct.close()]);
    await Promise.allSettled(ending);
    // Whatever could not be unregistered one by one goes now: other nodes must not route here.
    await this.router.purgeOwn().catch((e) => this.log.warn({ err: e }, 'sessions of this node not purged at shutdown'));
    this.router.stop();
  }
}
