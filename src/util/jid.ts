/**
 * XMPP addresses: RFC 7622 §3 (parsing §3.1, domainpart §3.2, localpart §3.3,
 * resourcepart §3.4), with the PRECIS profiles of RFC 8265 (UsernameCaseMapped
 * §3.3 for localparts, OpaqueString §4.2 for resourceparts) over the string
 * classes of RFC 8264 (§4.2 IdentifierClass, §4.3 FreeformClass, §8–§9 the
 * derived-property rules), the RFC 5892 §2.6 exceptions and contextual rules
 * (Appendix A), and the RFC 5893 Bidi Rule.
 *
 * JavaScript offers no Unicode derived properties beyond the regex property
 * escapes, so a few PRECIS rules are approximated; each approximation errs on
 * the side of rejecting, because a JID that is accepted today and refused by a
 * stricter peer tomorrow is worse than one refused at the door:
 * - the ZWJ/ZWNJ rules accept a joiner only after a listed virama (the
 *   Arabic joining-type branch of the ZWNJ rule is not implemented);
 * - the Bidi Rule classifies characters by script and general category rather
 *   than by Bidi_Class.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

export interface Jid {
  /** '' when the JID has no localpart. */
  readonly local: string;
  readonly domain: string;
  /** '' when the JID has no resourcepart. */
  readonly resource: string;
}

export type JidPart = 'local' | 'domain' | 'resource' | 'jid';

export class JidError extends Error {
  readonly part: JidPart;
  constructor(part: JidPart, message: string) {
    super(message);
    this.name = 'JidError';
    this.part = part;
  }
}

/** RFC 7622 §3.1: every part is at most 1023 octets of UTF-8 once prepared. */
const MAX_PART_BYTES = 1023;

function hex(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

function checkLength(part: 'local' | 'domain' | 'resource', name: string, s: string, section: string): void {
  if (s.length === 0) throw new JidError(part, `${name} must not be empty (RFC 7622 ${section})`);
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes > MAX_PART_BYTES) {
    throw new JidError(part, `${name} is ${bytes} octets, more than the ${MAX_PART_BYTES} allowed (RFC 7622 ${section})`);
  }
}

// ---------------------------------------------------------------------------
// PRECIS string classes (RFC 8264)

const RE_UNASSIGNED = /\p{Cn}/u;
const RE_SURROGATE = /\p{Cs}/u;
const RE_IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]/u;
const RE_CONTROL = /\p{Cc}/u;
const RE_LETTER_DIGITS = /[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]/u;
/** What FreeformClass admits beyond LetterDigits: OtherLetterDigits, Spaces, Symbols, Punctuation. */
const RE_FREEFORM_EXTRA = /[\p{Lt}\p{Nl}\p{No}\p{Me}\p{Zs}\p{S}\p{P}]/u;
/** RFC 5892 §2.9 OldHangulJamo: conjoining jamo left over after NFC. */
const RE_OLD_HANGUL_JAMO = /[\u1100-\u11FF\uA960-\uA97F\uD7B0-\uD7FF]/u;

/** RFC 5892 §2.6 exceptions that are PVALID although their category is not. */
const EXCEPTION_PVALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const EXCEPTION_DISALLOWED = new Set([0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b]);

/** Code points with Canonical_Combining_Class Virama (9), which the joiner rules need and regexes cannot name. */
const VIRAMAS = new Set([
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0dca, 0x0e3a, 0x0eba,
  0x0f84, 0x1039, 0x103a, 0x1714, 0x1715, 0x1734, 0x17d2, 0x1a60, 0x1b44, 0x1baa, 0x1bab, 0x1bf2, 0x1bf3, 0x2d7f,
  0xa806, 0xa82c, 0xa8c4, 0xa953, 0xa9c0, 0xaaf6, 0xabed,
]);

type StringClass = 'identifier' | 'freeform';

/**
 * RFC 5892 Appendix A contextual rules; `cps` is the whole string so rules
 * that look at neighbours (or at the whole string) can.
 */
