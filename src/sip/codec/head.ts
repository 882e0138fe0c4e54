/**
 * From the bytes of one header section to a typed message, or to a refusal
 * that still carries what could be read: RFC 3261 §7.1 Request-Line, §7.2
 * Status-Line, §7.3.1 header fields (name HCOLON value, folding with LWS,
 * §7.3.3 compact forms), §8.1.1 the fields every request must carry (and
 * §8.1.1.5 CSeq's method), §20.14 one Content-Length, §25.1 characters
 * (UTF-8 text, no control characters outside HTAB).
 *
 * Lines are decoded one at a time, so that a line with a stray byte spoils
 * only itself: the fields around it still reach `partial`, and a 400 can
 * be formed from Via, From, To, Call-ID and CSeq.
 */
import { isToken, isWs, trimEndWs, trimWs } from './grammar.js';
import { readCallId, readCSeq, readFrom, readMaxForwards, readTo, readVias, type SipResult } from './header-values.js';
import { canonicalName, SipHeaders } from './headers.js';
import { SIP_VERSION, type SipMessage } from './message.js';
import { isSipUri, parseUri, type Uri } from './uri.js';

/** Codes the codec itself answers with. */
export type ParseStatus = 400 | 413 | 505 | 513;

/** What could be read of a message that was refused. */
export interface PartialMessage {
  kind: 'request' | 'response';
  /** The first line, with any byte that is not text shown as U+FFFD. */
  startLine: string;
  method?: string;
  uri?: string;
  status?: number;
  /** Every field whose line was well formed. */
  headers: SipHeaders;
}

export interface Problem {
  status: ParseStatus;
  reason: string;
  /** The field at fault, when one is. */
  header?: string;
}

export interface RawHead {
  startLine: string;
  startLineOk: boolean;
  names: string[];
  values: string[];
  /** Each Content-Length line's value; null when its bytes were not text. */
  lengths: Array<string | null>;
  /** The first malformed line. */
  problem?: Problem;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder('utf-8');

/**
 * Decodes buf[s, e) as one line. `quoted` says whether a quoted-string is
 * open where the line starts (it may span a fold); inside one, a quoted-pair
 * may escape any octet but CR and LF (§25.1), so RFC 4475 §3.1.1.2's escaped
 * BEL, NUL and DEL are text. Any other control character refuses the line.
 */
function decodeLine(buf: Buffer, s: number, e: number, quoted: boolean | null): { text: string; quoted: boolean } | { bad: string } {
  let ascii = true;
  let q = quoted === true;
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (c >= 0x80) {
      ascii = false;
    } else if (quoted !== null && c === 0x22) {
      q = !q;
    } else if (q && c === 0x5c && i + 1 < e && buf[i + 1] < 0x80) {
      i++;
    } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      return c === 0x0d || c === 0x0a
        ? { bad: 'Bare CR or LF in the header section; lines end in CRLF (RFC 3261 §7)' }
        : { bad: `Control character 0x${c.toString(16).padStart(2, '0')} in the header section (RFC 3261 §25.1)` };
    }
  }
  if (ascii) return { text: buf.toString('latin1', s, e), quoted: q };
  try {
    return { text: utf8.decode(buf.subarray(s, e)), quoted: q };
  } catch {
    return { bad: 'The header section is not valid UTF-8 (RFC 3261 §25.1)' };
  }
}

/** One line of the header section: its text, or why it is not text (with a lossy rendering). */
type Line = { text: string } | { bad: string; lossy: string };

/** True when buf[s, e) is printable ASCII, HTAB and CRLF pairs only: the common case, decoded in one go. */
function plainAscii(buf: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (c >= 0x20 && c < 0x7f) continue;
    if (c === 0x09) continue;
    if (c === 0x0d && buf[i + 1] === 0x0a && i + 1 < e) {
      i++;
      continue;
    }
    return false;
  }
  return true;
}

/** Splits buf[start, end) into decoded lines; a last line without CRLF is taken as is. */
function splitLines(buf: Buffer, start: number, end: number): Line[] {
  if (plainAscii(buf, start, end)) {
    const lines: Line[] = buf.toString('latin1', start, end).split('\r\n').map((text) => ({ text }));
    if (lines.length > 1 && buf[end - 1] === 0x0a) lines.pop();
    return lines;
  }
  const lines: Line[] = [];
  let quoted = false;
  for (let pos = start; pos < end;) {
    let eol = buf.indexOf(CRLF, pos);
    if (eol < 0 || eol > end) eol = end;
    const folded = lines.length > 0 && isWs(buf[pos]);
    const d = decodeLine(buf, pos, eol, lines.length === 0 ? null : folded && quoted);
    if ('quoted' in d) {
      quoted = d.quoted;
      lines.push({ text: d.text });
    } else {
      lines.push({ bad: d.bad, lossy: lossy.decode(buf.subarray(pos, eol)) });
    }
    pos = eol + 2;
  }
  return lines;
}

