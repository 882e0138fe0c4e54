/**
 * XMPP clients for end-to-end tests: `@xmpp/client` (a real, independent
 * client library) with any SASL mechanism the server offers — SCRAM-SHA-256
 * and the -PLUS variants through our ScramClient plugged into its SASL
 * factory — and a raw socket client for what no polite library will send.
 */
import net from 'node:net';
import tls from 'node:tls';
import { client as xmppClient, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { ScramClient } from '../../src/xmpp/sasl/scram.js';
import type { ScramHash } from '../../src/store/types.js';

// Test nodes use a self-signed certificate; these clients talk to loopback only.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
process.removeAllListeners('warning');

export { xml };
export type { Client, Element };

export type Mechanism = 'PLAIN' | 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-256-PLUS';

export interface ConnectOptions {
  port: number;
  username: string;
  password: string;
  resource?: string;
  mechanism?: Mechanism;
  /** XEP-0368 direct TLS instead of STARTTLS. */
  directTls?: boolean;
}

interface SaslMech { name: string; clientFirst: boolean; response(creds: { username: string; password: string }): string; challenge(data: string): SaslMech }

/** A saslmechanisms-style mechanism backed by our SCRAM client (binary strings in and out, as @xmpp/sasl expects). */
function scramMechanism(name: string, hash: ScramHash, cbData: (() => Buffer | null) | null): new () => SaslMech {
  return class implements SaslMech {
    name = name;
    clientFirst = true;
    private c: ScramClient | null = null;
    private finalMsg: Buffer | null = null;
    response(creds: { username: string; password: string }): string {
      if (!this.c) {
        this.c = new ScramClient({ hash, username: creds.username, password: creds.password, cbType: cbData ? 'tls-exporter' : null, cbData: cbData ? cbData() : null });
        return this.c.first().toString('latin1');
      }
      return (this.finalMsg ?? Buffer.alloc(0)).toString('latin1');
    }
    challenge(data: string): SaslMech {
      this.finalMsg = this.c!.final(Buffer.from(data, 'latin1'));
      return this;
    }
  };
}

export function makeClient(opts: ConnectOptions): Client {
  const service = `${opts.directTls ? 'xmpps' : 'xmpp'}://127.0.0.1:${opts.port}`;
  const mechanism = opts.mechanism ?? 'SCRAM-SHA-1';
  const c = xmppClient({
    service, domain: 'localhost', resource: opts.resource ?? 'test',
    credentials: async (authenticate: (creds: object, mech: string) => Promise<void>) => {
      await authenticate({ username: opts.username, password: opts.password }, mechanism);
    },
  } as never);
  const tlsSocket = (): Buffer | null => {
    const sock = (c as unknown as { socket: { socket?: tls.TLSSocket } }).socket?.socket;
    return sock ? sock.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)) : null;
  };
  const factory = (c as unknown as { saslFactory: { use(name: string, m: new () => SaslMech): void } }).saslFactory;
  factory.use('SCRAM-SHA-256', scramMechanism('SCRAM-SHA-256', 'SHA-256', null));
  factory.use('SCRAM-SHA-1-PLUS', scramMechanism('SCRAM-SHA-1-PLUS', 'SHA-1', tlsSocket));
  factory.use('SCRAM-SHA-256-PLUS', scramMechanism('SCRAM-SHA-256-PLUS', 'SHA-256', tlsSocket));
  c.reconnect.stop();
  c.on('error', () => { /* asserted through start() or stanzas */ });
  return c;
}

/** Signs in and sends initial presence unless told otherwise. */
export async function connect(opts: ConnectOptions & { presence?: boolean }): Promise<Client> {
  const c = makeClient(opts);
  await c.start();
  if (opts.presence !== false) await c.send(xml('presence'));
  return c;
}

/** Resolves with the next stanza matching `pred`, or rejects after `ms`. */
export function nextStanza(c: Client, pred: (s: Element) => boolean, ms = 5000): Promise<Element> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { c.off('stanza', on); reject(new Error(`no matching stanza within ${ms} ms`)); }, ms);
    const on = (s: Element): void => { if (pred(s)) { clearTimeout(t); c.off('stanza', on); resolve(s); } };
    c.on('stanza', on);
  });
}

/** Collects every stanza a client receives, for "nothing else arrived" checks. */
export function collect(c: Client): Element[] {
  const got: Element[] = [];
  c.on('stanza', (s: Element) => got.push(s));
  return got;
}

export async function stopAll(...clients: Array<Client | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => c?.stop().catch(() => {})));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw XMPP connection: bytes in, text out. For malformed input and protocol corner cases. */
export class RawClient {
  private sock: net.Socket;
  text = '';
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
    this.attach(sock);
  }

  private attach(sock: net.Socket): void {
    sock.on('data', (d: Buffer) => { this.text += d.toString('utf8'); this.wake(); });
    sock.on('close', () => { this.closed = true; this.wake(); });
    sock.on('error', () => {});
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  static connect(port: number, directTls = false): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = directTls
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' })
        : net.connect(port, '127.0.0.1');
      sock.once(directTls ? 'secureConnect' : 'connect', () => resolve(new RawClient(sock)));
      sock.once('error', reject);
    });
  }

  get socket(): net.Socket { return this.sock; }

  send(data: string | Buffer): void { this.sock.write(data); }

  /** Waits until the received text matches, or the connection closes, or `ms` pass; returns the match or throws. */
  async waitFor(re: RegExp, ms = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.text.match(re);
      if (m) return m;
      if (this.closed) throw new Error(`connection closed before ${re} arrived; got: ${this.text.slice(-500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${re} did not arrive within ${ms} ms; got: ${this.text.slice(-500)}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise<void>((r) => { const t = setTimeout(r, 50); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  openStream(): void {
    this.send("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  }

  /** Over direct TLS: open the stream, PLAIN-authenticate, restart, bind. Leaves the text buffer empty. */
  async login(user: string, password: string, resource = 'raw'): Promise<void> {
    this.openStream();
    await this.waitFor(/<\/stream:features>/);
    const creds = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`);
    await this.waitFor(/<success/);
    this.text = '';
    this.openStream();
    await this.waitFor(/<\/stream:features>/);
    this.send(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await this.waitFor(/<\/iq>/);
    this.text = '';
  }

  close(): void { this.sock.destroy(); }
}
