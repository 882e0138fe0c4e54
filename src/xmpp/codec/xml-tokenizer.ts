/**
 * Byte-level XML 1.0 tokenizer for XMPP streams.
 *
 * Implements the XML profile of RFC 6120 §11: §11.1 (no comments, processing
 * instructions, DTDs, or entity references beyond the five predefined ones),
 * §11.3 (well-formedness per XML 1.0 §2, including §2.2 Char, §2.4 ']]>',
 * §2.11 end-of-line handling, §3.3.3 attribute-value normalisation, §4.1
 * character references) and §11.6 (UTF-8 only, XML 1.0 §4.3.3 BOM).
 * Namespaces and the stream structure (RFC 6120 §4) belong to stream-parser.ts.
 *
 * Bytes are checked as UTF-8 and as XML Chars while they are scanned, and a
 * token split across chunks is carried over as raw bytes and decoded once it
 * is complete, so where the chunks are split never changes the outcome.
 */

export type TokenizerErrorCondition = 'not-well-formed' | 'restricted-xml' | 'unsupported-encoding' | 'policy-violation';

/** `C`: further conditions the sink reports through `fail()`. */
export interface TokenizerFailure<C extends string = never> {
  condition: TokenizerErrorCondition | C;
  text: string;
}

/** Receives tokens; may change the tokenizer's `content`, `limit` and `declAllowed`, or call `fail()`. */
export interface TokenSink {
  /** A '<' at absolute byte offset `at`, before its kind is known: where a byte budget starts. */
  markup(at: number): void;
  startTag(name: string, attrs: string[], selfClosing: boolean): void;
  endTag(name: string): void;
  text(value: string): void;
}

// Scanner states.
const WS = 0; // outside any stanza: only whitespace is allowed
const TEXT = 1;
const LT = 2;
const START_NAME = 3;
const IN_TAG = 4;
const ATTR_NAME = 5;
const ATTR_EQ = 6;
const ATTR_QUOTE = 7;
const ATTR_VALUE = 8;
const AFTER_VALUE = 9;
const EMPTY_GT = 10;
const END_FIRST = 11;
const END_NAME = 12;
const END_WS = 13;
const ENTITY = 14;
const BANG = 15;
const BANG_DASH = 16;
const CDATA_OPEN = 17;
const CDATA = 18;
const PI = 19;

const NAME_START = new Uint8Array(256);
const NAME_CHAR = new Uint8Array(256);
const BAD_CTRL = new Uint8Array(128);
/** Bytes that need no attention in character data (so can be skipped in a tight loop). */
const TEXT_PLAIN = new Uint8Array(256);
const ATTR_PLAIN = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const alpha = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
  NAME_START[b] = alpha || b === 0x3a || b === 0x5f || b >= 0x80 ? 1 : 0;
  NAME_CHAR[b] = NAME_START[b] || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e ? 1 : 0;
  if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) BAD_CTRL[b] = 1;
  const ordinary = b >= 0x20 && b < 0x80 && b !== 0x26 && b !== 0x3c;
  TEXT_PLAIN[b] = (ordinary && b !== 0x5d && b !== 0x3e) || b === 0x09 || b === 0x0a ? 1 : 0;
  ATTR_PLAIN[b] = ordinary && b !== 0x22 && b !== 0x27 ? 1 : 0;
}
const BOM = [0xef, 0xbb, 0xbf];
const CDATA_KEYWORD = [0x43, 0x44, 0x41, 0x54, 0x41, 0x5b]; // "CDATA["

// XML 1.0 (5th ed.) §2.3 NameStartChar / NameChar, only consulted for names with non-ASCII bytes.
const START_RANGES = ':A-Z_a-z\\u{C0}-\\u{D6}\\u{D8}-\\u{F6}\\u{F8}-\\u{2FF}\\u{370}-\\u{37D}\\u{37F}-\\u{1FFF}\\u{200C}-\\u{200D}\\u{2070}-\\u{218F}\\u{2C00}-\\u{2FEF}\\u{3001}-\\u{D7FF}\\u{F900}-\\u{FDCF}\\u{FDF0}-\\u{FFFD}\\u{10000}-\\u{EFFFF}';
// eslint-disable-next-line no-misleading-character-class -- XML NameChar deliberately includes combining marks
const NAME_RE = new RegExp(`^[${START_RANGES}][${START_RANGES}\\-.0-9\\u{B7}\\u{300}-\\u{36F}\\u{203F}-\\u{2040}]*$`, 'u');