function contextAllows(cps: number[], i: number): boolean {
  const cp = cps[i]!;
  const before = i > 0 ? cps[i - 1]! : -1;
  const after = i + 1 < cps.length ? cps[i + 1]! : -1;
  const ch = (c: number): string => (c < 0 ? '' : String.fromCodePoint(c));
  if (cp === 0x200c || cp === 0x200d) return VIRAMAS.has(before);
  if (cp === 0x00b7) return before === 0x006c && after === 0x006c;
  if (cp === 0x0375) return /\p{Script=Greek}/u.test(ch(after));
  if (cp === 0x05f3 || cp === 0x05f4) return /\p{Script=Hebrew}/u.test(ch(before));
  if (cp === 0x30fb) {
    return cps.some((c) => c !== 0x30fb && /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u.test(ch(c)));
  }
  if (cp >= 0x0660 && cp <= 0x0669) return !cps.some((c) => c >= 0x06f0 && c <= 0x06f9);
  if (cp >= 0x06f0 && cp <= 0x06f9) return !cps.some((c) => c >= 0x0660 && c <= 0x0669);
  return true;
}

function isContextual(cp: number): boolean {
  return cp === 0x200c || cp === 0x200d || cp === 0x00b7 || cp === 0x0375 || cp === 0x05f3 || cp === 0x05f4
    || cp === 0x30fb || (cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06f0 && cp <= 0x06f9);
}

/**
 * The RFC 8264 §8 derivation, first matching rule wins. Returns why the code
 * point is refused, or null when the string class admits it here.
 */
function refusal(cls: StringClass, cps: number[], i: number): string | null {
  const cp = cps[i]!;
  const c = String.fromCodePoint(cp);
  if (isContextual(cp)) return contextAllows(cps, i) ? null : 'fails its contextual rule (RFC 5892 Appendix A)';
  if (EXCEPTION_PVALID.has(cp)) return null;
  if (EXCEPTION_DISALLOWED.has(cp)) return 'is disallowed by the RFC 5892 §2.6 exceptions';
  if (RE_UNASSIGNED.test(c)) return 'is unassigned (RFC 8264 §9.4)';
  if (cp >= 0x21 && cp <= 0x7e) return null;
  if (RE_OLD_HANGUL_JAMO.test(c)) return 'is an old Hangul jamo (RFC 8264 §9.6)';
  if (RE_IGNORABLE.test(c)) return 'is a default-ignorable or noncharacter code point (RFC 8264 §9.13)';
  if (RE_CONTROL.test(c)) return 'is a control character (RFC 8264 §9.12)';
  if (RE_SURROGATE.test(c)) return 'is a lone surrogate';
  if (c.normalize('NFKC') !== c) {
    return cls === 'freeform' ? null : 'has a compatibility equivalent (RFC 8264 §9.17, disallowed in IdentifierClass)';
  }
  if (RE_LETTER_DIGITS.test(c)) return null;
  if (RE_FREEFORM_EXTRA.test(c)) {
    return cls === 'freeform' ? null : 'is a space, symbol or punctuation (disallowed in IdentifierClass, RFC 8264 §4.2)';
  }
  return 'is not allowed in any PRECIS string class (RFC 8264 §9)';
}

function enforceClass(cls: StringClass, part: 'local' | 'resource', name: string, s: string): void {
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  for (let i = 0; i < cps.length; i++) {
    const why = refusal(cls, cps, i);
    if (why !== null) throw new JidError(part, `${name} contains ${hex(cps[i]!)}, which ${why}`);
  }
}

// ---------------------------------------------------------------------------
// The Bidi Rule (RFC 5893 §2), which RFC 8265 §3.3.3 applies to usernames
// holding right-to-left characters.

const RE_RTL_SCRIPT = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}]/u;
const RE_LETTERISH = /[\p{L}\p{Mc}]/u;
const RE_NSM = /[\p{Mn}\p{Me}]/u;
const RE_AN = /[\u0600-\u0605\u0660-\u0669\u066B\u066C\u06DD]/u;
const RE_EN = /[0-9\u00B2\u00B3\u00B9\u06F0-\u06F9\u2070-\u2079\u2080-\u2089\uFF10-\uFF19]/u;

