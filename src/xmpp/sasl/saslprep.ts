/**
 * SASLprep: RFC 4013 §2 (mapping §2.1, NFKC §2.2, prohibited output §2.3,
 * bidi §2.4, unassigned code points §2.5) over the stringprep tables of
 * RFC 3454 (B.1, C.1.2–C.9, D.1/D.2, §6 bidi rule). RFC 5802 §2.2 and
 * RFC 4616 §2 require it for SCRAM and PLAIN usernames and passwords.
 *
 * The tables are Unicode 3.2's. We copy the short ones as code-point ranges
 * and, for the two that are really whole categories (unassigned code points,
 * right-to-left letters), use the runtime's regex properties; with the
 * runtime's NFKC, that means later Unicode versions decide a few code points,
 * which matters only for strings nobody types as a password.
 */

export class SaslprepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslprepError';
  }
}

type Ranges = ReadonlyArray<readonly [number, number]>;

function inRanges(cp: number, ranges: Ranges): boolean {
  return ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
}

// Code-point ranges rather than regex classes: several of these are combining
// or joining characters, which make character classes misleading to read.

/** RFC 3454 B.1, "commonly mapped to nothing". */
const MAP_TO_NOTHING: Ranges = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060],
  [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];
/** RFC 3454 C.1.2, non-ASCII spaces; RFC 4013 §2.1 maps them to SPACE. */
const NON_ASCII_SPACE: Ranges = [[0x00a0, 0x00a0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]];

/** RFC 4013 §2.3: the prohibited-output tables, each named so failures say which rule fired. */
const PROHIBITED: ReadonlyArray<readonly [Ranges, string, string]> = [
  [NON_ASCII_SPACE, 'non-ASCII space', 'C.1.2'],
  [[[0x0000, 0x001f], [0x007f, 0x007f]], 'ASCII control character', 'C.2.1'],
  [[
    [0x0080, 0x009f], [0x06dd, 0x06dd], [0x070f, 0x070f], [0x180e, 0x180e], [0x200c, 0x200d], [0x2028, 0x2029],
    [0x2060, 0x2063], [0x206a, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffc], [0x1d173, 0x1d17a],
  ], 'non-ASCII control character', 'C.2.2'],
  [[[0xe000, 0xf8ff], [0xf0000, 0xffffd], [0x100000, 0x10fffd]], 'private use code point', 'C.3'],
  [[[0xfdd0, 0xfdef], ...Array.from({ length: 17 }, (_, plane) => [plane * 0x10000 + 0xfffe, plane * 0x10000 + 0xffff] as const)],
    'non-character code point', 'C.4'],
  [[[0xd800, 0xdfff]], 'surrogate code point', 'C.5'],
  [[[0xfff9, 0xfffd]], 'character inappropriate for plain text', 'C.6'],
  [[[0x2ff0, 0x2ffb]], 'character inappropriate for canonical representation', 'C.7'],
  [[[0x0340, 0x0341], [0x200e, 0x200f], [0x202a, 0x202e], [0x206a, 0x206f]], 'display-changing or deprecated character', 'C.8'],
  [[[0xe0001, 0xe0001], [0xe0020, 0xe007f]], 'tagging character', 'C.9'],
];

function mapChars(s: string): string {
  let out = '';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (inRanges(cp, MAP_TO_NOTHING)) continue;
    out += inRanges(cp, NON_ASCII_SPACE) ? ' ' : c;
  }
  return out;
}

/** RFC 3454 D.1 approximated: letters of the right-to-left scripts, plus RLM and the Hebrew punctuation D.1 lists. */
const RE_RTL_SCRIPT = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]/u;
const RE_RTL_EXTRA = /[\u05BE\u05C0\u05C3\u05F3\u05F4\u061B\u061F\u066D\u06D4\u200F]/u;
/** RFC 3454 D.2 approximated: letters and spacing marks of every other script. */
const RE_LETTERISH = /[\p{L}\p{Mc}]/u;

function isRandAL(c: string): boolean {
  return RE_RTL_EXTRA.test(c) || (RE_LETTERISH.test(c) && RE_RTL_SCRIPT.test(c));
}

function isL(c: string): boolean {
  return RE_LETTERISH.test(c) && !RE_RTL_SCRIPT.test(c);
}

export interface SaslprepOptions {
  /**
   * RFC 3454 §7: a "query" (what a client sends to authenticate) may hold
   * unassigned code points; a "stored string" (a password being set) may not,
   * since a later Unicode version could normalise it differently.
   */
  allowUnassigned?: boolean;
}

/** Prepares a username or password; throws SaslprepError naming the rule the string breaks. */
export function saslprep(input: string, opts: SaslprepOptions = {}): string {
  const out = mapChars(input).normalize('NFKC');
  for (const c of out) {
    const cp = c.codePointAt(0)!;
    for (const [ranges, what, table] of PROHIBITED) {
      // No code point in the message: the string may be a password, and messages get logged.
      if (inRanges(cp, ranges)) throw new SaslprepError(`a ${what} is prohibited (RFC 4013 §2.3, RFC 3454 ${table})`);
    }
    if (!opts.allowUnassigned && /\p{Cn}/u.test(c)) {
      throw new SaslprepError('unassigned code point in a stored string (RFC 4013 §2.5)');
    }
  }
  const chars = Array.from(out);
  if (chars.some(isRandAL)) {
    // RFC 3454 §6: a string with right-to-left characters must be wholly so, at both ends.
    if (chars.some(isL)) throw new SaslprepError('mixes right-to-left and left-to-right characters (RFC 3454 §6)');
    if (!isRandAL(chars[0]!) || !isRandAL(chars[chars.length - 1]!)) {
      throw new SaslprepError('a right-to-left string must start and end with a right-to-left character (RFC 3454 §6)');
    }
  }
  return out;
}
