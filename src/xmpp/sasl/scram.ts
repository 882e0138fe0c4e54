/**
 * SCRAM as pure step functions: RFC 5802 (§3 algorithm, §5 exchange, §5.1
 * attributes, §6 channel binding, §7 grammar, §9 security), RFC 7677
 * (SCRAM-SHA-256), RFC 5801 §4 (the GS2 header), and the channel-binding
 * types of RFC 5929 (tls-server-end-point, tls-unique) and RFC 9266
 * (tls-exporter). RFC 4422 §3.4 for the authorization identity.
 *
 * No I/O: the caller looks up the credential, carries the state between steps
 * and turns a SaslFailure into an RFC 6120 <failure/>.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { TextDecoder } from 'node:util';
import type { Credentials, ScramCredential, ScramHash } from '../../store/types.js';
import { prepLocalpart, tryParseJid } from '../../util/jid.js';
import { saslprep, SaslprepError } from './saslprep.js';
import { saslFailure, type SaslFailure } from './types.js';

/** RFC 7677 §4: the minimum a server may ask for and a client must accept. */
export const SCRAM_ITERATIONS = 4096;

const DIGEST = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' } as const;
const DIGEST_BYTES = { 'SHA-1': 20, 'SHA-256': 32 } as const;
const SALT_BYTES = 16;

// ---------------------------------------------------------------------------
// RFC 5802 §3 primitives

function hi(password: string, salt: Buffer, iterations: number, hash: ScramHash): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, DIGEST_BYTES[hash], DIGEST[hash]);
}

function hmac(hash: ScramHash, key: Buffer, data: string): Buffer {
  return createHmac(DIGEST[hash], key).update(data, 'utf8').digest();
}

function h(hash: ScramHash, data: Buffer): Buffer {
  return createHash(DIGEST[hash]).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Equal-length, constant-time comparison; differing lengths are simply unequal. */
function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function credentialFromPrepped(prepped: string, hash: ScramHash, iterations: number, salt: Buffer): ScramCredential {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`SCRAM iteration count must be a positive integer, got ${iterations}`);
  const salted = hi(prepped, salt, iterations, hash);
  const storedKey = h(hash, hmac(hash, salted, 'Client Key'));
  const serverKey = hmac(hash, salted, 'Server Key');
  return { salt: salt.toString('base64'), iterations, storedKey: storedKey.toString('base64'), serverKey: serverKey.toString('base64') };
}

// ---------------------------------------------------------------------------
// Credentials

/**
 * The RFC 5802 §3 server-side keys for a password. The password is SASLprep'd
 * as a stored string, so one that SASLprep refuses throws SaslprepError.
 */
export function deriveCredential(password: string, hash: ScramHash, opts: { iterations?: number; salt?: Buffer } = {}): ScramCredential {
  return credentialFromPrepped(saslprep(password), hash, opts.iterations ?? SCRAM_ITERATIONS, opts.salt ?? randomBytes(SALT_BYTES));
}

/** Keys for both hashes, each with its own salt; SASLprep runs once. */
export function deriveCredentials(password: string, opts: { iterations?: number } = {}): Credentials {
  const prepped = saslprep(password);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  return {
    'SHA-1': credentialFromPrepped(prepped, 'SHA-1', iterations, randomBytes(SALT_BYTES)),
    'SHA-256': credentialFromPrepped(prepped, 'SHA-256', iterations, randomBytes(SALT_BYTES)),
  };
}

/**
 * PLAIN against a SCRAM credential: no plaintext is stored, so recompute
 * StoredKey from the stored salt and iteration count and compare.
 */
export function verifyPlainPassword(password: string, cred: ScramCredential, hash: ScramHash): boolean {
  let prepped: string;
  try {
    prepped = saslprep(password, { allowUnassigned: true });
  } catch (err) {
    if (err instanceof SaslprepError) return false;
    throw err;
  }
  const salted = hi(prepped, Buffer.from(cred.salt, 'base64'), cred.iterations, hash);
  const storedKey = h(hash, hmac(hash, salted, 'Client Key'));
  return safeEqual(storedKey, Buffer.from(cred.storedKey, 'base64'));
}