const XML_DECL_RE = /^xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['"])1\.[0-9]+\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['"])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['"])(?:yes|no)\4)?[ \t\r\n]*$/;

// The five predefined entities (XML 1.0 §4.6), names packed into an integer.
const packName = (s: string): number => [...s].reduce((n, c) => n * 256 + c.charCodeAt(0), 0);
const PREDEFINED = new Map<number, number>([
  [packName('lt'), 0x3c], [packName('gt'), 0x3e], [packName('amp'), 0x26], [packName('quot'), 0x22], [packName('apos'), 0x27],
]);
// Entity-reference sub-states.
const ENT_START = 0;
const ENT_NAME = 1;
const ENT_HASH = 2;
const ENT_DEC = 3;
const ENT_X = 4;
const ENT_HEX = 5;

/**
 * Element and attribute names come from a small vocabulary (message, body, to,
 * xmlns, ...); sharing one string per name across all connections saves an
 * allocation and a native decode per name. Bounded, so hostile names only evict.
 */
const INTERN_SLOTS = 1024;
const INTERN_MAX_LEN = 32;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

const SCRATCH_IDLE = 256;
const SCRATCH_KEEP = 16384;

const isWs = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
const hexValue = (b: number): number =>
  b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;
const isXmlChar = (c: number): boolean =>
  c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);

export class XmlTokenizer<C extends string = never> {
  /** Inside a stanza character data is collected; outside, only whitespace is allowed. */
  content = false;
  /** Only before the stream header may an XML declaration appear (once). */
  declAllowed = true;
  /** Absolute byte offset that must not be reached; reaching it fails with `limitText`. */
  limit = Infinity;
  limitText = '';
  failure: TokenizerFailure<C> | null = null;

  private state = WS;
  /** Absolute offset of the current chunk's first byte. */
  private base = 0;
  /** Start, in the current chunk, of the current token's bytes not yet copied to `scratch`; -1: none. */
  private mark = -1;
  /** Raw bytes of a token that spans chunks or needed rewriting (entities, line ends). */
  private scratch = Buffer.allocUnsafe(SCRATCH_IDLE);
  private used = 0;
  private tagName = '';
  private attrs: string[] = [];
  private quote = 0;
  private nonAscii = false;
  private brackets = 0;
  private cdataIdx = 0;
  private qmark = false;
  private crCarry = false;
  private entReturn = TEXT;
  private entState = ENT_START;
  private entLen = 0;
  private entValue = 0;
  // UTF-8 decoder: continuation bytes still needed, bounds for the next one, progress towards U+FFFE/U+FFFF.
  private u8need = 0;
  private u8lo = 0x80;
  private u8hi = 0xbf;
  private u8ef = 0;

  constructor(private readonly sink: TokenSink) {}

  fail(condition: TokenizerErrorCondition | C, text: string): void {
    if (!this.failure) this.failure = { condition, text };
  }

