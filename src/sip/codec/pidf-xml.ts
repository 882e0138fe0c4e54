/**
 * A small, safe reader for standalone XML documents (PIDF bodies), with no
 * I/O and no dependencies: a document in, a namespace-resolved element tree
 * (or the rule it broke) out.
 *
 * What it refuses is deliberate: a PIDF body comes from the network and must
 * never make us fetch, expand or allocate more than the body itself.
 *   - No DTD (`<!DOCTYPE`), no markup declarations, so no entity definitions,
 *     no external entities, no "billion laughs". References other than the
 *     five predefined entities (XML 1.0 §4.6) and character references
 *     (§4.1) are refused rather than left unexpanded.
 *   - No processing instructions, except one XML declaration at the start
 *     (§2.8), which must name UTF-8 if it names an encoding (§4.3.3).
 *   - UTF-8 only; invalid UTF-8 and characters outside XML's Char (§2.2) are refused.
 *   - Limits on bytes, nesting depth, element count and attributes per element.
 * Comments are allowed and skipped (they are ordinary XML, and unlike XMPP's
 * restricted profile, RFC 6120 §11.1, PIDF does not forbid them).
 *
 * Well-formedness per XML 1.0 (§2.4 character data, §2.11 end-of-line
 * handling, §3.1 tags and attributes, §3.3.3 attribute-value normalisation)
 * and Namespaces in XML 1.0 (§3 declarations, §4 QNames, §5 scoping, §6.3
 * attribute uniqueness). It is not a validating parser and knows nothing of PIDF.
 *
 * Why not the XMPP tokenizer (src/xmpp/codec/xml-tokenizer.ts): the layer
 * rules (scripts/check-layers.mjs) keep src/sip from importing src/xmpp, and
 * that tokenizer implements RFC 6120's restricted XML, which refuses comments
 * that a PIDF document may legitimately carry.
 */

export interface XmlAttribute {
  /** Namespace URI; '' for an unprefixed attribute (which is in no namespace). */
  ns: string;
  local: string;
  value: string;
}

export interface XmlElement {
  /** Namespace URI; '' when the element is in no namespace. */
  ns: string;
  local: string;
  /** The prefix as written ('' for none): for messages only, never for matching. */
  prefix: string;
  /** Attributes other than namespace declarations, in document order. */
  attrs: XmlAttribute[];
  /** Child elements and text (adjacent text, CDATA and references merged into one string). */
  children: XmlNode[];
}

export type XmlNode = XmlElement | string;

export interface XmlLimits {
  /** Largest document, in UTF-8 bytes. */
  maxBytes: number;
  /** Deepest nesting; the root element is depth 1. */
  maxDepth: number;
  /** Most elements in the whole document. */
  maxElements: number;
  /** Most attributes (namespace declarations included) on one element. */
  maxAttributes: number;
}

export const DEFAULT_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 65536,
  maxDepth: 32,
  maxElements: 4096,
  maxAttributes: 64,
});

export type XmlReadResult = { ok: true; root: XmlElement } | { ok: false; reason: string };

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

// XML 1.0 (5th ed.) §2.3 NameStartChar / NameChar.
const START_RANGES = ':A-Z_a-z\\u{C0}-\\u{D6}\\u{D8}-\\u{F6}\\u{F8}-\\u{2FF}\\u{370}-\\u{37D}\\u{37F}-\\u{1FFF}\\u{200C}-\\u{200D}\\u{2070}-\\u{218F}\\u{2C00}-\\u{2FEF}\\u{3001}-\\u{D7FF}\\u{F900}-\\u{FDCF}\\u{FDF0}-\\u{FFFD}\\u{10000}-\\u{EFFFF}';
// eslint-disable-next-line no-misleading-character-class -- XML NameChar deliberately includes combining marks
const NAME_AT = new RegExp(`[${START_RANGES}][${START_RANGES}\\-.0-9\\u{B7}\\u{300}-\\u{36F}\\u{203F}-\\u{2040}]*`, 'uy');
/** Anything that is not an XML Char (§2.2); with the u flag a lone surrogate is one code point, so it matches too. */
const NOT_CHAR = /[^\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]/u;
const WS_AT = /[ \t\n]*/y;
const XML_DECL_RE = /^xml[ \t\n]+version[ \t\n]*=[ \t\n]*(['"])1\.[0-9]+\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(['"])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(['"])(?:yes|no)\4)?[ \t\n]*$/;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

class XmlError extends Error {}

const fail = (reason: string): never => {
  throw new XmlError(reason);
};

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n';

const isXmlCharCode = (c: number): boolean =>
  c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);

