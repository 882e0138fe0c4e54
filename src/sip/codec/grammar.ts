/**
 * SIP lexical rules shared by the URI, address and header-value parsers:
 * RFC 3261 §25.1 (token, quoted-string with quoted-pair, SWS/LWS, SEMI,
 * EQUAL, COMMA, generic-param and gen-value) and §7.3.1 (a header whose
 * grammar is a comma-separated list may be split at its top-level commas).
 *
 * Header values reach these functions already unfolded (§7.3.1: folding is
 * one SP), so linear white space is only ever SP or HTAB here.
 */
import { isIPv6 } from 'node:net';

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN = new Uint8Array(128);
for (const c of "-.!%*_+`'~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

export function isToken(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

export function isDigits(s: string): boolean {
  return /^[0-9]+$/.test(s);
}

/** Header and URI parameters by lower-cased name (names compare case-insensitively, §19.1.4, §20). */
export type Params = Map<string, string | null>;

/** A cursor over one header value (or part of one). */
export class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  /** Skips SP/HTAB; true when any was skipped. */
  ws(): boolean {
    const start = this.pos;
    while (isWs(this.peek())) this.pos++;
    return this.pos > start;
  }

  /** SWS ch SWS (SEMI, EQUAL, COLON, SLASH, COMMA of §25.1); on a miss the position is unchanged. */
  sep(ch: string): boolean {
    const start = this.pos;
    this.ws();
    if (this.s[this.pos] === ch) {
      this.pos++;
      this.ws();
      return true;
    }
    this.pos = start;
    return false;
  }

  token(): string {
    const start = this.pos;
    while (isTokenChar(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }

  digits(): string {
    const start = this.pos;
    for (let c = this.peek(); c >= 0x30 && c <= 0x39; c = this.peek()) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /** Everything up to (not including) the first of `stops`, or to the end. */
  until(stops: string): string {
    const start = this.pos;
    while (this.pos < this.s.length && !stops.includes(this.s[this.pos])) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /** A quoted-string at the cursor, quotes included; undefined when unterminated or broken. */
  quoted(): string | undefined {
    const s = this.s;
    if (s[this.pos] !== '"') return undefined;
    for (let i = this.pos + 1; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x5c) {
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        const n = s.charCodeAt(i + 1);
        if (!(n >= 0 && n <= 0x7f) || n === 0x0a || n === 0x0d) return undefined;
        i++;
      } else if (c === 0x22) {
        const raw = s.slice(this.pos, i + 1);
        this.pos = i + 1;
        return raw;
      }
    }
    return undefined;
  }

  /** gen-value = token / host / quoted-string (hostnames and IPv4 are tokens already). */
  genValue(): string | undefined {
    const c = this.peek();
    if (c === 0x22) return this.quoted();
    if (c === 0x5b) {
      const end = this.s.indexOf(']', this.pos);
      if (end < 0 || !isIPv6(this.s.slice(this.pos + 1, end))) return undefined;
      const v = this.s.slice(this.pos, end + 1);
      this.pos = end + 1;
      return v;
    }
    const start = this.pos;
    const t = this.token();
    if (this.peek() === 0x3a) {
      // An unbracketed IPv6address, as in Via received= (RFC 3261 §20.42 via-received).
      while (/[0-9A-Fa-f:.]/.test(this.s[this.pos] ?? '')) this.pos++;
      const v6 = this.s.slice(start, this.pos);
      if (isIPv6(v6)) return v6;
      this.pos = start + t.length;
    }
    return t === '' ? undefined : t;
  }

  /** At the end once trailing white space is skipped. */
  atEnd(): boolean {
    this.ws();
    return this.done;
  }
}

/**
 * *( SEMI generic-param ), the tail of most header values. Values are kept
 * as written (a quoted-string keeps its quotes); returns a reason on error.
 */
export function readParams(sc: Scanner): Params | string {
  const params: Params = new Map();
  while (sc.sep(';')) {
    const name = sc.token();
    if (name === '') return 'a parameter has no name';
    let value: string | null = null;
    if (sc.sep('=')) {
      const v = sc.genValue();
      if (v === undefined) return `parameter '${name}' has a malformed value`;
      value = v;
    }
    const key = name.toLowerCase();
    if (params.has(key)) return `parameter '${key}' appears twice`;
    params.set(key, value);
  }
  return params;
}

/** Writes parameters back: ;name or ;name=value, values as stored. */
export function formatParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

/** The content of a quoted-string (quotes included in `raw`), quoted-pairs resolved. */
export function unquote(raw: string): string {
  return raw.slice(1, -1).replace(/\\([\s\S])/g, '$1');
}

/**
 * A quoted-string holding `s`: '"', '\\' and other control characters become
 * quoted-pairs; CR and LF, which no quoted-pair can carry, become spaces.
 */
export function quote(s: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/[\r\n]/g, ' ').replace(/["\\\0-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '\\$&')}"`;
}

/**
 * Splits a list-valued header value at commas that are outside quoted
 * strings and outside <...> (a name-addr's URI may hold commas). Elements are
 * trimmed; an empty value yields no elements, an empty element stays '' so
 * that typed accessors can refuse it.
 */
export function splitList(value: string): string[] {
  if (value === '') return [];
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (angle) {
      if (c === 0x3e) angle = false;
    } else if (c === 0x22) {
      quoted = true;
    } else if (c === 0x3c) {
      angle = true;
    } else if (c === 0x2c) {
      out.push(trimWs(value.slice(start, i)));
      start = i + 1;
    }
  }
  out.push(trimWs(value.slice(start)));
  return out;
}

/** Strips SP/HTAB at the end, in linear time (a /[ \t]+$/ replace is quadratic on long inner runs). */
export function trimEndWs(s: string): string {
  let b = s.length;
  while (b > 0 && isWs(s.charCodeAt(b - 1))) b--;
  return b === s.length ? s : s.slice(0, b);
}

/** Strips SP/HTAB at both ends (String#trim would also eat Unicode spaces that are data). */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * `s` made fit for a Reason-Phrase (RFC 3261 §25.1: reserved, unreserved,
 * UTF-8 text, SP and HTAB, %-escapes): any other character, which an
 * echoed token can bring in, becomes '?'.
 */
export function reasonText(s: string): string {
  return s.replace(/[^A-Za-z0-9\-_.!~*'();/?:@&=+$, \t\u0080-\uffff]/g, '?');
}
