/**
 * SIP message push parser: bytes in, events out, no I/O.
 *
 * Framing follows RFC 3261 §7.5 (CRLFs before a start line are ignored),
 * §18.3 (on a stream transport Content-Length is mandatory and ends the
 * body; in a datagram the body is the rest of the datagram, cut short by a
 * Content-Length smaller than it) and RFC 5626 §3.5.1 / §4.4.1 (a double
 * CRLF between messages is a keep-alive ping, which the transport answers
 * with one CRLF). The header section itself is read by head.ts.
 *
 * On a stream, a refused message whose Content-Length can be read is skipped
 * whole, so the next one parses; when its end cannot be known the error is
 * fatal and the parser stops. Nothing here throws on any input.
 */
import { buildMessage, framing, partialOf, scanHead, type ParseStatus, type PartialMessage, type Problem, type RawHead } from './head.js';
import { reasonText } from './grammar.js';
import type { SipMessage } from './message.js';

export type { ParseStatus, PartialMessage } from './head.js';

export interface SipParseError {
  type: 'error';
  /** 400, 413 (body too large), 505 (SIP version) or 513 (header section too large). */
  status: ParseStatus;
  /** A reason phrase that names the rule broken, fit for the status line of the answer. */
  reason: string;
  /** The field at fault, when one is. */
  header?: string;
  /** The stream lost its framing: answer if possible, then close the connection. Never set for datagrams. */
  fatal: boolean;
  /** What could be read, so that a response can be formed (serializer.ts errorResponse). */
  partial?: PartialMessage;
}

export type SipParseEvent =
  | { type: 'message'; message: SipMessage; /** Bytes from the start line to the end of the body. */ bytes: number }
  | { type: 'keepalive' }
  | SipParseError;

export interface SipParserOptions {
  /** 'stream' for TCP/TLS, 'datagram' for UDP (each feed() is one whole datagram). */
  mode: 'stream' | 'datagram';
  /** Largest header section, start line to the empty line inclusive; larger is answered 513. */
  maxHeaderBytes: number;
  /** Largest body; larger is answered 413. */
  maxBodyBytes: number;
}

const DEFAULTS = { maxHeaderBytes: 65536, maxBodyBytes: 1048576 };
const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const BARE_LF = 'Bare CR or LF line ends; SIP lines end in CRLF (RFC 3261 §7)';

const IDLE = 0;
const HEAD = 1;
const BODY = 2;
const SKIP = 3;
const DEAD = 4;

export class SipParser {
  private readonly opts: SipParserOptions;
  private q = new ByteQueue();
  private state = IDLE;
  /** Keep-alive progress through CR LF CR LF: 0 nothing, 1 CR, 2 CRLF, 3 CRLF CR. */
  private ka = 0;
  /** HEAD: bytes already searched for the empty line; bytes of the first line already checked. */
  private scanned = 0;
  private firstLine = 0;
  private firstLineDone = false;
  /** BODY: the header section waiting for its body. */
  private head: RawHead | null = null;
  private headLen = 0;
  private bodyLen = 0;
  private skipLeft = 0;

