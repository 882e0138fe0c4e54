/**
 * SIP and SIPS URIs: RFC 3261 §19.1.1 (components), §19.1.2 (which
 * characters must be %-escaped where) and the §25.1 grammar (userinfo,
 * hostport with hostname / IPv4address / IPv6reference, uri-parameters,
 * headers). Any other absoluteURI (tel: of RFC 3966, im:, pres:, ...) is
 * kept opaque: we check that it is one URI token and route on its scheme.
 *
 * User, password, parameter and header parts are stored %-decoded and are
 * %-encoded again on output where §25.1 does not allow them raw, so a parsed
 * URI formats to text that parses back to the same value.
 */
import { isIPv6 } from 'node:net';
import type { Params } from './grammar.js';

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** Decoded user part (RFC 3261 §19.1.2 escapes resolved); undefined when the URI has no userinfo. */
  user?: string;
  password?: string;
  /** As written: a hostname, an IPv4 address or a bracketed IPv6 reference. */
  host: string;
  port?: number;
  /** uri-parameters by lower-cased name, values decoded; null for a flag like ;lr. */
  params: Params;
  /** ?name=value&... in order, decoded. */
  headers: Array<[string, string]>;
}

/** Any other absoluteURI, kept as written after the colon. */
export interface OpaqueUri {
  scheme: string;
  opaque: string;
}

export type Uri = SipUri | OpaqueUri;

export type UriResult = { ok: true; uri: Uri } | { ok: false; reason: string };

export function isSipUri(u: Uri): u is SipUri {
  return u.scheme === 'sip' || u.scheme === 'sips';
}

// Character classes of RFC 3261 §25.1, beyond alphanum.
const MARK = "-_.!~*'()";
const USER = `${MARK}&=+$,;?/`;
const PASSWORD = `${MARK}&=+$,`;
const PARAM = `${MARK}[]/:&+$`;
const HNV = `${MARK}[]/?:+$`;
/** uric of RFC 2396 as §25.1 uses it for absoluteURI: reserved / unreserved / escaped. */
const OPAQUE = /^[A-Za-z0-9\-_.!~*'();/?:@&=+$,[\]%]+$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type HostKind = 'hostname' | 'ipv4' | 'ipv6';

/** What kind of §25.1 host `h` is, or undefined when it is none. */
export function hostKind(h: string): HostKind | undefined {
  if (h.startsWith('[')) return h.endsWith(']') && isIPv6(h.slice(1, -1)) ? 'ipv6' : undefined;
  const v4 = IPV4.exec(h);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) ? 'ipv4' : undefined;
  return h.length <= 255 && HOSTNAME.test(h) ? 'hostname' : undefined;
}

/** port = 1*DIGIT, within 0-65535. */
export function parsePort(s: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Resolves %HH escapes after checking every other character is allowed raw; undefined when not. */
function decode(s: string, allowed: string): string | undefined {
  let bytes: number[] | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      (bytes ??= []).push(parseInt(hex, 16));
      i += 2;
    } else if (isAlnum(c) || allowed.includes(s[i])) {
      (bytes ??= []).push(c);
    } else {
      return undefined;
    }
  }
  if (!s.includes('%')) return s;
  try {
    return utf8.decode(Uint8Array.from(bytes ?? []));
  } catch {
    return undefined;
  }
}

/** %-encodes every character of `s` that `allowed` does not permit raw. */
function encode(s: string, allowed: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c < 0x80 && (isAlnum(c) || allowed.includes(ch))) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function parseUri(text: string): UriResult {
  const colon = text.indexOf(':');
  const scheme = colon > 0 ? text.slice(0, colon) : '';
  if (!SCHEME.test(scheme)) return { ok: false, reason: 'not a URI: no scheme before the colon (RFC 3261 §25.1)' };
  const lower = scheme.toLowerCase();
  const rest = text.slice(colon + 1);
  if (lower === 'sip' || lower === 'sips') return parseSip(lower, rest);
  if (!OPAQUE.test(rest)) return { ok: false, reason: `not a URI: a ${lower}: URI holds characters a URI cannot (RFC 3261 §25.1 absoluteURI)` };
  return { ok: true, uri: { scheme: lower, opaque: rest } };
}

