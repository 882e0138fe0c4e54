/**
 * Addresses in From, To, Contact, Refer-To, Referred-By, ...: RFC 3261 §25.1
 * name-addr / addr-spec with a display name that is a quoted-string or a
 * sequence of tokens (LAQUOT = SWS "<", so "caller<sip:...>" is allowed,
 * RFC 4475 §3.1.1.6), followed by header parameters. §20.10: a URI holding a
 * comma, question mark or semicolon must be in name-addr form, so in addr-spec
 * form the URI ends at the first ';' and may not contain '?' or ','.
 */
import { formatParams, isToken, quote, readParams, Scanner, trimEndWs, unquote, type Params } from './grammar.js';
import { formatUri, parseUri, type Uri } from './uri.js';

export interface NameAddr {
  /** Unquoted and unescaped; undefined when there is none ('' for ""). */
  displayName?: string;
  uri: Uri;
  /** Header parameters (tag, expires, q, ...) by lower-cased name, values as written. */
  params: Params;
}

export type AddressResult = { ok: true; value: NameAddr } | { ok: false; reason: string };

export function parseNameAddr(value: string): AddressResult {
  const sc = new Scanner(value);
  sc.ws();
  let displayName: string | undefined;
  if (sc.peek() === 0x22) {
    const raw = sc.quoted();
    if (raw === undefined) return { ok: false, reason: 'unterminated quoted string in the display name (RFC 3261 §25.1 quoted-string)' };
    displayName = unquote(raw);
    sc.ws();
    if (sc.peek() !== 0x3c) return { ok: false, reason: 'a quoted display name must be followed by a URI in angle brackets (RFC 3261 §25.1 name-addr)' };
  } else if (sc.peek() !== 0x3c) {
    const start = sc.pos;
    const words: string[] = [];
    for (let t = sc.token(); t !== ''; t = sc.token()) {
      words.push(t);
      sc.ws();
    }
    if (words.length > 0 && sc.peek() === 0x3c) displayName = words.join(' ');
    else sc.pos = start;
  }
  let uriText: string;
  if (sc.peek() === 0x3c) {
    const end = value.indexOf('>', sc.pos);
    if (end < 0) return { ok: false, reason: 'no closing angle bracket after the URI (RFC 3261 §25.1 name-addr)' };
    uriText = value.slice(sc.pos + 1, end);
    if (/[ \t]/.test(uriText)) return { ok: false, reason: 'white space inside the angle brackets (RFC 3261 §25.1 addr-spec)' };
    sc.pos = end + 1;
  } else {
    uriText = trimEndWs(sc.until(';'));
    if (/[<>"]/.test(uriText)) return { ok: false, reason: 'a display name must be tokens or a quoted string (RFC 3261 §25.1 display-name)' };
    if (/[ \t]/.test(uriText)) return { ok: false, reason: 'white space inside the addr-spec (RFC 3261 §25.1 addr-spec)' };
    if (/[?,]/.test(uriText)) return { ok: false, reason: "a URI containing '?' or ',' must be enclosed in angle brackets (RFC 3261 §20.10)" };
  }
  const uri = parseUri(uriText);
  if (!uri.ok) return uri;
  const params = readParams(sc);
  if (typeof params === 'string') return { ok: false, reason: `${params} (RFC 3261 §25.1 generic-param)` };
  if (!sc.atEnd()) return { ok: false, reason: 'unexpected text after the address (RFC 3261 §25.1 name-addr)' };
  return { ok: true, value: displayName === undefined ? { uri: uri.uri, params } : { displayName, uri: uri.uri, params } };
}

/** Always name-addr form, so URIs with ';', '?' or ',' stay unambiguous. */
export function formatNameAddr(a: NameAddr): string {
  let out = '';
  if (a.displayName !== undefined) {
    const plain = a.displayName !== '' && a.displayName.split(' ').every(isToken);
    out = `${plain ? a.displayName : quote(a.displayName)} `;
  }
  return `${out}<${formatUri(a.uri)}>${formatParams(a.params)}`;
}