/** A name without a colon that can start a name (the rest was checked by NAME_AT). */
function isNcName(s: string): boolean {
  if (s === '' || s.includes(':')) return false;
  const c = s.codePointAt(0) ?? 0;
  return !(c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040);
}

/** Decodes the body as UTF-8, refusing anything that is not (no replacement characters). */
function decode(input: string | Buffer, maxBytes: number): string {
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > maxBytes) fail(`the document is larger than ${maxBytes} bytes`);
    return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  }
  if (input.length > maxBytes) fail(`the document is larger than ${maxBytes} bytes`);
  if ((input[0] === 0xfe && input[1] === 0xff) || (input[0] === 0xff && input[1] === 0xfe) || input[0] === 0 || input[1] === 0) {
    fail('only UTF-8 is accepted (XML 1.0 §4.3.3): the document looks like UTF-16 or UTF-32');
  }
  try {
    // Strips a UTF-8 BOM (XML 1.0 §4.3.3), throws on malformed sequences.
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return fail('the document is not valid UTF-8 (XML 1.0 §4.3.3)');
  }
}

class Reader {
  private pos = 0;
  private elements = 0;

  constructor(private readonly s: string, private readonly limits: XmlLimits) {}

  document(): XmlElement {
    this.xmlDeclaration();
    this.misc();
    if (this.pos >= this.s.length) fail('the document has no root element (XML 1.0 §2.1)');
    if (!this.s.startsWith('<', this.pos)) fail('text is not allowed before the root element (XML 1.0 §2.1)');
    const root = this.element(new Map([['xml', XML_NS]]), 1);
    this.misc();
    if (this.pos < this.s.length) {
      fail(this.s.startsWith('<', this.pos)
        ? 'only one root element is allowed (XML 1.0 §2.1)'
        : 'text is not allowed after the root element (XML 1.0 §2.1)');
    }
    return root;
  }

  /**
   * XML 1.0 §2.8 wants the declaration at the very first byte; whitespace
   * before it is tolerated here, since some SIP stacks start the body with a
   * line break, and nothing is gained by refusing that.
   */
  private xmlDeclaration(): void {
    this.skipWs();
    const at = this.pos;
    if (!(this.s.startsWith('<?xml', at) && isWs(this.s[at + 5]))) return;
    const end = this.s.indexOf('?>', at + 2);
    if (end < 0) fail('unterminated XML declaration (XML 1.0 §2.8)');
    const m = XML_DECL_RE.exec(this.s.slice(at + 2, end));
    if (!m) fail('malformed XML declaration (XML 1.0 §2.8)');
    const enc = (m as RegExpExecArray)[3];
    if (enc !== undefined && !/^utf-?8$/i.test(enc)) fail(`encoding '${enc}' is not accepted, only UTF-8 (XML 1.0 §4.3.3)`);
    this.pos = end + 2;
  }

  /** Whitespace and comments outside the root element (XML 1.0 §2.8 Misc); PIs and DTDs are refused. */
  private misc(): void {
    for (;;) {
      this.skipWs();
      if (this.s.startsWith('<!--', this.pos)) this.comment();
      else if (this.s.startsWith('<!', this.pos)) this.refuseDeclaration();
      else if (this.s.startsWith('<?', this.pos)) this.refusePi();
      else return;
    }
  }

  private skipWs(): void {
    WS_AT.lastIndex = this.pos;
    WS_AT.exec(this.s);
    this.pos = WS_AT.lastIndex;
  }

  private comment(): void {
    const end = this.s.indexOf('--', this.pos + 4);
    if (end < 0) fail('unterminated comment (XML 1.0 §2.5)');
    if (this.s[end + 2] !== '>') fail("'--' is not allowed inside a comment (XML 1.0 §2.5)");
    this.pos = end + 3;
  }

  private refuseDeclaration(): never {
    return fail(this.s.startsWith('<!DOCTYPE', this.pos)
      ? 'a DTD (<!DOCTYPE …>) is not allowed in a PIDF document: no entity or markup declarations are accepted'
      : "markup declarations (<!ENTITY, <!ELEMENT, …) are not allowed; '<!' may only start a comment or a CDATA section");
  }

  private refusePi(): never {
    return fail(this.s.startsWith('<?xml', this.pos) && (isWs(this.s[this.pos + 5]) || this.s[this.pos + 5] === '?')
      ? 'the XML declaration may only appear at the very start of the document (XML 1.0 §2.8)'
      : 'processing instructions are not allowed in a PIDF document');
  }

  private name(what: string): string {
    NAME_AT.lastIndex = this.pos;
    const m = NAME_AT.exec(this.s);
    if (!m) fail(`expected ${what} at offset ${this.pos} (XML 1.0 §2.3)`);
    this.pos = NAME_AT.lastIndex;
    return (m as RegExpExecArray)[0];
  }