// ---------------------------------------------------------------------------
// Message syntax (RFC 5802 §7)

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';
const CB_TYPES: readonly ChannelBindingType[] = ['tls-exporter', 'tls-server-end-point', 'tls-unique'];

/** What the server knows of the connection's TLS, given to the SCRAM server. */
export interface ChannelBindingInfo {
  /** Types the server can bind to on this connection, in preference order; empty on a plain connection. */
  types: ChannelBindingType[];
  data(type: ChannelBindingType): Buffer | null;
}

/** A connection with no TLS, hence nothing to bind to. */
export const NO_CHANNEL_BINDING: ChannelBindingInfo = { types: [], data: () => null };

/** Maps a mechanism name (e.g. "SCRAM-SHA-256-PLUS") to its hash and channel-binding flavour. */
export function scramMechanism(name: string): { hash: ScramHash; plus: boolean } | null {
  const m = /^SCRAM-(SHA-1|SHA-256)(-PLUS)?$/.exec(name);
  return m ? { hash: m[1] as ScramHash, plus: m[2] !== undefined } : null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const RE_PRINTABLE = /^[\x21-\x2B\x2D-\x7E]+$/;
const RE_SASLNAME = /^(?:[^=,\0]|=2C|=3D)+$/;
const RE_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RE_EXTENSION = /^[A-Za-z]=/;

function decodeText(message: Buffer): string | null {
  try {
    const s = utf8.decode(message);
    return s.includes('\0') ? null : s;
  } catch {
    return null;
  }
}

/** Strict, canonical base64: anything else is a malformed message, not something to guess at. */
function decodeBase64(s: string): Buffer | null {
  if (!RE_BASE64.test(s)) return null;
  const buf = Buffer.from(s, 'base64');
  return buf.toString('base64') === s ? buf : null;
}

function unescapeSaslname(s: string): string | null {
  return RE_SASLNAME.test(s) ? s.replace(/=2C/g, ',').replace(/=3D/g, '=') : null;
}

function escapeSaslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** `k=value` where the attribute name must be `key`; null otherwise. */
function attr(part: string | undefined, key: string): string | null {
  return part !== undefined && part.startsWith(`${key}=`) ? part.slice(key.length + 1) : null;
}

const malformed = (rule: string): SaslFailure => saslFailure('malformed-request', rule);

// ---------------------------------------------------------------------------
// Server, step 1: client-first-message

export interface ScramClientFirst {
  /** Exactly as received, because the client's c= attribute must repeat it byte for byte. */
  gs2Header: string;
  cbFlag: 'n' | 'y' | 'p';
  cbType: ChannelBindingType | null;
  /** Unescaped, as sent; when a JID, the caller must still check its domain is ours. */
  authzid: string | null;
  /** Unescaped and SASLprep'd (RFC 5802 §5.1); the caller maps it to a localpart. */
  username: string;
  clientNonce: string;
  /** client-first-message-bare, the first piece of AuthMessage. */
  bare: string;
}

/** RFC 6120 §6.3.8: the authzid names this user, either as the username itself or as a bare JID of it. */
function authzidNamesUser(authzid: string, username: string): boolean {
  if (authzid === username) return true;
  const j = tryParseJid(authzid);
  if (j === null || j.local === '' || j.resource !== '') return false;
  try {
    return j.local === prepLocalpart(username);
  } catch {
    return false;
  }
}

/**
 * Step 1: parse client-first-message and check the GS2 header against the
 * mechanism chosen and what the server advertised.
 */
export function scramParseClientFirst(
  mechanism: { hash: ScramHash; plus: boolean },
  message: Buffer,
  cb: ChannelBindingInfo,
  serverAdvertisesPlus: boolean,
): ScramClientFirst | SaslFailure {
  const text = decodeText(message);
  if (text === null) return malformed('client-first-message must be UTF-8 without NUL (RFC 5802 §7)');
  const c1 = text.indexOf(',');
  const c2 = c1 < 0 ? -1 : text.indexOf(',', c1 + 1);
  if (c2 < 0) return malformed('client-first-message must start with a GS2 header "flag,[a=authzid]," (RFC 5801 §4)');
  const flagField = text.slice(0, c1);
  const authzField = text.slice(c1 + 1, c2);
  const gs2Header = text.slice(0, c2 + 1);
  const bare = text.slice(c2 + 1);

  let cbFlag: 'n' | 'y' | 'p';
  let cbName: string | null = null;
  if (flagField === 'n' || flagField === 'y') {
    cbFlag = flagField;
  } else if (/^p=[A-Za-z0-9.-]+$/.test(flagField)) {
    cbFlag = 'p';
    cbName = flagField.slice(2);
  } else {
    return malformed('GS2 channel-binding flag must be "n", "y" or "p=<type>" (RFC 5802 §7)');
  }

  let authzid: string | null = null;
  if (authzField !== '') {
    const raw = attr(authzField, 'a');
    authzid = raw === null ? null : unescapeSaslname(raw);
    if (authzid === null) return malformed('GS2 authzid must be "a=" and a saslname with =2C/=3D escapes (RFC 5801 §4)');
  }

  const parts = bare.split(',');
  if (parts[0]?.startsWith('m=')) return malformed('mandatory extension "m=" is not supported (RFC 5802 §5.1)');
  const rawUser = attr(parts[0], 'n');
  const clientNonce = attr(parts[1], 'r');
  if (rawUser === null || clientNonce === null) return malformed('client-first-message-bare must be "n=user,r=nonce" (RFC 5802 §7)');
  if (!parts.slice(2).every((p) => RE_EXTENSION.test(p))) return malformed('extensions must be "x=value" attributes (RFC 5802 §7)');
  const escaped = unescapeSaslname(rawUser);
  if (escaped === null) return malformed('username must be non-empty with "=" only in =2C or =3D escapes (RFC 5802 §5.1)');
  if (!RE_PRINTABLE.test(clientNonce)) return malformed('nonce must be printable ASCII without "," (RFC 5802 §7)');
  let username: string;
  try {
    username = saslprep(escaped, { allowUnassigned: true });
  } catch (err) {
    if (err instanceof SaslprepError) return malformed(`username: ${err.message}`);
    throw err;
  }
  if (username === '') return malformed('username is empty after SASLprep (RFC 5802 §5.1)');

  // RFC 5802 §6: the flag must agree with the mechanism, and "y" on a server
  // that did offer -PLUS means a man in the middle stripped it.
  if (cbFlag === 'p' && !mechanism.plus) {
    return malformed('channel binding ("p=") requested on a mechanism without -PLUS (RFC 5802 §6)');
  }
  if (cbFlag !== 'p' && mechanism.plus) {
    return malformed('a -PLUS mechanism requires the "p=<type>" channel-binding flag (RFC 5802 §6)');
  }
  if (cbFlag === 'y' && serverAdvertisesPlus) {
    return saslFailure('not-authorized', 'client says the server offers no channel binding, but it does: possible downgrade (RFC 5802 §6)');
  }
  let cbType: ChannelBindingType | null = null;
  if (cbName !== null) {
    const known = CB_TYPES.find((t) => t === cbName);
    if (known === undefined || !cb.types.includes(known) || cb.data(known) === null) {
      return saslFailure('not-authorized', `channel-binding type "${cbName}" is not supported on this connection (RFC 5802 §6)`);
    }
    cbType = known;
  }

  if (authzid !== null && !authzidNamesUser(authzid, username)) {
    return saslFailure('invalid-authzid', 'authzid must name the authenticating user (RFC 6120 §6.3.8)');
  }
  return { gs2Header, cbFlag, cbType, authzid, username, clientNonce, bare };
}

// ---------------------------------------------------------------------------
// Server, step 2: server-first-message

export interface ScramServerState {
  hash: ScramHash;
  first: ScramClientFirst;
  serverFirst: string;
  /** Client nonce followed by server nonce. */
  nonce: string;
  cred: ScramCredential;
  /** The user does not exist: step 3 fails whatever the proof. */
  fake: boolean;
  /** Channel-binding data the client's c= must carry after the GS2 header; null unless the flag is "p". */
  cbData: Buffer | null;
}

/** Per-process; pass opts.fakeSecret so every node and restart answers an unknown user with the same salt. */
const PROCESS_FAKE_SECRET = randomBytes(32);

/**
 * RFC 5802 §9 notes that the salt reveals whether a user exists; an unknown
 * user gets a salt that is stable per username (as a real one would be) but
 * cannot be told from random without the secret.
 */
function fakeCredential(hash: ScramHash, username: string, secret: Buffer): ScramCredential {
  const salt = createHmac('sha256', secret).update(`${hash}\0${username}`, 'utf8').digest().subarray(0, SALT_BYTES);
  const junk = (): string => randomBytes(DIGEST_BYTES[hash]).toString('base64');
  return { salt: salt.toString('base64'), iterations: SCRAM_ITERATIONS, storedKey: junk(), serverKey: junk() };
}

/** Step 2: answer with the salt and iterations of the user's credential, or of a fake one when `cred` is null. */
export function scramServerFirst(
  hash: ScramHash,
  first: ScramClientFirst,
  cred: ScramCredential | null,
  cb: ChannelBindingInfo,
  opts: { serverNonce?: string; fakeSecret?: Buffer } = {},
): { state: ScramServerState; message: Buffer } {
  const serverNonce = opts.serverNonce ?? randomBytes(18).toString('base64');
  if (!RE_PRINTABLE.test(serverNonce)) throw new RangeError('server nonce must be printable ASCII without ","');
  const fake = cred === null;
  const used = cred ?? fakeCredential(hash, first.username, opts.fakeSecret ?? PROCESS_FAKE_SECRET);
  const nonce = first.clientNonce + serverNonce;
  const serverFirst = `r=${nonce},s=${used.salt},i=${used.iterations}`;
  const cbData = first.cbType !== null ? cb.data(first.cbType) : null;
  return { state: { hash, first, serverFirst, nonce, cred: used, fake, cbData }, message: Buffer.from(serverFirst, 'utf8') };
}

// ---------------------------------------------------------------------------
// Server, step 3: client-final-message

/** Step 3: check channel binding, nonce and proof; on success answer with the server signature. */
export function scramServerFinal(
  state: ScramServerState,
  message: Buffer,
): { ok: true; message: Buffer; username: string } | SaslFailure {
  const text = decodeText(message);
  if (text === null) return malformed('client-final-message must be UTF-8 without NUL (RFC 5802 §7)');
  const parts = text.split(',');
  const cAttr = attr(parts[0], 'c');
  const rAttr = attr(parts[1], 'r');
  const pAttr = parts.length >= 3 ? attr(parts[parts.length - 1], 'p') : null;
  if (cAttr === null || rAttr === null || pAttr === null) {
    return malformed('client-final-message must be "c=...,r=...[,ext],p=..." (RFC 5802 §7)');
  }
  if (!parts.slice(2, -1).every((p) => RE_EXTENSION.test(p))) return malformed('extensions must be "x=value" attributes (RFC 5802 §7)');
  const cbind = decodeBase64(cAttr);
  const proof = decodeBase64(pAttr);
  if (cbind === null || proof === null) return malformed('c= and p= must be base64 (RFC 5802 §7)');
  if (proof.length !== DIGEST_BYTES[state.hash]) return malformed(`proof must be ${DIGEST_BYTES[state.hash]} octets (RFC 5802 §3)`);

  if (rAttr !== state.nonce) return saslFailure('not-authorized', 'nonce differs from the one the server sent (RFC 5802 §5.1)');
  const { first } = state;
  if (first.cbFlag === 'p' && state.cbData === null) {
    return saslFailure('not-authorized', 'channel-binding data is not available on this connection (RFC 5802 §6)');
  }
  const expected = Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), state.cbData ?? Buffer.alloc(0)]);
  if (!cbind.equals(expected)) {
    return saslFailure('not-authorized', 'channel binding does not match the GS2 header and this connection (RFC 5802 §6)');
  }

  // The proof is checked even for a fake user so the answer takes as long.
  const withoutProof = parts.slice(0, -1).join(',');
  const authMessage = `${first.bare},${state.serverFirst},${withoutProof}`;
  const storedKey = Buffer.from(state.cred.storedKey, 'base64');
  const clientKey = xor(proof, hmac(state.hash, storedKey, authMessage));
  const proofOk = safeEqual(h(state.hash, clientKey), storedKey);
  if (!proofOk || state.fake) return saslFailure('not-authorized', 'wrong username or password');
  const serverSignature = hmac(state.hash, Buffer.from(state.cred.serverKey, 'base64'), authMessage);
  return { ok: true, message: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), username: first.username };
}

