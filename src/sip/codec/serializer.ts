/**
 * SIP messages to bytes: RFC 3261 §7 (start line, one field per line in
 * canonical spelling, CRLF line ends, an empty line, the body), §7.4.2 and
 * §18.3 (Content-Length is always sent and always computed from the body, so
 * it is right on streams and datagrams alike), §8.2.6 (a response copies the
 * request's Via fields in order, From, To, Call-ID and CSeq; the UAS may add a
 * To tag) and §8.2.6.1 (a 100 echoes Timestamp).
 */
import { isToken } from './grammar.js';
import { readTo } from './header-values.js';
import { createResponse, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import type { PartialMessage, SipParseError } from './parser.js';

function checkLine(what: string, s: string): void {
  if (/[\r\n]/.test(s)) throw new TypeError(`SIP ${what} may not contain CR or LF`);
}

/** The wire form of `msg`. Throws TypeError only for a start line that was set to something unsendable. */
export function serialize(msg: SipMessage): Buffer {
  let head: string;
  if (msg.kind === 'request') {
    checkLine('method', msg.method);
    checkLine('Request-URI', msg.uri);
    if (/ /.test(msg.method + msg.uri)) throw new TypeError('SIP method and Request-URI may not contain spaces (RFC 3261 §7.1)');
    head = `${msg.method} ${msg.uri} ${msg.version}\r\n`;
  } else {
    checkLine('reason phrase', msg.reason);
    head = `${msg.version} ${msg.status} ${msg.reason}\r\n`;
  }
  let lengthWritten = false;
  for (const [name, value] of msg.headers) {
    if (name !== 'Content-Length') {
      head += `${name}: ${value}\r\n`;
    } else if (!lengthWritten) {
      head += `Content-Length: ${msg.body.length}\r\n`;
      lengthWritten = true;
    }
  }
  if (!lengthWritten) head += `Content-Length: ${msg.body.length}\r\n`;
  head += '\r\n';
  const bytes = Buffer.from(head, 'utf8');
  return msg.body.length === 0 ? bytes : Buffer.concat([bytes, msg.body]);
}

export interface ResponseOptions {
  /** Added to To when the request's To has no tag (§8.2.6.2); must be a token. */
  toTag?: string;
}

/**
 * A response to `req` per §8.2.6: Via fields copied in order, From, To (with
 * `toTag` added when asked and absent), Call-ID and CSeq, then `extraHeaders`,
 * and an empty body. Works with the `partial` of a parse error too.
 */
export function responseTo(
  req: SipRequest | PartialMessage,
  status: number,
  reason?: string,
  extraHeaders: Iterable<readonly [string, string]> = [],
  opts: ResponseOptions = {},
): SipResponse {
  const h = req.headers;
  const res = createResponse(status, reason);
  for (const v of h.lines('Via')) res.headers.append('Via', v);
  const from = h.lines('From')[0];
  if (from !== undefined) res.headers.append('From', from);
  let to = h.lines('To')[0];
  if (to !== undefined && opts.toTag !== undefined) {
    if (!isToken(opts.toTag)) throw new TypeError(`To tag '${opts.toTag}' is not a token (RFC 3261 §19.3)`);
    const parsed = readTo(h);
    if (parsed.ok && parsed.value.tag === undefined) to = `${to};tag=${opts.toTag}`;
  }
  if (to !== undefined) res.headers.append('To', to);
  for (const name of ['Call-ID', 'CSeq']) {
    const v = h.lines(name)[0];
    if (v !== undefined) res.headers.append(name, v);
  }
  if (status === 100) for (const v of h.lines('Timestamp')) res.headers.append('Timestamp', v);
  for (const [name, value] of extraHeaders) res.headers.append(name, value);
  return res;
}

/**
 * The answer to a parse error, when one can be formed: the refused message
 * was a request other than ACK, and its Via and CSeq could be read, which is
 * what the client matches a response to its transaction by (§17.1.3); From,
 * To and Call-ID are copied when present (RFC 4475 §3.3.1 expects a 400 even
 * when they are missing). Otherwise undefined, and the message is dropped: a
 * response or an ACK is never answered (§8.2, §17.2.3).
 */
export function errorResponse(ev: SipParseError, opts: ResponseOptions = {}): SipResponse | undefined {
  const p = ev.partial;
  if (!p || p.kind !== 'request' || p.method === 'ACK') return undefined;
  if (!p.headers.has('Via') || !p.headers.has('CSeq')) return undefined;
  if (/(^|[ \t])ACK$/.test(p.headers.lines('CSeq')[0] ?? '')) return undefined;
  return responseTo(p, ev.status, ev.reason, [], opts);
}