  private element(parent: ReadonlyMap<string, string>, depth: number): XmlElement {
    if (depth > this.limits.maxDepth) fail(`elements nest deeper than ${this.limits.maxDepth} levels`);
    if (++this.elements > this.limits.maxElements) fail(`the document has more than ${this.limits.maxElements} elements`);
    this.pos++; // '<'
    const qname = this.name('an element name');
    const raw: [string, string][] = [];
    for (;;) {
      const before = this.pos;
      this.skipWs();
      const c = this.s[this.pos];
      if (c === '>' || c === '/') break;
      if (c === undefined) fail(`unterminated start tag <${qname}> (XML 1.0 §3.1)`);
      if (this.pos === before) fail(`attributes of <${qname}> must be separated by whitespace (XML 1.0 §3.1)`);
      const an = this.name(`an attribute name in <${qname}>`);
      this.skipWs();
      if (this.s[this.pos] !== '=') fail(`attribute '${an}' of <${qname}> has no value (XML 1.0 §3.1)`);
      this.pos++;
      this.skipWs();
      const q = this.s[this.pos];
      if (q !== '"' && q !== "'") fail(`the value of attribute '${an}' must be quoted (XML 1.0 §3.1)`);
      this.pos++;
      const end = this.s.indexOf(q as string, this.pos);
      if (end < 0) fail(`unterminated value of attribute '${an}' (XML 1.0 §3.1)`);
      const rawValue = this.s.slice(this.pos, end);
      if (rawValue.includes('<')) fail(`'<' is not allowed in the value of attribute '${an}' (XML 1.0 §3.1)`);
      this.pos = end + 1;
      if (raw.some(([n]) => n === an)) fail(`duplicate attribute '${an}' on <${qname}> (XML 1.0 §3.1)`);
      if (raw.length >= this.limits.maxAttributes) fail(`<${qname}> has more than ${this.limits.maxAttributes} attributes`);
      // Attribute-value normalisation (§3.3.3): literal whitespace characters become spaces.
      raw.push([an, this.references(rawValue.replace(/[\t\n]/g, ' '))]);
    }
    const selfClosing = this.s[this.pos] === '/';
    if (selfClosing) {
      if (this.s[this.pos + 1] !== '>') fail(`expected '>' after '/' in <${qname}> (XML 1.0 §3.1)`);
      this.pos += 2;
    } else this.pos++;

    const scope = this.declare(parent, raw);
    const [prefix, local] = this.split(qname);
    const el: XmlElement = { ns: this.resolve(scope, prefix, qname, true), local, prefix, attrs: [], children: [] };
    for (const [an, value] of raw) {
      if (an === 'xmlns' || an.startsWith('xmlns:')) continue;
      const [ap, al] = this.split(an);
      const ns = ap === '' ? '' : this.resolve(scope, ap, an, false);
      if (el.attrs.some((a) => a.ns === ns && a.local === al)) {
        fail(`attribute '${an}' of <${qname}> duplicates another with the same namespace and local name (Namespaces in XML §6.3)`);
      }
      el.attrs.push({ ns, local: al, value });
    }
    if (!selfClosing) this.content(el, qname, scope, depth);
    return el;
  }

  private content(el: XmlElement, qname: string, scope: ReadonlyMap<string, string>, depth: number): void {
    let text = '';
    const flush = (): void => {
      if (text !== '') el.children.push(text);
      text = '';
    };
    for (;;) {
      const lt = this.s.indexOf('<', this.pos);
      if (lt < 0) fail(`<${qname}> is not closed (XML 1.0 §3)`);
      const chunk = this.s.slice(this.pos, lt);
      if (chunk.includes(']]>')) fail("']]>' is not allowed in character data (XML 1.0 §2.4)");
      text += this.references(chunk);
      this.pos = lt;
      if (this.s.startsWith('</', lt)) {
        this.pos += 2;
        const name = this.name('an end-tag name');
        this.skipWs();
        if (this.s[this.pos] !== '>') fail(`malformed end tag </${name}> (XML 1.0 §3.1)`);
        if (name !== qname) fail(`</${name}> does not close <${qname}> (XML 1.0 §3, element type match)`);
        this.pos++;
        flush();
        return;
      }
      if (this.s.startsWith('<!--', lt)) this.comment();
      else if (this.s.startsWith('<![CDATA[', lt)) {
        const end = this.s.indexOf(']]>', lt + 9);
        if (end < 0) fail('unterminated CDATA section (XML 1.0 §2.7)');
        text += this.s.slice(lt + 9, end);
        this.pos = end + 3;
      } else if (this.s.startsWith('<!', lt)) this.refuseDeclaration();
      else if (this.s.startsWith('<?', lt)) this.refusePi();
      else {
        flush();
        el.children.push(this.element(scope, depth + 1));
      }
    }
  }