// ---------------------------------------------------------------------------
// Client (tests and benchmarks)

export interface ScramClientOptions {
  hash: ScramHash;
  username: string;
  password: string;
  /** Bind to this channel (SCRAM-*-PLUS); needs cbData. */
  cbType?: ChannelBindingType | null;
  cbData?: Buffer | null;
  nonce?: string;
  /** Send the "y" flag: the client could bind but believes the server cannot. */
  supportsPlusButNotUsed?: boolean;
}

/** The client side of RFC 5802 §5; throws on anything a real client would abort on. */
export class ScramClient {
  private readonly hash: ScramHash;
  private readonly password: string;
  private readonly gs2Header: string;
  private readonly cbData: Buffer;
  private readonly nonce: string;
  private readonly bare: string;
  private serverSignature: Buffer | null = null;

  constructor(opts: ScramClientOptions) {
    this.hash = opts.hash;
    this.password = saslprep(opts.password, { allowUnassigned: true });
    const username = saslprep(opts.username, { allowUnassigned: true });
    if (username === '') throw new Error('SCRAM username is empty after SASLprep');
    this.nonce = opts.nonce ?? randomBytes(18).toString('base64');
    if (!RE_PRINTABLE.test(this.nonce)) throw new RangeError('client nonce must be printable ASCII without ","');
    if (opts.cbType) {
      if (!opts.cbData) throw new Error(`channel binding "${opts.cbType}" needs cbData`);
      this.gs2Header = `p=${opts.cbType},,`;
      this.cbData = opts.cbData;
    } else {
      this.gs2Header = opts.supportsPlusButNotUsed ? 'y,,' : 'n,,';
      this.cbData = Buffer.alloc(0);
    }
    this.bare = `n=${escapeSaslname(username)},r=${this.nonce}`;
  }