type BidiClass = 'RTL' | 'L' | 'AN' | 'EN' | 'NSM' | 'other';

function bidiClass(c: string): BidiClass {
  if (RE_AN.test(c)) return 'AN';
  if (RE_EN.test(c)) return 'EN';
  if (RE_NSM.test(c)) return 'NSM';
  if (RE_LETTERISH.test(c)) return RE_RTL_SCRIPT.test(c) ? 'RTL' : 'L';
  return 'other';
}

function enforceBidi(s: string): void {
  const classes = Array.from(s, bidiClass);
  if (!classes.some((k) => k === 'RTL' || k === 'AN')) return;
  const fail = (rule: string): never => {
    throw new JidError('local', `localpart mixes directions: ${rule} (RFC 5893 §2, required by RFC 8265 §3.3.3)`);
  };
  if (classes[0] !== 'RTL') fail('a right-to-left string must start with a right-to-left letter');
  if (classes.includes('L')) fail('a right-to-left string must not contain left-to-right letters');
  const last = [...classes].reverse().find((k) => k !== 'NSM');
  if (last !== 'RTL' && last !== 'EN' && last !== 'AN') fail('a right-to-left string must end with a right-to-left letter or a digit');
  if (classes.includes('EN') && classes.includes('AN')) fail('European and Arabic-Indic digits must not be mixed');
}

// ---------------------------------------------------------------------------
// The three parts

/** RFC 8265 §3.3.2 width mapping: fullwidth and halfwidth forms to their ordinary equivalents. */
function widthMap(s: string): string {
  return s.replace(/[\u3000\uFF01-\uFFEE]/gu, (c) => c.normalize('NFKC'));
}

/** RFC 7622 §3.3.1 keeps these out of localparts although IdentifierClass allows them. */
const LOCALPART_EXCLUDED = new Set(['"', '&', "'", '/', ':', '<', '>', '@']);

export function prepLocalpart(s: string): string {
  // RFC 8265 §3.3.2: width mapping, case mapping (toLowerCase is what RFC 8265
  // prescribes, so final sigma stays distinct), then NFC.
  const out = widthMap(s).toLowerCase().normalize('NFC');
  checkLength('local', 'localpart', out, '§3.3');
  for (const c of out) {
    if (LOCALPART_EXCLUDED.has(c)) {
      throw new JidError('local', `localpart must not contain ${JSON.stringify(c)} (RFC 7622 §3.3.1)`);
    }
  }
  enforceClass('identifier', 'local', 'localpart', out);
  enforceBidi(out);
  return out;
}

export function prepResourcepart(s: string): string {
  // RFC 8265 §4.2.1: only non-ASCII spaces are mapped; case is kept.
  const out = s.replace(/(?! )\p{Zs}/gu, ' ').normalize('NFC');
  checkLength('resource', 'resourcepart', out, '§3.4');
  enforceClass('freeform', 'resource', 'resourcepart', out);
  return out;
}

/** RFC 7622 §3.2: the ideographic full stops are label separators too. */
const RE_DOT_LIKE = /[\u3002\uFF0E\uFF61]/gu;
const RE_LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export function prepDomain(s: string): string {
  let d = s.replace(RE_DOT_LIKE, '.').toLowerCase().normalize('NFC');
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0) throw new JidError('domain', 'domainpart must not be empty (RFC 7622 §3.2)');
  if (d.startsWith('[')) {
    if (!d.endsWith(']') || !isIPv6(d.slice(1, -1))) {
      throw new JidError('domain', 'domainpart starting with "[" must be an IPv6 literal (RFC 7622 §3.2)');
    }
    return d;
  }
  if (isIPv4(d)) return d;
  const labels = d.split('.');
  // The WHATWG host parser would reinterpret "1.2.3" or "0x7f.1" as IPv4; DNS
  // names never end in a numeric label, so refuse rather than rewrite.
  if (/^(?:0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1]!)) {
    throw new JidError('domain', 'domainpart ending in a numeric label must be a dotted-quad IPv4 address (RFC 7622 §3.2)');
  }
  const ascii = domainToASCII(d);
  if (ascii === '') throw new JidError('domain', 'domainpart is not a valid internationalized domain name (RFC 7622 §3.2, IDNA2008)');
  for (const label of ascii.split('.')) {
    if (label.length === 0) throw new JidError('domain', 'domainpart must not contain an empty label (RFC 7622 §3.2)');
    if (label.length > 63) throw new JidError('domain', `domainpart label "${label}" is longer than 63 octets (RFC 1035 §2.3.4)`);
    if (!RE_LDH_LABEL.test(label)) {
      throw new JidError('domain', `domainpart label "${label}" must be letters, digits and inner hyphens (RFC 5890 §2.3.1)`);
    }
  }
  // RFC 7622 §3.2.1: the canonical form carries U-labels, never A-labels.
  const unicode = domainToUnicode(ascii);
  checkLength('domain', 'domainpart', unicode, '§3.2');
  return unicode;
}