  /** Expands the predefined entities and character references; refuses every other reference. */
  private references(s: string): string {
    if (!s.includes('&')) return s;
    return s.replace(/&([^;&]*)(;?)/g, (_m, body: string, semi: string) => {
      if (semi !== ';') return fail("'&' must start an entity or character reference ending in ';' (XML 1.0 §4.1)");
      const named = PREDEFINED[body];
      if (named !== undefined && Object.hasOwn(PREDEFINED, body)) return named;
      const m = /^#(?:([0-9]+)|x([0-9A-Fa-f]+))$/.exec(body);
      if (!m) {
        return /^[A-Za-z_:][\w.:-]*$/.test(body)
          ? fail(`entity reference '&${body};' is not allowed: only the five predefined entities are (no DTD, XML 1.0 §4.6)`)
          : fail("'&' must start an entity or character reference ending in ';' (XML 1.0 §4.1)");
      }
      const digits = m[1] ?? m[2] ?? '';
      const code = digits.length > 8 ? -1 : parseInt(digits, m[1] !== undefined ? 10 : 16);
      if (!isXmlCharCode(code)) fail(`character reference '&${body};' names a character not allowed in XML (XML 1.0 §4.1, §2.2)`);
      return String.fromCodePoint(code);
    });
  }

  private split(qname: string): [string, string] {
    const colon = qname.indexOf(':');
    if (colon < 0) return ['', qname];
    const prefix = qname.slice(0, colon);
    const local = qname.slice(colon + 1);
    if (!isNcName(prefix) || !isNcName(local)) fail(`'${qname}' is not a qualified name (Namespaces in XML §4)`);
    return [prefix, local];
  }

  /** The element's in-scope bindings: the parent's plus its own declarations (Namespaces in XML §3, §5). */
  private declare(parent: ReadonlyMap<string, string>, raw: [string, string][]): ReadonlyMap<string, string> {
    let scope: Map<string, string> | null = null;
    for (const [name, value] of raw) {
      let prefix: string;
      if (name === 'xmlns') {
        if (value === XML_NS || value === XMLNS_NS) fail(`'${value}' cannot be the default namespace (Namespaces in XML §3)`);
        prefix = '';
      } else if (name.startsWith('xmlns:')) {
        prefix = name.slice(6);
        if (!isNcName(prefix) || prefix === 'xmlns' || value === '' || value === XMLNS_NS || (prefix === 'xml') !== (value === XML_NS)) {
          fail(`invalid namespace declaration ${name}="${value}" (Namespaces in XML §3)`);
        }
      } else continue;
      (scope ??= new Map(parent)).set(prefix, value);
    }
    return scope ?? parent;
  }

  private resolve(scope: ReadonlyMap<string, string>, prefix: string, qname: string, isElement: boolean): string {
    const uri = scope.get(prefix);
    if (uri !== undefined) return uri;
    if (prefix === '' && isElement) return '';
    return fail(`prefix '${prefix}' of '${qname}' is not bound to a namespace (Namespaces in XML §5)`);
  }
}

/** Reads one standalone XML document. Never throws for any input. */
export function readXmlDocument(input: string | Buffer, limits: Partial<XmlLimits> = {}): XmlReadResult {
  const l: XmlLimits = { ...DEFAULT_XML_LIMITS, ...limits };
  try {
    let s = decode(input, l.maxBytes);
    const bad = NOT_CHAR.exec(s);
    if (bad) {
      const cp = bad[0].codePointAt(0) ?? 0;
      fail(`U+${cp.toString(16).toUpperCase().padStart(4, '0')} at offset ${bad.index} is not an XML character (XML 1.0 §2.2)`);
    }
    // End-of-line handling (XML 1.0 §2.11) happens before parsing.
    s = s.replace(/\r\n?/g, '\n');
    return { ok: true, root: new Reader(s, l).document() };
  } catch (err) {
    if (err instanceof XmlError) return { ok: false, reason: `bad XML: ${err.message}` };
    // Only a bug can get here (e.g. a RangeError deep in a regex); never let it escape to the network edge.
    return { ok: false, reason: `unreadable XML: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** The text content of an element: its direct text children, concatenated. */
export function textOf(el: XmlElement): string {
  let out = '';
  for (const c of el.children) if (typeof c === 'string') out += c;
  return out;
}

/** The child elements of `el`, in document order. */
export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

/** An attribute's value by namespace and local name ('' for unprefixed attributes). */
export function attr(el: XmlElement, local: string, ns = ''): string | undefined {
  return el.attrs.find((a) => a.local === local && a.ns === ns)?.value;
}