const CRLF = Buffer.from('\r\n');

/**
 * Splits buf[start, end) into the start line and header fields; `end` is just
 * past the CRLF of the last line (a last line without one is taken as is).
 */
export function scanHead(buf: Buffer, start: number, end: number): RawHead {
  const head: RawHead = { startLine: '', startLineOk: false, names: [], values: [], lengths: [] };
  let name: string | null = null;
  let value = '';
  let valid = false;
  const flush = (): void => {
    if (name === null) return;
    if (valid) {
      head.names.push(name);
      head.values.push(trimWs(value));
    }
    if (name === 'Content-Length') head.lengths.push(valid ? trimWs(value) : null);
    name = null;
  };
  const problem = (reason: string): void => {
    head.problem ??= { status: 400, reason };
  };
  const lines = splitLines(buf, start, end);
  for (let i = 0; i < lines.length; i++) {
    const d = lines[i];
    const text = 'text' in d ? d.text : d.lossy;
    if (i === 0) {
      head.startLine = text;
      head.startLineOk = 'text' in d;
      if ('bad' in d) problem(d.bad);
    } else if (isWs(text.charCodeAt(0))) {
      // §7.3.1 folding: the continuation joins the field it continues, as one SP.
      if (name === null) problem('A folded line must continue a header field (RFC 3261 §7.3.1)');
      if ('bad' in d) {
        problem(d.bad);
        valid = false;
      } else {
        value = `${trimEndWs(value)} ${trimWs(text)}`;
      }
    } else {
      flush();
      if ('bad' in d) problem(d.bad);
      const colon = text.indexOf(':');
      const rawName = colon < 0 ? '' : trimEndWs(text.slice(0, colon));
      if (!isToken(rawName)) {
        problem(colon < 0 ? 'Malformed header line: no colon (RFC 3261 §7.3.1)' : 'Malformed header name: not a token (RFC 3261 §7.3.1)');
      } else {
        name = canonicalName(rawName);
        valid = 'text' in d;
        if (valid) value = text.slice(colon + 1);
      }
    }
  }
  flush();
  return head;
}

type Start =
  | { kind: 'request'; method: string; uri: string }
  | { kind: 'response'; status: number; reason: string };

const VERSION = /^SIP\/([0-9]+)\.([0-9]+)$/i;

function parseVersion(v: string): Problem | undefined {
  const m = VERSION.exec(v);
  if (!m) return { status: 400, reason: 'Malformed SIP-Version (RFC 3261 §7.1)' };
  if (Number(m[1]) !== 2 || Number(m[2]) !== 0) return { status: 505, reason: 'Version Not Supported: only SIP/2.0 is (RFC 3261 §7.1, §21.5.7)' };
  return undefined;
}

function parseStartLine(line: string): Start | Problem {
  if (/^SIP\//i.test(line)) {
    const m = /^(\S+) ([0-9]+)(?: ([^]*))?$/.exec(line);
    if (!m) return { status: 400, reason: 'The Status-Line must be SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2)' };
    const v = parseVersion(m[1]);
    if (v) return v;
    const status = Number(m[2]);
    if (m[2].length !== 3 || status < 100) return { status: 400, reason: 'The Status-Code must be three digits from 100 to 699 (RFC 3261 §7.2, §21)' };
    return { kind: 'response', status, reason: m[3] ?? '' };
  }
  const parts = line.split(' ');
  if (parts.length !== 3 || parts.some((p) => p === '' || /\t/.test(p))) {
    return { status: 400, reason: 'The Request-Line must be Method SP Request-URI SP SIP-Version, single spaces (RFC 3261 §7.1)' };
  }
  const [method, uri, version] = parts;
  const v = parseVersion(version);
  if (v) return v;
  if (!isToken(method)) return { status: 400, reason: 'The method must be a token (RFC 3261 §7.1, §25.1)' };
  return { kind: 'request', method, uri };
}

function fromResult(r: SipResult<unknown>): Problem | undefined {
  return r.ok ? undefined : { status: 400, reason: r.error.reason, header: r.error.header };
}

const MANDATORY_RESPONSE = ['Via', 'From', 'To', 'Call-ID', 'CSeq'];
const MANDATORY_REQUEST = [...MANDATORY_RESPONSE, 'Max-Forwards'];