  constructor(opts: Pick<SipParserOptions, 'mode'> & Partial<SipParserOptions>) {
    const o = { ...DEFAULTS, ...opts };
    if (o.mode !== 'stream' && o.mode !== 'datagram') throw new RangeError(`SipParser: mode must be 'stream' or 'datagram', got ${String(o.mode)}`);
    for (const k of ['maxHeaderBytes', 'maxBodyBytes'] as const) {
      if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`SipParser: ${k} must be a positive integer, got ${o[k]}`);
    }
    this.opts = o;
  }

  /** The events `chunk` completes; a datagram always yields exactly one. After a fatal error, always []. */
  feed(chunk: Buffer): SipParseEvent[] {
    if (this.opts.mode === 'datagram') return [guard(() => this.datagram(chunk))];
    if (this.state === DEAD) return [];
    const events: SipParseEvent[] = [];
    try {
      this.q.push(chunk);
      this.drain(events);
    } catch {
      events.push(this.die(internal()));
    }
    return events;
  }

  /** The peer closed the stream: a message still incomplete is an error. Then the parser is spent. */
  end(): SipParseEvent[] {
    if (this.opts.mode === 'datagram' || this.state === DEAD) return [];
    const events: SipParseEvent[] = [];
    if (this.state === HEAD) {
      const v = this.q.view();
      events.push(this.die(salvage(v.subarray(0, this.opts.maxHeaderBytes), 'The connection closed inside a header section (RFC 3261 §18.3)')));
    } else if (this.state === BODY && this.head) {
      events.push(this.die({ status: 400, reason: 'The connection closed before Content-Length bytes of body arrived (RFC 3261 §18.3)', partial: partialOf(this.head) }));
    }
    this.state = DEAD;
    return events;
  }

  /** Forget everything: the next bytes start a new connection. */
  reset(): void {
    this.q = new ByteQueue();
    this.state = IDLE;
    this.ka = 0;
    this.head = null;
    this.skipLeft = 0;
  }

  private die(e: { status: ParseStatus; reason: string; header?: string; partial?: PartialMessage }): SipParseError {
    this.state = DEAD;
    this.q = new ByteQueue();
    this.head = null;
    return error(e, true);
  }

  private drain(events: SipParseEvent[]): void {
    for (;;) {
      if (this.state === IDLE) {
        const v = this.q.view();
        let i = 0;
        for (; i < v.length; i++) {
          const c = v[i];
          if (c === CR) this.ka = this.ka === 2 ? 3 : 1;
          else if (c !== LF) break;
          else if (this.ka === 1) this.ka = 2;
          else if (this.ka === 3) {
            events.push({ type: 'keepalive' });
            this.ka = 0;
          } else this.ka = 0;
        }
        this.q.consume(i);
        if (this.q.length === 0) return;
        this.ka = 0;
        this.state = HEAD;
        this.scanned = 0;
        this.firstLine = 0;
        this.firstLineDone = false;
      } else if (this.state === HEAD) {
        if (!this.readHead(events)) return;
      } else if (this.state === BODY) {
        const total = this.headLen + this.bodyLen;
        if (this.q.length < total || !this.head) return;
        const v = this.q.view();
        const built = buildMessage(this.head, Buffer.from(v.subarray(this.headLen, total)));
        this.q.consume(total);
        this.head = null;
        this.state = IDLE;
        events.push('message' in built ? { type: 'message', message: built.message, bytes: total } : error({ ...built.problem, partial: built.partial }, false));
      } else if (this.state === SKIP) {
        const n = Math.min(this.q.length, this.skipLeft);
        this.q.consume(n);
        this.skipLeft -= n;
        if (this.skipLeft > 0) return;
        this.state = IDLE;
      } else {
        return;
      }
    }
  }

  /** Looks for the end of the header section; true when the state moved on. */
  private readHead(events: SipParseEvent[]): boolean {
    const max = this.opts.maxHeaderBytes;
    const v = this.q.view();
    if (!this.firstLineDone) {
      // Refuse at once what cannot be a start line (a TLS hello, binary noise) instead of buffering it.
      let i = this.firstLine;
      for (; i < v.length; i++) {
        const c = v[i];
        const crlf = c === LF && i > 0 && v[i - 1] === CR;
        if (crlf) {
          this.firstLineDone = true;
          break;
        }
        if (c === LF || (i > 0 && v[i - 1] === CR)) {
          events.push(this.die({ status: 400, reason: BARE_LF }));
          return false;
        }
        if ((c < 0x20 && c !== 0x09 && c !== CR) || c === 0x7f) {
          events.push(this.die({ status: 400, reason: 'Not a SIP start line: a control character before the first CRLF (RFC 3261 §7.1, §7.2)' }));
          return false;
        }
      }
      this.firstLine = i;
    }
    // Everything is decided within the first `max` bytes, so where chunks split cannot change the outcome.
    const window = v.subarray(0, max);
    const idx = window.indexOf(CRLFCRLF, Math.max(0, this.scanned - 3));
    const lf = window.indexOf(LFLF, Math.max(0, this.scanned - 1));
    if (lf >= 0 && (idx < 0 || lf < idx)) {
      events.push(this.die(salvage(window.subarray(0, lf), BARE_LF)));
      return false;
    }
    if (idx < 0) {
      if (v.length >= max) {
        events.push(this.die(salvage(window, `Message Too Large: the header section exceeds ${max} bytes`, 513)));
        return false;
      }
      this.scanned = v.length;
      return false;
    }
    const head = scanHead(v, 0, idx + 2);
    const frame = framing(head);
    if (frame.length === undefined) {
      const problem: Problem = frame.problem ?? { status: 400, reason: 'Missing Content-Length header, which stream transports require (RFC 3261 §18.3)', header: 'Content-Length' };
      events.push(this.die({ ...problem, partial: partialOf(head) }));
      return false;
    }
    this.headLen = idx + 4;
    if (frame.length > this.opts.maxBodyBytes) {
      events.push(error({ status: 413, reason: `Request Entity Too Large: the body exceeds ${this.opts.maxBodyBytes} bytes`, partial: partialOf(head) }, false));
      this.q.consume(this.headLen);
      this.skipLeft = frame.length;
      this.state = SKIP;
      return true;
    }
    this.head = head;
    this.bodyLen = frame.length;
    this.state = BODY;
    return true;
  }

  /** RFC 3261 §18.3 for datagrams: one datagram, one message; the body is what follows the headers. */
  private datagram(d: Buffer): SipParseEvent {
    const max = this.opts.maxHeaderBytes;
    let i = 0;
    while (i < d.length && (d[i] === CR || d[i] === LF)) i++;
    if (i === d.length) return { type: 'keepalive' };
    const v = d.subarray(i);
    const idx = v.subarray(0, max).indexOf(CRLFCRLF);
    if (idx < 0) {
      if (v.length >= max) return error(salvage(v.subarray(0, max), `Message Too Large: the header section exceeds ${max} bytes`, 513), false);
      const reason = v.indexOf(LFLF) >= 0 ? BARE_LF : 'The header section does not end with an empty line (RFC 3261 §7)';
      return error(salvage(v, reason), false);
    }
    const head = scanHead(v, 0, idx + 2);
    const frame = framing(head);
    const headLen = idx + 4;
    const rest = v.length - headLen;
    if (frame.problem) return error({ ...frame.problem, partial: partialOf(head) }, false);
    if (frame.length !== undefined && frame.length > rest) {
      return error({ status: 400, reason: `Bad Content-Length header: ${frame.length} is more than the ${rest} bytes after the headers (RFC 3261 §18.3)`, header: 'Content-Length', partial: partialOf(head) }, false);
    }
    const bodyLen = frame.length ?? rest;
    if (bodyLen > this.opts.maxBodyBytes) {
      return error({ status: 413, reason: `Request Entity Too Large: the body exceeds ${this.opts.maxBodyBytes} bytes`, partial: partialOf(head) }, false);
    }
    const built = buildMessage(head, Buffer.from(v.subarray(headLen, headLen + bodyLen)));
    if ('problem' in built) return error({ ...built.problem, partial: built.partial }, false);
    return { type: 'message', message: built.message, bytes: headLen + bodyLen };
  }
}

