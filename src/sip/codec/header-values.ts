/**
 * Typed readers for the header fields the SIP core needs, each returning a
 * value or a 400 error that names the field and the rule it breaks:
 * RFC 3261 §20.42 Via (with RFC 3581 rport), §20.20 From, §20.39 To, §20.10
 * Contact, §20.8 Call-ID, §20.16 CSeq (and §8.1.1.5), §20.22 Max-Forwards,
 * §20.19 Expires, §20.23 Min-Expires, §20.14 Content-Length, §20.15
 * Content-Type, §20.1 Accept, §20.17 Date; the grammar is §25.1.
 *
 * Readers never throw. A field that is absent reads as undefined (or []),
 * except for the ones every message must carry (§8.1.1), which read as an error.
 */
import { parseNameAddr, type NameAddr } from './address.js';
import { isDigits, isToken, readParams, reasonText, Scanner, type Params } from './grammar.js';
import type { SipHeaders } from './headers.js';
import { hostKind, parsePort } from './uri.js';

export interface SipHeaderError {
  status: 400;
  /** Canonical name of the offending field. */
  header: string;
  /** A reason phrase naming the field and the rule, fit for the status line. */
  reason: string;
}

export type SipResult<T> = { ok: true; value: T } | { ok: false; error: SipHeaderError };

/** A message, a partial message from a parse error, or bare headers. */
export type HeaderSource = SipHeaders | { headers: SipHeaders };

export function headersOf(src: HeaderSource): SipHeaders {
  return 'headers' in src ? src.headers : src;
}

export function ok<T>(value: T): SipResult<T> {
  return { ok: true, value };
}

export function bad<T>(header: string, detail: string): SipResult<T> {
  return { ok: false, error: { status: 400, header, reason: reasonText(`Bad ${header} header: ${detail}`) } };
}

export function missing<T>(header: string): SipResult<T> {
  return { ok: false, error: { status: 400, header, reason: `Missing ${header} header (RFC 3261 §8.1.1)` } };
}

/** The one line of a single-valued field: undefined when absent, an error when repeated. */
export function single(src: HeaderSource, name: string, rule: string): SipResult<string | undefined> {
  const lines = headersOf(src).lines(name);
  if (lines.length > 1) return bad(name, `it appears ${lines.length} times but may appear once (${rule})`);
  return ok(lines[0]);
}