/** What a refusal can tell about the message: its start line, as far as it parses, and its well-formed fields. */
export function partialOf(head: RawHead): PartialMessage {
  return describe(head).partial;
}

function describe(head: RawHead): { partial: PartialMessage; start: Start | Problem | undefined } {
  const partial: PartialMessage = {
    kind: /^SIP\//i.test(head.startLine) ? 'response' : 'request',
    startLine: head.startLine,
    headers: SipHeaders.fromParsed(head.names, head.values),
  };
  const start = head.startLineOk ? parseStartLine(head.startLine) : undefined;
  if (start && 'kind' in start) {
    if (start.kind === 'request') {
      partial.method = start.method;
      partial.uri = start.uri;
    } else {
      partial.status = start.status;
    }
  }
  return { partial, start };
}

/** The message `head` and `body` make, or the first rule they break with what could be read. */
export function buildMessage(head: RawHead, body: Buffer): { message: SipMessage } | { problem: Problem; partial: PartialMessage } {
  const { partial, start } = describe(head);
  const headers = partial.headers;
  const refuse = (problem: Problem): { problem: Problem; partial: PartialMessage } => ({ problem, partial });
  if (start === undefined) return refuse(head.problem as Problem);
  if (!('kind' in start)) return refuse(start);
  if (head.problem) return refuse(head.problem);
  let parsedUri: Uri | undefined;
  if (start.kind === 'request') {
    const parsed = parseUri(start.uri);
    if (!parsed.ok) return refuse({ status: 400, reason: `Bad Request-URI: ${parsed.reason}` });
    if (isSipUri(parsed.uri) && parsed.uri.headers.length > 0) {
      return refuse({ status: 400, reason: 'Bad Request-URI: it may not carry headers (RFC 3261 §19.1.1)' });
    }
    parsedUri = parsed.uri;
  }
  const absent = (start.kind === 'request' ? MANDATORY_REQUEST : MANDATORY_RESPONSE).filter((n) => !headers.has(n));
  if (absent.length > 0) {
    return refuse({ status: 400, reason: `Missing mandatory header${absent.length > 1 ? 's' : ''} ${absent.join(', ')} (RFC 3261 §8.1.1)`, header: absent[0] });
  }
  const problem = fromResult(readVias(headers)) ?? fromResult(readFrom(headers)) ?? fromResult(readTo(headers)) ?? fromResult(readCallId(headers));
  if (problem) return refuse(problem);
  const cseq = readCSeq(headers);
  if (!cseq.ok) return refuse(fromResult(cseq) as Problem);
  if (head.lengths.length > 1) {
    return refuse({ status: 400, reason: `Bad Content-Length header: it appears ${head.lengths.length} times but may appear once (RFC 3261 §20.14)`, header: 'Content-Length' });
  }
  if (start.kind === 'response') {
    return { message: { kind: 'response', version: SIP_VERSION, status: start.status, reason: start.reason, headers, body } };
  }
  const mf = fromResult(readMaxForwards(headers));
  if (mf) return refuse(mf);
  if (cseq.value.method !== start.method) {
    return refuse({ status: 400, reason: 'Bad CSeq header: its method differs from the Request-Line method (RFC 3261 §8.1.1.5)', header: 'CSeq' });
  }
  return { message: { kind: 'request', method: start.method, uri: start.uri, parsedUri: parsedUri as Uri, version: SIP_VERSION, headers, body } };
}

export interface Framing {
  /** The body length the fields declare; undefined when there is no Content-Length. */
  length?: number;
  /** What is wrong with Content-Length. */
  problem?: Problem;
  /** The end of the message is known despite the problem (the value is repeated but agrees). */
  sync: boolean;
}

/** RFC 3261 §7.4.2, §18.3 and §20.14: how long the body is, from the Content-Length lines. */
export function framing(head: RawHead): Framing {
  const ls = head.lengths;
  if (ls.length === 0) return { sync: true };
  const bad = (reason: string, sync: boolean, length?: number): Framing => ({ length, problem: { status: 400, reason: `Bad Content-Length header: ${reason}`, header: 'Content-Length' }, sync });
  if (ls.some((l) => l === null || !/^[0-9]{1,15}$/.test(l))) return bad('it must be a non-negative integer (RFC 3261 §20.14)', false);
  const values = new Set(ls.map(Number));
  const length = Number(ls[0]);
  if (values.size > 1) return bad(`it appears ${ls.length} times with different values (RFC 3261 §20.14)`, false);
  if (ls.length > 1) return bad(`it appears ${ls.length} times but may appear once (RFC 3261 §20.14)`, true, length);
  return { length, sync: true };
}