function error(e: { status: ParseStatus; reason: string; header?: string; partial?: PartialMessage }, fatal: boolean): SipParseError {
  const out: SipParseError = { type: 'error', status: e.status, reason: reasonText(e.reason), fatal };
  if (e.header !== undefined) out.header = e.header;
  if (e.partial !== undefined) out.partial = e.partial;
  return out;
}

/** A refusal for an incomplete header section, with the fields of its complete lines. */
function salvage(bytes: Buffer, reason: string, status: ParseStatus = 400): { status: ParseStatus; reason: string; partial?: PartialMessage } {
  const end = bytes.lastIndexOf('\r\n');
  if (end <= 0) return { status, reason };
  return { status, reason, partial: partialOf(scanHead(bytes, 0, end + 2)) };
}

function internal(): { status: 400; reason: string } {
  return { status: 400, reason: 'Internal parser error' };
}

function guard(f: () => SipParseEvent): SipParseEvent {
  try {
    return f();
  } catch {
    return error(internal(), false);
  }
}

/** Unconsumed stream bytes, grown by doubling and compacted in place. */
class ByteQueue {
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** Copies `chunk` in: the caller may reuse its buffer once feed() returns. */
  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.end + n > this.buf.length) {
      const live = this.end - this.start;
      if (live + n <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const next = Buffer.allocUnsafe(Math.max(live + n, this.buf.length * 2, 4096));
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.buf, this.end);
    this.end += n;
  }

  consume(n: number): void {
    this.start += n;
    if (this.start < this.end) return;
    this.start = 0;
    this.end = 0;
    // Let a buffer grown for one large message go.
    if (this.buf.length > 65536) this.buf = Buffer.alloc(0);
  }
}