/** delta-seconds = 1*DIGIT, which §10.2.1 and RFC 4475 §3.1.2.4 bound by 2**32-1. */
export function deltaSeconds(s: string | null | undefined): number | undefined {
  if (s === null || s === undefined || !isDigits(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

export interface Via {
  /** 'SIP/2.0' (protocol name upper-cased). */
  protocol: string;
  /** Upper-cased: UDP, TCP, TLS, SCTP, WS, or any other token. */
  transport: string;
  host: string;
  port?: number;
  /** host[:port] as it identifies the sender (§18.2.2). */
  sentBy: string;
  params: Params;
  branch?: string;
  received?: string;
  /** RFC 3581: true when present without a value (the client asks for it). */
  rport?: number | true;
  maddr?: string;
  ttl?: number;
}

const MAGIC_COOKIE = 'z9hG4bK';

/** §8.1.1.7: an RFC 3261 branch starts with the magic cookie and has something after it. */
export function isRfc3261Branch(branch: string | undefined): boolean {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length;
}

const VIA_RULE = 'RFC 3261 §20.42';

/** One via-parm; a string is the reason it is malformed. */
export function parseVia(value: string): Via | string {
  const sc = new Scanner(value);
  const name = sc.token();
  const slash1 = sc.sep('/');
  const version = sc.token();
  const slash2 = sc.sep('/');
  const transport = sc.token();
  if (!name || !slash1 || !version || !slash2 || !transport) return `malformed sent-protocol (${VIA_RULE})`;
  if (!sc.ws()) return `no white space after the sent-protocol (${VIA_RULE})`;
  let host: string;
  if (sc.peek() === 0x5b) {
    const end = value.indexOf(']', sc.pos);
    host = end < 0 ? '' : value.slice(sc.pos, end + 1);
    sc.pos = end + 1;
  } else {
    host = sc.until(' \t:;');
  }
  if (hostKind(host) === undefined) return `malformed sent-by host (${VIA_RULE})`;
  const via: Via = { protocol: `${name.toUpperCase()}/${version}`, transport: transport.toUpperCase(), host, sentBy: host, params: new Map() };
  if (sc.sep(':')) {
    const port = parsePort(sc.digits());
    if (port === undefined) return `malformed sent-by port (${VIA_RULE})`;
    via.port = port;
    via.sentBy = `${host}:${port}`;
  }
  const params = readParams(sc);
  if (typeof params === 'string') return `${params} (${VIA_RULE})`;
  if (!sc.atEnd()) return `unexpected text after the sent-by (${VIA_RULE})`;
  via.params = params;
  for (const [k, v] of params) {
    if (k === 'branch') {
      if (v === null || !isToken(v)) return `branch must be a token (${VIA_RULE})`;
      via.branch = v;
    } else if (k === 'received') {
      const kind = v === null ? undefined : hostKind(v.includes(':') && !v.startsWith('[') ? `[${v}]` : v);
      if (v === null || (kind !== 'ipv4' && kind !== 'ipv6')) return `received must be an IP address (${VIA_RULE})`;
      via.received = v;
    } else if (k === 'rport') {
      const port = v === null ? true : parsePort(v);
      if (port === undefined) return 'rport must be empty or a port number (RFC 3581 §4)';
      via.rport = port;
    } else if (k === 'maddr') {
      if (v === null || hostKind(v) === undefined) return `maddr must be a host (${VIA_RULE})`;
      via.maddr = v;
    } else if (k === 'ttl') {
      const ttl = v !== null && /^[0-9]{1,3}$/.test(v) ? Number(v) : 256;
      if (ttl > 255) return `ttl must be 0 to 255 (${VIA_RULE})`;
      via.ttl = ttl;
    }
  }
  return via;
}

/** Every Via value, topmost first. */
export function readVias(src: HeaderSource): SipResult<Via[]> {
  const values = headersOf(src).getAll('Via');
  if (values.length === 0) return missing('Via');
  const out: Via[] = [];
  for (const v of values) {
    const via = parseVia(v);
    if (typeof via === 'string') return bad('Via', via);
    out.push(via);
  }
  return ok(out);
}

export function readTopVia(src: HeaderSource): SipResult<Via> {
  const vias = readVias(src);
  return vias.ok ? ok(vias.value[0]) : vias;
}

export interface Address extends NameAddr {
  tag?: string;
}

function readAddress(src: HeaderSource, name: 'From' | 'To', rule: string): SipResult<Address> {
  const line = single(src, name, rule);
  if (!line.ok) return line;
  if (line.value === undefined) return missing(name);
  const parsed = parseNameAddr(line.value);
  if (!parsed.ok) return bad(name, parsed.reason);
  const tag = parsed.value.params.get('tag');
  if (tag === null || (tag !== undefined && !isToken(tag))) return bad(name, `tag must be a token (${rule})`);
  return ok(tag === undefined ? parsed.value : { ...parsed.value, tag });
}

export function readFrom(src: HeaderSource): SipResult<Address> {
  return readAddress(src, 'From', 'RFC 3261 §20.20');
}

export function readTo(src: HeaderSource): SipResult<Address> {
  return readAddress(src, 'To', 'RFC 3261 §20.39');
}

export interface ContactAddress extends NameAddr {
  expires?: number;
  q?: number;
}

const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** '*' (REGISTER removal), or the contacts in order; [] when absent. */
export function readContact(src: HeaderSource): SipResult<'*' | ContactAddress[]> {
  const values = headersOf(src).getAll('Contact');
  const rule = 'RFC 3261 §20.10';
  if (values.includes('*')) return values.length === 1 ? ok('*') : bad('Contact', `'*' must be the only contact (${rule})`);
  const out: ContactAddress[] = [];
  for (const v of values) {
    const parsed = parseNameAddr(v);
    if (!parsed.ok) return bad('Contact', parsed.reason);
    const c: ContactAddress = parsed.value;
    const expires = c.params.get('expires');
    if (expires !== undefined) {
      const n = deltaSeconds(expires);
      if (n === undefined) return bad('Contact', `expires must be delta-seconds up to 2**32-1 (${rule})`);
      c.expires = n;
    }
    const q = c.params.get('q');
    if (q !== undefined) {
      if (q === null || !QVALUE.test(q)) return bad('Contact', `q must be a qvalue from 0 to 1 (${rule})`);
      c.q = Number(q);
    }
    out.push(c);
  }
  return ok(out);
}

/** Call-ID = word [ "@" word ], compared byte for byte. */
export function readCallId(src: HeaderSource): SipResult<string> {
  const line = single(src, 'Call-ID', 'RFC 3261 §20.8');
  if (!line.ok) return line;
  if (line.value === undefined) return missing('Call-ID');
  if (!/^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/.test(line.value)) {
    return bad('Call-ID', 'it must be word or word@word (RFC 3261 §25.1 callid)');
  }
  return ok(line.value);
}

export interface CSeq {
  seq: number;
  method: string;
}

export function readCSeq(src: HeaderSource): SipResult<CSeq> {
  const line = single(src, 'CSeq', 'RFC 3261 §20.16');
  if (!line.ok) return line;
  if (line.value === undefined) return missing('CSeq');
  const m = /^([0-9]+)[ \t]+(\S+)$/.exec(line.value);
  if (!m || !isToken(m[2])) return bad('CSeq', 'it must be a number and a method (RFC 3261 §20.16)');
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) return bad('CSeq', 'the sequence number must be less than 2**31 (RFC 3261 §8.1.1.5)');
  return ok({ seq, method: m[2] });
}

/** Max-Forwards, 0-255 (§20.22); undefined when absent (it is mandatory only in requests). */
export function readMaxForwards(src: HeaderSource): SipResult<number | undefined> {
  const line = single(src, 'Max-Forwards', 'RFC 3261 §20.22');
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  if (!isDigits(line.value) || Number(line.value) > 255) return bad('Max-Forwards', 'it must be an integer from 0 to 255 (RFC 3261 §20.22)');
  return ok(Number(line.value));
}

function readDelta(src: HeaderSource, name: string, rule: string): SipResult<number | undefined> {
  const line = single(src, name, rule);
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  const n = deltaSeconds(line.value);
  return n === undefined ? bad(name, `it must be delta-seconds up to 2**32-1 (${rule})`) : ok(n);
}

export function readExpires(src: HeaderSource): SipResult<number | undefined> {
  return readDelta(src, 'Expires', 'RFC 3261 §20.19');
}

export function readMinExpires(src: HeaderSource): SipResult<number | undefined> {
  return readDelta(src, 'Min-Expires', 'RFC 3261 §20.23');
}

export function readContentLength(src: HeaderSource): SipResult<number | undefined> {
  const line = single(src, 'Content-Length', 'RFC 3261 §20.14');
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  if (!/^[0-9]{1,15}$/.test(line.value)) return bad('Content-Length', 'it must be a non-negative integer (RFC 3261 §20.14)');
  return ok(Number(line.value));
}

export interface MediaType {
  /** Lower-cased type/subtype, e.g. 'application/pidf+xml'; '*' where a range allows any. */
  mediaType: string;
  type: string;
  subtype: string;
  params: Params;
}

function parseMediaType(value: string): MediaType | undefined {
  const sc = new Scanner(value);
  const type = sc.token().toLowerCase();
  if (!type || !sc.sep('/')) return undefined;
  const subtype = sc.token().toLowerCase();
  const params = readParams(sc);
  if (!subtype || typeof params === 'string' || !sc.atEnd()) return undefined;
  return { mediaType: `${type}/${subtype}`, type, subtype, params };
}

export function readContentType(src: HeaderSource): SipResult<MediaType | undefined> {
  const line = single(src, 'Content-Type', 'RFC 3261 §20.15');
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  const mt = parseMediaType(line.value);
  return mt ? ok(mt) : bad('Content-Type', 'it must be type/subtype with parameters (RFC 3261 §20.15)');
}

/** The accepted media ranges; undefined when the field is absent (which is not the same as empty, §20.1). */
export function readAccept(src: HeaderSource): SipResult<MediaType[] | undefined> {
  const h = headersOf(src);
  if (!h.has('Accept')) return ok(undefined);
  const out: MediaType[] = [];
  for (const v of h.getAll('Accept')) {
    const mt = parseMediaType(v);
    if (!mt) return bad('Accept', 'each range must be type/subtype with parameters (RFC 3261 §20.1)');
    out.push(mt);
  }
  return ok(out);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** rfc1123-date, which SIP restricts to GMT (§20.17). */
export function readDate(src: HeaderSource): SipResult<Date | undefined> {
  const line = single(src, 'Date', 'RFC 3261 §20.17');
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  const m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ([A-Z][a-z]{2}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT$/.exec(line.value);
  const month = m ? MONTHS.indexOf(m[2]) : -1;
  const [d, y, hh, mm, ss] = m ? [m[1], m[3], m[4], m[5], m[6]].map(Number) : [];
  if (!m || month < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) {
    return bad('Date', 'it must be an RFC 1123 date in GMT, like Sat, 13 Nov 2010 23:29:00 GMT (RFC 3261 §20.17)');
  }
  return ok(new Date(Date.UTC(y, month, d, hh, mm, ss)));
}