function fail(reason: string): UriResult {
  return { ok: false, reason: `${reason} (RFC 3261 §19.1.1, §25.1)` };
}

function parseSip(scheme: 'sip' | 'sips', rest: string): UriResult {
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: [] };
  const at = rest.indexOf('@');
  let i = 0;
  if (at >= 0) {
    const info = rest.slice(0, at);
    const pc = info.indexOf(':');
    const user = decode(pc < 0 ? info : info.slice(0, pc), USER);
    if (user === undefined || user === '') return fail('malformed user part in the SIP URI');
    uri.user = user;
    if (pc >= 0) {
      const password = decode(info.slice(pc + 1), PASSWORD);
      if (password === undefined) return fail('malformed password in the SIP URI');
      uri.password = password;
    }
    i = at + 1;
  }
  let hostEnd: number;
  if (rest[i] === '[') {
    hostEnd = rest.indexOf(']', i) + 1;
    if (hostEnd === 0) return fail('unterminated IPv6 reference in the SIP URI');
  } else {
    hostEnd = i;
    while (hostEnd < rest.length && !':;?'.includes(rest[hostEnd])) hostEnd++;
  }
  uri.host = rest.slice(i, hostEnd);
  if (hostKind(uri.host) === undefined) return fail('the SIP URI has no valid host');
  i = hostEnd;
  if (rest[i] === ':') {
    let end = i + 1;
    while (end < rest.length && !';?'.includes(rest[end])) end++;
    const port = parsePort(rest.slice(i + 1, end));
    if (port === undefined) return fail('the SIP URI port is not a number from 0 to 65535');
    uri.port = port;
    i = end;
  }
  const q = rest.indexOf('?', i);
  const paramText = rest.slice(i, q < 0 ? rest.length : q);
  if (paramText !== '') {
    if (paramText[0] !== ';') return fail('unexpected characters after the host of the SIP URI');
    for (const p of paramText.slice(1).split(';')) {
      const eq = p.indexOf('=');
      const name = decode(eq < 0 ? p : p.slice(0, eq), PARAM);
      const value = eq < 0 ? null : decode(p.slice(eq + 1), PARAM);
      if (!name || value === undefined || value === '') return fail('malformed uri-parameter in the SIP URI');
      const key = name.toLowerCase();
      if (uri.params.has(key)) return fail(`uri-parameter '${key}' appears twice`);
      uri.params.set(key, value);
    }
  }
  if (q >= 0) {
    for (const h of rest.slice(q + 1).split('&')) {
      const eq = h.indexOf('=');
      const name = eq < 0 ? undefined : decode(h.slice(0, eq), HNV);
      const value = eq < 0 ? undefined : decode(h.slice(eq + 1), HNV);
      if (!name || value === undefined) return fail('malformed header in the SIP URI');
      uri.headers.push([name, value]);
    }
  }
  return { ok: true, uri };
}

/** The URI as text, escaping what §19.1.2 requires. */
export function formatUri(u: Uri): string {
  if (!isSipUri(u)) return `${u.scheme}:${u.opaque}`;
  let out = `${u.scheme}:`;
  if (u.user !== undefined) {
    out += encode(u.user, USER);
    if (u.password !== undefined) out += `:${encode(u.password, PASSWORD)}`;
    out += '@';
  }
  out += u.host;
  if (u.port !== undefined) out += `:${u.port}`;
  for (const [k, v] of u.params) out += v === null ? `;${encode(k, PARAM)}` : `;${encode(k, PARAM)}=${encode(v, PARAM)}`;
  if (u.headers.length > 0) out += `?${u.headers.map(([k, v]) => `${encode(k, HNV)}=${encode(v, HNV)}`).join('&')}`;
  return out;
}
