/**
 * The header fields of one SIP message as an ordered multimap: RFC 3261
 * §7.3 (field names are case-insensitive; §7.3.3 compact forms, extended by
 * RFC 3515 r/b, RFC 3841 a/j/d, RFC 4028 x, RFC 6665 o/u, RFC 8224 y) and
 * §7.3.1 (several lines of one list-valued field are one comma-separated
 * list, and a list may be split at its commas).
 *
 * Every name is stored in one canonical spelling, so 'v', 'VIA' and 'Via'
 * are the same field. Values are kept as written, unfolded and trimmed.
 */
import { isToken, splitList } from './grammar.js';

const KNOWN = [
  'Accept', 'Accept-Contact', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events',
  'Authentication-Info', 'Authorization', 'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition',
  'Content-Encoding', 'Content-ID', 'Content-Language', 'Content-Length', 'Content-Type', 'CSeq', 'Date',
  'Error-Info', 'Event', 'Expires', 'From', 'History-Info', 'Identity', 'Identity-Info', 'In-Reply-To',
  'Max-Forwards', 'Min-Expires', 'Min-SE', 'MIME-Version', 'Organization', 'P-Asserted-Identity',
  'P-Preferred-Identity', 'Path', 'Priority', 'Privacy', 'Proxy-Authenticate', 'Proxy-Authorization',
  'Proxy-Require', 'RAck', 'Reason', 'Record-Route', 'Refer-To', 'Referred-By', 'Reject-Contact', 'Reply-To',
  'Request-Disposition', 'Require', 'Retry-After', 'Route', 'RSeq', 'Security-Client', 'Security-Server',
  'Security-Verify', 'Server', 'Service-Route', 'Session-Expires', 'SIP-ETag', 'SIP-If-Match', 'Subject',
  'Subscription-State', 'Supported', 'Timestamp', 'To', 'Unsupported', 'User-Agent', 'Via', 'Warning',
  'WWW-Authenticate',
];

const COMPACT: Record<string, string> = {
  a: 'Accept-Contact', b: 'Referred-By', c: 'Content-Type', d: 'Request-Disposition', e: 'Content-Encoding',
  f: 'From', i: 'Call-ID', j: 'Reject-Contact', k: 'Supported', l: 'Content-Length', m: 'Contact',
  n: 'Identity-Info', o: 'Event', r: 'Refer-To', s: 'Subject', t: 'To', u: 'Allow-Events', v: 'Via',
  x: 'Session-Expires', y: 'Identity',
};

/**
 * Fields whose grammar is a comma-separated list (`#` or `*(COMMA ...)` in
 * §25.1 and the extensions' ABNF). Every other field is one value per line:
 * WWW-Authenticate, Authorization and friends separate their auth-params with
 * commas, Date has a comma after the weekday, and an unknown field may too.
 */
const LIST_VALUED = new Set([
  'Accept', 'Accept-Contact', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events',
  'Call-Info', 'Contact', 'Content-Encoding', 'Content-Language', 'Error-Info', 'History-Info', 'In-Reply-To',
  'P-Asserted-Identity', 'P-Preferred-Identity', 'Path', 'Proxy-Require', 'Reason', 'Record-Route',
  'Reject-Contact', 'Request-Disposition', 'Require', 'Route', 'Security-Client', 'Security-Server',
  'Security-Verify', 'Service-Route', 'Supported', 'Unsupported', 'Via', 'Warning',
]);

const CANONICAL = new Map<string, string>();
for (const n of KNOWN) CANONICAL.set(n.toLowerCase(), n);
for (const [k, v] of Object.entries(COMPACT)) CANONICAL.set(k, v);
/** The spellings met most (as the RFCs write them, lower case, compact forms either case), found without lower-casing. */
const EXACT = new Map<string, string>(CANONICAL);
for (const n of KNOWN) EXACT.set(n, n);
for (const [k, v] of Object.entries(COMPACT)) EXACT.set(k.toUpperCase(), v);

/** The one spelling of a field name: known names as the RFCs write them, compact forms expanded, others Title-Cased. */
export function canonicalName(name: string): string {
  const exact = EXACT.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  return CANONICAL.get(lower) ?? lower.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

/** True when the field's value is a comma-separated list that getAll() splits. */
export function isListValued(name: string): boolean {
  return LIST_VALUED.has(canonicalName(name));
}

function checkValue(name: string, value: string): void {
  // Programming errors, not peer input: the parser never produces these.
  if (!isToken(name)) throw new TypeError(`SIP header name '${name}' is not a token (RFC 3261 §7.3)`);
  // A NUL may be a quoted-pair's octet (RFC 3261 §25.1), so only line breaks are refused.
  if (/[\r\n]/.test(value)) throw new TypeError(`SIP header ${name}: a value may not contain CR or LF`);
}

export class SipHeaders {
  private readonly names: string[] = [];
  private readonly values: string[] = [];

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [n, v] of init) this.append(n, v);
  }

  /** Number of field lines. */
  get size(): number {
    return this.names.length;
  }

  has(name: string): boolean {
    return this.names.includes(canonicalName(name));
  }

  /** The first value: the first list element for list-valued fields, else the first line. */
  get(name: string): string | undefined {
    return this.getAll(name)[0];
  }

  /** Every value in order; list-valued fields are split at their top-level commas. */
  getAll(name: string): string[] {
    const lines = this.lines(name);
    return isListValued(name) ? lines.flatMap(splitList) : lines;
  }

  /** The value of each line of this field, unsplit, in order. */
  lines(name: string): string[] {
    const n = canonicalName(name);
    const out: string[] = [];
    for (let i = 0; i < this.names.length; i++) if (this.names[i] === n) out.push(this.values[i]);
    return out;
  }

  /** Replaces every line of the field with one line per value, where its first line was (else at the end). */
  set(name: string, value: string | readonly string[]): this {
    const n = canonicalName(name);
    const vs = typeof value === 'string' ? [value] : value;
    for (const v of vs) checkValue(n, v);
    let at = this.names.indexOf(n);
    this.delete(n);
    if (at < 0 || at > this.names.length) at = this.names.length;
    this.names.splice(at, 0, ...vs.map(() => n));
    this.values.splice(at, 0, ...vs);
    return this;
  }

  append(name: string, value: string): this {
    const n = canonicalName(name);
    checkValue(n, value);
    this.names.push(n);
    this.values.push(value);
    return this;
  }

  /** Adds a line before all others, as a proxy adds its Via. */
  prepend(name: string, value: string): this {
    const n = canonicalName(name);
    checkValue(n, value);
    this.names.unshift(n);
    this.values.unshift(value);
    return this;
  }

  /** Removes every line of the field; returns how many there were. */
  delete(name: string): number {
    const n = canonicalName(name);
    let removed = 0;
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] !== n) continue;
      this.names.splice(i, 1);
      this.values.splice(i, 1);
      removed++;
    }
    return removed;
  }

  /** [canonical name, value] per line, in order. */
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.names.length; i++) yield [this.names[i], this.values[i]];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  clone(): SipHeaders {
    return new SipHeaders(this.entries());
  }

  toJSON(): Array<[string, string]> {
    return [...this.entries()];
  }

  /** Used by the parser, which has already checked names and values. */
  static fromParsed(names: string[], values: string[]): SipHeaders {
    const h = new SipHeaders();
    for (let i = 0; i < names.length; i++) {
      h.names.push(names[i]);
      h.values.push(values[i]);
    }
    return h;
  }
}