// ---------------------------------------------------------------------------
// Whole JIDs

function make(local: string, domain: string, resource: string): Jid {
  return Object.freeze({ local, domain, resource });
}

/**
 * Prepared JIDs by their raw text. Preparation (PRECIS classes, bidi, IDNA)
 * is the costliest step of routing a stanza and clients repeat the same few
 * addresses, so results are kept; Jid objects are immutable, hence shareable.
 * Bounded: emptied when full (a hostile client can only cost us the cache).
 */
const parsed = new Map<string, Jid>();
const PARSED_MAX = 10_000;

export function parseJid(s: string): Jid {
  const hit = parsed.get(s);
  if (hit) return hit;
  const j = Object.freeze(parseJidUncached(s));
  if (s.length <= 256) {
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(s, j);
  }
  return j;
}

function parseJidUncached(s: string): Jid {
  if (s.length === 0) throw new JidError('jid', 'a JID must not be empty (RFC 7622 §3.1)');
  // RFC 7622 §3.1: the resourcepart runs from the first "/" to the end, so it
  // may itself contain "@" and "/"; the localpart ends at the first "@" before it.
  const slash = s.indexOf('/');
  const head = slash < 0 ? s : s.slice(0, slash);
  const at = head.indexOf('@');
  const localRaw = at < 0 ? null : head.slice(0, at);
  const domainRaw = at < 0 ? head : head.slice(at + 1);
  const resourceRaw = slash < 0 ? null : s.slice(slash + 1);
  if (localRaw === '') throw new JidError('local', 'localpart must not be empty when "@" is present (RFC 7622 §3.3)');
  if (domainRaw === '') throw new JidError('domain', 'domainpart must not be empty (RFC 7622 §3.2)');
  if (resourceRaw === '') throw new JidError('resource', 'resourcepart must not be empty when "/" is present (RFC 7622 §3.4)');
  return make(
    localRaw === null ? '' : prepLocalpart(localRaw),
    prepDomain(domainRaw),
    resourceRaw === null ? '' : prepResourcepart(resourceRaw),
  );
}

export function tryParseJid(s: string): Jid | null {
  try {
    return parseJid(s);
  } catch (err) {
    if (err instanceof JidError) return null;
    throw err;
  }
}

/** Builds a JID from separate parts, preparing each; '' (or no resource) means the part is absent. */
export function jid(local: string, domain: string, resource?: string): Jid {
  return make(
    local === '' ? '' : prepLocalpart(local),
    prepDomain(domain),
    resource === undefined || resource === '' ? '' : prepResourcepart(resource),
  );
}

/** local@domain, or domain when there is no localpart. */
export function bareJid(j: Jid): string {
  return j.local === '' ? j.domain : `${j.local}@${j.domain}`;
}

/** local@domain/resource; a JID without a resource renders as its bare form. */
export function fullJid(j: Jid): string {
  return j.resource === '' ? bareJid(j) : `${bareJid(j)}/${j.resource}`;
}

export function jidToString(j: Jid): string {
  return fullJid(j);
}