  feed(chunk: Buffer): void {
    if (this.failure) return;
    const n = chunk.length;
    let state = this.state;
    let mark = this.mark >= 0 ? 0 : -1;
    let need = this.u8need;
    let lo = this.u8lo;
    let hi = this.u8hi;
    let ef = this.u8ef;
    let stop = this.stopIn(n);
    let i = 0;
    if (this.crCarry) {
      // The CR that ended the previous chunk already stood for this LF (XML 1.0 §2.11).
      this.crCarry = false;
      if (stop > 0 && chunk[0] === 0x0a && (state === TEXT || state === ATTR_VALUE || state === CDATA)) i = mark = 1;
    }
    for (; i < stop; i++) {
      const b = chunk[i];
      if (b >= 0x80) {
        if (need === 0) {
          if (b >= 0xc2 && b <= 0xdf) need = 1;
          else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b === 0xe0) lo = 0xa0;
            else if (b === 0xed) hi = 0x9f; // UTF-16 surrogates are not characters
            else if (b === 0xef) ef = 1;
          } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b === 0xf0) lo = 0x90;
            else if (b === 0xf4) hi = 0x8f;
          } else return this.badByte(i);
        } else {
          if (b < lo || b > hi) return this.badByte(i);
          if (ef === 1) ef = b === 0xbf ? 2 : 0;
          else if (ef === 2) {
            if (b >= 0xbe) return this.fail('not-well-formed', 'U+FFFE and U+FFFF are not XML characters (XML 1.0 §2.2)');
            ef = 0;
          }
          lo = 0x80;
          hi = 0xbf;
          need--;
        }
      } else if (need !== 0 || BAD_CTRL[b]) return this.badByte(i);

      switch (state) {
        case WS:
          if (b === 0x3c) {
            this.sink.markup(this.base + i);
            if (this.failure) return;
            stop = this.stopIn(n);
            state = LT;
          } else if (!isWs(b) && !(this.base + i < 3 && b === BOM[this.base + i])) {
            return this.fail('not-well-formed', 'character data is not allowed between stanzas, only whitespace (RFC 6120 §11.3)');
          }
          break;

        case TEXT:
          if (TEXT_PLAIN[b]) {
            this.brackets = 0;
            while (i + 1 < stop && TEXT_PLAIN[chunk[i + 1]]) i++;
          } else if (b === 0x3c) {
            if (i > mark || this.used > 0) this.sink.text(this.take(chunk, mark, i));
            mark = -1;
            this.sink.markup(this.base + i);
            if (this.failure) return;
            stop = this.stopIn(n);
            state = LT;
          } else if (b === 0x26) {
            this.append(chunk, mark, i);
            mark = -1;
            this.startEntity(TEXT);
            state = ENTITY;
          } else if (b === 0x5d) this.brackets++;
          else if (b === 0x3e) {
            if (this.brackets >= 2) return this.fail('not-well-formed', "']]>' is not allowed in character data (XML 1.0 §2.4)");
            this.brackets = 0;
          } else if (b === 0x0d) {
            this.brackets = 0;
            mark = this.newline(chunk, mark, i, stop, 0x0a);
            if (mark > i + 1) i++;
          } else this.brackets = 0;
          break;

        case LT:
          if (NAME_START[b]) {
            state = START_NAME;
            mark = i;
            this.nonAscii = b >= 0x80;
            this.attrs = [];
          } else if (b === 0x2f) state = END_FIRST;
          else if (b === 0x21) state = BANG;
          else if (b === 0x3f) {
            if (!this.declAllowed) return this.fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
            state = PI;
            mark = i + 1;
            this.qmark = false;
          } else return this.fail('not-well-formed', "'<' must start a tag (XML 1.0 §2.4)");
          break;

        case START_NAME:
          if (NAME_CHAR[b]) {
            if (b >= 0x80) this.nonAscii = true;
            break;
          }
          this.tagName = this.takeName(chunk, mark, i);
          mark = -1;
          if (this.failure) return;
          if (isWs(b)) state = IN_TAG;
          else if (b === 0x2f) state = EMPTY_GT;
          else if (b === 0x3e) {
            state = this.emitStart(false);
            if (this.failure) return;
            mark = state === TEXT ? i + 1 : -1;
            stop = this.stopIn(n);
          } else return this.failAfterName(b, this.tagName);
          break;

        case ATTR_NAME:
          if (NAME_CHAR[b]) {
            if (b >= 0x80) this.nonAscii = true;
            break;
          }
          this.attrs.push(this.takeName(chunk, mark, i));
          mark = -1;
          if (this.failure) return;
          if (b === 0x3d) state = ATTR_QUOTE;
          else if (isWs(b)) state = ATTR_EQ;
          else return this.fail('not-well-formed', `attribute '${this.lastAttr()}' has no value (XML 1.0 §3.1)`);
          break;

        case END_NAME:
          if (NAME_CHAR[b]) {
            if (b >= 0x80) this.nonAscii = true;
            break;
          }
          this.tagName = this.takeName(chunk, mark, i);
          mark = -1;
          if (this.failure) return;
          if (isWs(b)) state = END_WS;
          else if (b === 0x3e) {
            state = this.emitEnd();
            if (this.failure) return;
            mark = state === TEXT ? i + 1 : -1;
            stop = this.stopIn(n);
          } else return this.failAfterName(b, this.tagName);
          break;

        case IN_TAG:
        case AFTER_VALUE:
          if (isWs(b)) state = IN_TAG;
          else if (b === 0x3e || b === 0x2f) {
            if (b === 0x2f) state = EMPTY_GT;
            else {
              state = this.emitStart(false);
              if (this.failure) return;
              mark = state === TEXT ? i + 1 : -1;
              stop = this.stopIn(n);
            }
          } else if (state === IN_TAG && NAME_START[b]) {
            state = ATTR_NAME;
            mark = i;
            this.nonAscii = b >= 0x80;
          } else {
            return this.fail('not-well-formed', state === AFTER_VALUE
              ? 'attributes must be separated by whitespace (XML 1.0 §3.1)'
              : `unexpected '${String.fromCharCode(b)}' in the start tag <${this.tagName}> (XML 1.0 §3.1)`);
          }
          break;

        case ATTR_EQ:
          if (b === 0x3d) state = ATTR_QUOTE;
          else if (!isWs(b)) return this.fail('not-well-formed', `attribute '${this.lastAttr()}' has no value (XML 1.0 §3.1)`);
          break;

        case ATTR_QUOTE:
          if (b === 0x22 || b === 0x27) {
            this.quote = b;
            state = ATTR_VALUE;
            mark = i + 1;
          } else if (!isWs(b)) return this.fail('not-well-formed', `the value of attribute '${this.lastAttr()}' must be quoted (XML 1.0 §3.1)`);
          break;

        case ATTR_VALUE:
          if (ATTR_PLAIN[b]) {
            while (i + 1 < stop && ATTR_PLAIN[chunk[i + 1]]) i++;
          } else if (b === this.quote) {
            this.attrs.push(this.take(chunk, mark, i));
            mark = -1;
            state = AFTER_VALUE;
          } else if (b === 0x26) {
            this.append(chunk, mark, i);
            mark = -1;
            this.startEntity(ATTR_VALUE);
            state = ENTITY;
          } else if (b === 0x3c) return this.fail('not-well-formed', "'<' is not allowed in attribute values (XML 1.0 §3.1)");
          else if (b === 0x0d) {
            mark = this.newline(chunk, mark, i, stop, 0x20);
            if (mark > i + 1) i++;
          } else if (b === 0x09 || b === 0x0a) {
            // Attribute-value normalisation (XML 1.0 §3.3.3): literal whitespace becomes a space.
            this.append(chunk, mark, i);
            this.push(0x20);
            mark = i + 1;
          }
          break;

        case EMPTY_GT:
          if (b !== 0x3e) return this.fail('not-well-formed', `expected '>' after '/' in <${this.tagName}> (XML 1.0 §3.1)`);
          state = this.emitStart(true);
          if (this.failure) return;
          mark = state === TEXT ? i + 1 : -1;
          stop = this.stopIn(n);
          break;

        case END_FIRST:
          if (!NAME_START[b]) return this.fail('not-well-formed', "'</' must be followed by a name (XML 1.0 §3.1)");
          state = END_NAME;
          mark = i;
          this.nonAscii = b >= 0x80;
          break;

        case END_WS:
          if (b === 0x3e) {
            state = this.emitEnd();
            if (this.failure) return;
            mark = state === TEXT ? i + 1 : -1;
            stop = this.stopIn(n);
          } else if (!isWs(b)) return this.fail('not-well-formed', `unexpected '${String.fromCharCode(b)}' in the end tag </${this.tagName}> (XML 1.0 §3.1)`);
          break;

        case ENTITY:
          if (b === 0x3b) {
            if (!this.endEntity()) return;
            state = this.entReturn;
            mark = i + 1;
          } else if (!this.entityByte(b)) return;
          break;

        case BANG:
          if (b === 0x5b) {
            if (!this.content) return this.fail('not-well-formed', 'character data is not allowed between stanzas (RFC 6120 §11.3)');
            state = CDATA_OPEN;
            this.cdataIdx = 0;
          } else if (b === 0x2d) state = BANG_DASH;
          else if (b >= 0x41 && b <= 0x5a) return this.fail('restricted-xml', 'document type and markup declarations are not allowed (RFC 6120 §11.1)');
          else return this.fail('not-well-formed', "'<!' must start a comment, CDATA section or declaration (XML 1.0 §2)");
          break;

        case BANG_DASH:
          if (b !== 0x2d) return this.fail('not-well-formed', "'<!-' must start a comment (XML 1.0 §2.5)");
          return this.fail('restricted-xml', 'comments are not allowed (RFC 6120 §11.1)');

        case CDATA_OPEN:
          if (b !== CDATA_KEYWORD[this.cdataIdx++]) return this.fail('not-well-formed', "malformed '<![CDATA[' (XML 1.0 §2.7)");
          if (this.cdataIdx === CDATA_KEYWORD.length) {
            state = CDATA;
            mark = i + 1;
            this.brackets = 0;
          }
          break;

        case CDATA:
          if (b === 0x5d) this.brackets++;
          else if (b === 0x3e && this.brackets >= 2) {
            // The section's text is all bytes up to and including ']]'; drop the two ']'.
            const value = this.take(chunk, mark, i).slice(0, -2);
            if (value !== '') this.sink.text(value);
            state = TEXT;
            mark = i + 1;
            this.brackets = 0;
          } else if (b === 0x0d) {
            this.brackets = 0;
            mark = this.newline(chunk, mark, i, stop, 0x0a);
            if (mark > i + 1) i++;
          } else this.brackets = 0;
          break;

        case PI:
          if (b === 0x3e && this.qmark) {
            this.xmlDeclaration(this.take(chunk, mark, i).slice(0, -1));
            if (this.failure) return;
            state = WS;
            mark = -1;
          } else this.qmark = b === 0x3f;
          break;
      }
    }
    if (stop < n) return this.fail('policy-violation', this.limitText);
    if (mark >= 0) this.append(chunk, mark, n);
    this.state = state;
    this.mark = mark;
    this.u8need = need;
    this.u8lo = lo;
    this.u8hi = hi;
    this.u8ef = ef;
    this.base += n;
  }

  private stopIn(n: number): number {
    const s = this.limit - this.base;
    return s < n ? (s < 0 ? 0 : s) : n;
  }

  private badByte(i: number): void {
    // A UTF-16/UCS-4 document shows itself in its first two bytes (BOM or a NUL next to '<').
    if (this.base + i < 2 && this.declAllowed) return this.fail('unsupported-encoding', 'only UTF-8 is supported (RFC 6120 §11.6)');
    this.fail('not-well-formed', `invalid UTF-8 or a character not allowed in XML at byte ${this.base + i} (RFC 6120 §11.6, XML 1.0 §2.2)`);
  }

  private emitStart(selfClosing: boolean): number {
    this.sink.startTag(this.tagName, this.attrs, selfClosing);
    return this.content ? TEXT : WS;
  }

  private emitEnd(): number {
    this.sink.endTag(this.tagName);
    return this.content ? TEXT : WS;
  }

  private failAfterName(b: number, name: string): void {
    this.fail('not-well-formed', `unexpected '${String.fromCharCode(b)}' after the name '${name}' (XML 1.0 §3.1)`);
  }

  private lastAttr(): string {
    return this.attrs[this.attrs.length - 1] ?? '';
  }

  /** A CR: copy what precedes it, append `replacement`, and swallow a following LF (XML 1.0 §2.11). Returns the new mark. */
  private newline(chunk: Buffer, mark: number, i: number, stop: number, replacement: number): number {
    this.append(chunk, mark, i);
    this.push(replacement);
    if (i + 1 < stop) return chunk[i + 1] === 0x0a ? i + 2 : i + 1;
    this.crCarry = true;
    return i + 1;
  }

  private startEntity(returnTo: number): void {
    this.entReturn = returnTo;
    this.entState = ENT_START;
    this.entLen = 0;
    this.entValue = 0;
  }

  private entityByte(b: number): boolean {
    switch (this.entState) {
      case ENT_START:
        if (b === 0x23) this.entState = ENT_HASH;
        else if (NAME_START[b]) {
          this.entState = ENT_NAME;
          this.entLen = 1;
          this.entValue = b;
        } else break;
        return true;
      case ENT_NAME:
        if (!NAME_CHAR[b]) break;
        if (++this.entLen <= 4) this.entValue = this.entValue * 256 + b;
        return true;
      case ENT_HASH:
        if (b === 0x78) {
          this.entState = ENT_X;
          return true;
        }
        if (b < 0x30 || b > 0x39) break;
        this.entState = ENT_DEC;
        this.entValue = b - 0x30;
        return true;
      case ENT_DEC:
        if (b < 0x30 || b > 0x39) break;
        this.entValue = Math.min(this.entValue * 10 + b - 0x30, 0x110000);
        return true;
      case ENT_X:
      case ENT_HEX: {
        const h = hexValue(b);
        if (h < 0) break;
        this.entState = ENT_HEX;
        this.entValue = Math.min(this.entValue * 16 + h, 0x110000);
        return true;
      }
    }
    this.fail('not-well-formed', "'&' must start an entity or character reference ending in ';' (XML 1.0 §4.1)");
    return false;
  }

  private endEntity(): boolean {
    const v = this.entValue;
    if (this.entState === ENT_NAME) {
      const c = this.entLen <= 4 ? PREDEFINED.get(v) : undefined;
      if (c === undefined) {
        this.fail('restricted-xml', 'only the five predefined entities may be referenced (RFC 6120 §11.1)');
        return false;
      }
      this.push(c);
      return true;
    }
    if (this.entState !== ENT_DEC && this.entState !== ENT_HEX) {
      this.fail('not-well-formed', "'&' must start an entity or character reference ending in ';' (XML 1.0 §4.1)");
      return false;
    }
    if (!isXmlChar(v)) {
      this.fail('not-well-formed', 'character reference to a character not allowed in XML (XML 1.0 §4.1, §2.2)');
      return false;
    }
    this.reserve(4);
    const sc = this.scratch;
    if (v < 0x80) sc[this.used++] = v;
    else if (v < 0x800) {
      sc[this.used++] = 0xc0 | (v >> 6);
      sc[this.used++] = 0x80 | (v & 0x3f);
    } else if (v < 0x10000) {
      sc[this.used++] = 0xe0 | (v >> 12);
      sc[this.used++] = 0x80 | ((v >> 6) & 0x3f);
      sc[this.used++] = 0x80 | (v & 0x3f);
    } else {
      sc[this.used++] = 0xf0 | (v >> 18);
      sc[this.used++] = 0x80 | ((v >> 12) & 0x3f);
      sc[this.used++] = 0x80 | ((v >> 6) & 0x3f);
      sc[this.used++] = 0x80 | (v & 0x3f);
    }
    return true;
  }

  private xmlDeclaration(body: string): void {
    if (!/^xml(?:[ \t\r\n]|$)/.test(body)) return this.fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
    const m = XML_DECL_RE.exec(body);
    if (!m) return this.fail('not-well-formed', 'malformed XML declaration (XML 1.0 §2.8)');
    if (m[3] !== undefined && m[3].toUpperCase() !== 'UTF-8') {
      return this.fail('unsupported-encoding', `encoding '${m[3]}' is not supported, only UTF-8 (RFC 6120 §11.6)`);
    }
    this.declAllowed = false;
  }

  private takeName(chunk: Buffer, from: number, to: number): string {
    const len = to - from;
    if (this.used === 0 && !this.nonAscii && len <= INTERN_MAX_LEN) {
      let h = len;
      for (let k = from; k < to; k++) h = (h * 31 + chunk[k]) | 0;
      const slot = h & (INTERN_SLOTS - 1);
      const hit = interned[slot];
      if (hit !== undefined && hit.length === len) {
        let k = 0;
        while (k < len && hit.charCodeAt(k) === chunk[from + k]) k++;
        if (k === len) return hit;
      }
      return (interned[slot] = chunk.toString('latin1', from, to));
    }
    const name = this.take(chunk, from, to);
    if (this.nonAscii && !NAME_RE.test(name)) this.fail('not-well-formed', `'${name}' is not an XML name (XML 1.0 §2.3)`);
    return name;
  }

  /** The current token's text: bytes carried in `scratch` plus chunk[from, to). */
  private take(chunk: Buffer, from: number, to: number): string {
    if (this.used === 0) return chunk.toString('utf8', from, to);
    this.append(chunk, from, to);
    const s = this.scratch.toString('utf8', 0, this.used);
    this.used = 0;
    if (this.scratch.length > SCRATCH_KEEP) this.scratch = Buffer.allocUnsafe(SCRATCH_IDLE);
    return s;
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const len = to - from;
    if (len <= 0) return;
    this.reserve(len);
    chunk.copy(this.scratch, this.used, from, to);
    this.used += len;
  }

  private push(b: number): void {
    if (this.used === this.scratch.length) this.reserve(1);
    this.scratch[this.used++] = b;
  }

  private reserve(len: number): void {
    if (this.used + len <= this.scratch.length) return;
    let size = this.scratch.length * 2;
    while (size < this.used + len) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.scratch.copy(next, 0, 0, this.used);
    this.scratch = next;
  }
}