  first(): Buffer {
    return Buffer.from(this.gs2Header + this.bare, 'utf8');
  }

  final(serverFirst: Buffer): Buffer {
    const text = decodeText(serverFirst);
    if (text === null) throw new Error('server-first-message is not UTF-8');
    const parts = text.split(',');
    if (parts[0]?.startsWith('m=')) throw new Error('server-first-message has an unsupported mandatory extension');
    const nonce = attr(parts[0], 'r');
    const saltB64 = attr(parts[1], 's');
    const iterText = attr(parts[2], 'i');
    if (nonce === null || saltB64 === null || iterText === null) throw new Error('server-first-message must be "r=...,s=...,i=..."');
    if (!nonce.startsWith(this.nonce) || nonce.length === this.nonce.length || !RE_PRINTABLE.test(nonce)) {
      throw new Error('server nonce does not extend the client nonce');
    }
    const salt = decodeBase64(saltB64);
    if (salt === null || salt.length === 0) throw new Error('salt is not base64');
    if (!/^[1-9][0-9]*$/.test(iterText)) throw new Error('iteration count is not a positive integer');
    const iterations = Number(iterText);
    if (iterations < SCRAM_ITERATIONS) throw new Error(`iteration count ${iterations} is below the minimum ${SCRAM_ITERATIONS} (RFC 7677 §4)`);

    const salted = hi(this.password, salt, iterations, this.hash);
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = h(this.hash, clientKey);
    const cbind = Buffer.concat([Buffer.from(this.gs2Header, 'utf8'), this.cbData]).toString('base64');
    const withoutProof = `c=${cbind},r=${nonce}`;
    const authMessage = `${this.bare},${text},${withoutProof}`;
    const proof = xor(clientKey, hmac(this.hash, storedKey, authMessage));
    this.serverSignature = hmac(this.hash, hmac(this.hash, salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** True only for a "v=" carrying the signature this client expects; an "e=" or anything else is false. */
  verifyServerFinal(serverFinal: Buffer): boolean {
    if (this.serverSignature === null) throw new Error('verifyServerFinal() before final()');
    const text = decodeText(serverFinal);
    const v = text === null ? null : attr(text.split(',')[0], 'v');
    const sig = v === null ? null : decodeBase64(v);
    return sig !== null && safeEqual(sig, this.serverSignature);
  }
}
