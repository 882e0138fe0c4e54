/**
 * The only XMPP socket code: accept TCP (RFC 6120 §5 STARTTLS upgrade) and
 * direct-TLS (XEP-0368) connections, move bytes, batch writes, apply
 * backpressure, close. Everything the bytes mean is the session's business.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { ChannelBindingInfo, ChannelBindingType } from './sasl/scram.js';

/** A client's pending output beyond which it is dropped as a slow consumer. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface XmppConnection {
  readonly id: string;
  readonly remoteAddress: string;
  /** Whether bytes are encrypted now (direct TLS, or after STARTTLS). */
  readonly secure: boolean;
  onData(cb: (chunk: Buffer) => void): void;
  onClose(cb: (hadError: boolean) => void): void;
  /** Queues bytes; writes issued in one tick leave in one batch. */
  write(data: string): void;
  /** Resolves once everything written so far is handed to the kernel. */
  flushed(): Promise<void>;
  /** Upgrades to TLS; call after <proceed/> was written. */
  startTls(): Promise<void>;
  channelBinding(): ChannelBindingInfo;
  /** Stops reading (the session is behind); resume() starts again. */
  pause(): void;
  resume(): void;
  /** Sends what is queued, then closes. */
  end(): void;
  destroy(): void;
}

class SocketConnection implements XmppConnection {
  readonly id = randomBytes(8).toString('hex');
  readonly remoteAddress: string;
  private sock: net.Socket | tls.TLSSocket;
  private dataCb: (chunk: Buffer) => void = () => {};
  private closeCbs: Array<(hadError: boolean) => void> = [];
  private corked = false;
  private closed = false;
  private onSockData = (chunk: Buffer): void => this.dataCb(chunk);
  private onSockError = (): void => { /* 'close' follows; nothing to add */ };
  private onSockClose = (hadError: boolean): void => this.fireClose(hadError);

  constructor(sock: net.Socket | tls.TLSSocket, private readonly context: tls.SecureContext) {
    this.sock = sock;
    this.remoteAddress = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? 0}`;
    this.attach(sock);
  }

  get secure(): boolean { return this.sock instanceof tls.TLSSocket && this.sock.encrypted === true; }

  private attach(sock: net.Socket): void {
    sock.setNoDelay(true);
    sock.on('data', this.onSockData);
    sock.on('error', this.onSockError);
    sock.on('close', this.onSockClose);
  }

  private fireClose(hadError: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCbs) cb(hadError);
  }

  onData(cb: (chunk: Buffer) => void): void { this.dataCb = cb; }
  onClose(cb: (hadError: boolean) => void): void { this.closeCbs.push(cb); }

  write(data: string): void {
    if (this.closed || this.sock.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(() => { this.corked = false; this.sock.uncork(); });
    }
    this.sock.write(data);
    if (this.sock.writableLength > MAX_BUFFERED_BYTES) this.destroy();
  }

  flushed(): Promise<void> {
    if (this.closed || this.sock.destroyed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.sock.write('', (err) => (err ? reject(err) : resolve()));
    });
  }

  async startTls(): Promise<void> {
    const raw = this.sock as net.Socket;
    // From here on the raw bytes belong to TLS, not to the XML parser: stop
    // reading them (TLSSocket picks up anything already buffered), let
    // <proceed/> reach the client, then wrap.
    raw.off('data', this.onSockData);
    raw.pause();
    await this.flushed();
    // Only our own listeners: the listener's bookkeeping stays attached to the raw socket.
    raw.off('close', this.onSockClose);
    raw.off('error', this.onSockError);
    await new Promise<void>((resolve, reject) => {
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.context });
      this.sock = secure;
      this.attach(secure);
      secure.once('secure', () => resolve());
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('connection closed during the TLS handshake')));
    });
  }

  channelBinding(): ChannelBindingInfo {
    const s = this.sock;
    if (!(s instanceof tls.TLSSocket) || !s.encrypted) return { types: [], data: () => null };
    const types: ChannelBindingType[] = ['tls-server-end-point'];
    // RFC 9266: tls-exporter for TLS 1.3; tls-unique (RFC 5929 §3) only below 1.3, where it is defined.
    if (s.getProtocol() === 'TLSv1.3') types.unshift('tls-exporter');
    else types.push('tls-unique');
    return {
      types,
      data: (type) => {
        if (type === 'tls-exporter' && types.includes('tls-exporter')) return s.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
        if (type === 'tls-unique' && types.includes('tls-unique')) {
          // The first Finished message of the handshake: the client's, unless the session was resumed.
          return (s.isSessionReused() ? s.getFinished() : s.getPeerFinished()) ?? null;
        }
        if (type === 'tls-server-end-point') {
          // RFC 5929 §4.1: the hash of our certificate, SHA-256 unless it is signed with a stronger one.
          const cert = s.getCertificate();
          if (!cert || !('raw' in cert)) return null;
          return createHash('sha256').update(cert.raw).digest();
        }
        return null;
      },
    };
  }

  pause(): void { this.sock.pause(); }
  resume(): void { this.sock.resume(); }

  end(): void {
    if (this.closed) return;
    this.sock.end();
    // A client that never closes its side must not hold the socket open; once
    // closed, the timer goes too (it would keep the whole session reachable).
    const t = setTimeout(() => this.sock.destroy(), 2000);
    t.unref();
    this.closeCbs.push(() => clearTimeout(t));
  }

  destroy(): void { this.sock.destroy(); }
}

export interface ListenerOptions {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte. */
  directTls: boolean;
  context: tls.SecureContext;
  /** PEM certificate and key (tls.Server builds its own context from them). */
  cert: string;
  key: string;
  onConnection(conn: XmppConnection): void;
}

export class C2SListener {
  private server: net.Server | tls.Server;
  private sockets = new Set<net.Socket>();

  constructor(private readonly opts: ListenerOptions) {
    const accept = (sock: net.Socket): void => opts.onConnection(new SocketConnection(sock, opts.context));
    this.server = opts.directTls
      ? tls.createServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2', ALPNProtocols: ['xmpp-client'], handshakeTimeout: 30000 }, accept)
      : net.createServer(accept);
    // Track raw sockets from the first byte, so that close() also ends connections still in a TLS handshake.
    this.server.on('connection', (sock: net.Socket) => {
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
    });
    // A failed handshake on the direct-TLS port is the client's problem, not the server's.
    this.server.on('tlsClientError', (_err, sock) => sock.destroy());
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get listening(): boolean { return this.server.listening; }

  /** Open raw sockets (for tests of the listener's bookkeeping). */
  get openSockets(): number { return this.sockets.size; }

  close(): Promise<void> {
    if (!this.server.listening) { for (const s of this.sockets) s.destroy(); return Promise.resolve(); }
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
