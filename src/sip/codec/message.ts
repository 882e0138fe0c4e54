/**
 * SIP messages as typed values: RFC 3261 §7 (a request is method,
 * Request-URI and version; a response is version, status code and reason
 * phrase; both carry header fields and a body), §7.1 and §7.2 start lines,
 * §21 the reason phrases we send by default.
 *
 * This module is the codec's front door: it re-exports the header multimap,
 * the typed header readers and the URI and address types.
 */
import type { HeaderSource, SipHeaderError } from './header-values.js';
import { readAccept, readCallId, readContact, readContentLength, readContentType, readCSeq, readDate, readExpires, readFrom, readMaxForwards, readMinExpires, readTo, readVias } from './header-values.js';
import { readAllowEvents, readEvent, readRequire, readSipETag, readSipIfMatch, readSubscriptionState, readSupported } from './event-headers.js';
import { SipHeaders, canonicalName } from './headers.js';
import { parseUri, type Uri } from './uri.js';

export { SipHeaders, canonicalName, isListValued } from './headers.js';
export * from './header-values.js';
export * from './event-headers.js';
export { formatUri, hostKind, isSipUri, parseUri, type OpaqueUri, type SipUri, type Uri } from './uri.js';
export { formatNameAddr, parseNameAddr, type NameAddr } from './address.js';
export type { Params } from './grammar.js';

export const SIP_VERSION = 'SIP/2.0';

export interface SipRequest {
  readonly kind: 'request';
  /** Case-sensitive token (§7.1). */
  method: string;
  /** The Request-URI as it travels on the wire. */
  uri: string;
  /** `uri` parsed: a SipUri for sip:/sips:, otherwise an OpaqueUri (tel:, im:, ...). */
  parsedUri: Uri;
  version: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  version: string;
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export function isRequest(m: SipMessage): m is SipRequest {
  return m.kind === 'request';
}

/** A request built by us; throws TypeError on a method or URI that could not go on the wire. */
export function createRequest(method: string, uri: string, headers: Iterable<readonly [string, string]> = [], body: Buffer = Buffer.alloc(0)): SipRequest {
  if (!/^[A-Za-z0-9\-.!%*_+`'~]+$/.test(method)) throw new TypeError(`SIP method '${method}' is not a token (RFC 3261 §7.1)`);
  const parsed = parseUri(uri);
  if (!parsed.ok) throw new TypeError(`SIP Request-URI '${uri}': ${parsed.reason}`);
  return { kind: 'request', method, uri, parsedUri: parsed.uri, version: SIP_VERSION, headers: new SipHeaders(headers), body };
}

export function createResponse(status: number, reason?: string, headers: Iterable<readonly [string, string]> = [], body: Buffer = Buffer.alloc(0)): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699) throw new RangeError(`SIP status ${status} is not 100-699 (RFC 3261 §7.2)`);
  const phrase = reason ?? reasonPhrase(status);
  for (let i = 0; i < phrase.length; i++) {
    const c = phrase.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new TypeError('a SIP reason phrase may not contain control characters (RFC 3261 §25.1)');
  }
  return { kind: 'response', version: SIP_VERSION, status, reason: phrase, headers: new SipHeaders(headers), body };
}

const PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 412: 'Conditional Request Failed', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long',
  415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required',
  423: 'Interval Too Brief', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 489: 'Bad Event', 491: 'Request Pending',
  493: 'Undecipherable',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

/** The RFC's reason phrase for a status (RFC 3261 §21, RFC 3903 §11.2.1 412, RFC 6665 §8.3.2 489). */
export function reasonPhrase(status: number): string {
  return PHRASES[status] ?? PHRASES[Math.floor(status / 100) * 100] ?? 'Unknown';
}

const READERS: Record<string, (src: HeaderSource) => { ok: true } | { ok: false; error: SipHeaderError }> = {
  Via: readVias, From: readFrom, To: readTo, 'Call-ID': readCallId, CSeq: readCSeq, 'Max-Forwards': readMaxForwards,
  Contact: readContact, Expires: readExpires, 'Min-Expires': readMinExpires, 'Content-Length': readContentLength,
  'Content-Type': readContentType, Accept: readAccept, Date: readDate, Event: readEvent,
  'Subscription-State': readSubscriptionState, 'SIP-ETag': readSipETag, 'SIP-If-Match': readSipIfMatch,
  'Allow-Events': readAllowEvents, Supported: readSupported, Require: readRequire,
};

/**
 * Reads the named fields and returns the first error, so that a method
 * handler can validate what it will use in one call and answer 400 with the
 * error's reason. Fields without a typed reader are ignored.
 */
export function checkHeaders(src: HeaderSource, names: readonly string[]): SipHeaderError | undefined {
  for (const name of names) {
    const r = READERS[canonicalName(name)]?.(src);
    if (r && !r.ok) return r.error;
  }
  return undefined;
}
