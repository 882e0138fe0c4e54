/**
 * SASL negotiation for one connection (RFC 6120 §6): which mechanisms are
 * offered, and the exchange driven through the pure PLAIN/SCRAM steps with
 * the store look-ups in between. Only users with IM & Presence enabled and
 * the home-cluster flag may sign in (SPEC §2); that is checked only after the
 * password proved right, so a failure never tells whether an account exists.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { isImpError } from '../errors.js';
import type { ScramCredential, ScramHash, Store } from '../store/types.js';
import { JidError, prepLocalpart } from '../util/jid.js';
import { parsePlain } from './sasl/plain.js';
import {
  deriveCredential, scramParseClientFirst, scramServerFinal, scramServerFirst,
  type ChannelBindingInfo, type ScramServerState,
} from './sasl/scram.js';
import { saslprep } from './sasl/saslprep.js';
import type { SaslCondition, SaslFailure } from './sasl/types.js';

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; data: Buffer | null; userId: string }
  | { kind: 'failure'; condition: SaslCondition; text: string };

interface Mechanism { name: string; hash?: ScramHash; plus?: boolean }

const SCRAM: Mechanism[] = [
  { name: 'SCRAM-SHA-256-PLUS', hash: 'SHA-256', plus: true },
  { name: 'SCRAM-SHA-1-PLUS', hash: 'SHA-1', plus: true },
  { name: 'SCRAM-SHA-256', hash: 'SHA-256', plus: false },
  { name: 'SCRAM-SHA-1', hash: 'SHA-1', plus: false },
];

export interface AuthDeps {
  store: Store;
  domain: string;
  /** Secret behind the fake salts given for unknown users. */
  fakeSecret: Buffer;
  allowPlaintext: boolean;
}

const failure = (condition: SaslCondition, text: string): SaslStep => ({ kind: 'failure', condition, text });
const isFailure = (x: object): x is SaslFailure => 'condition' in x;

export class SaslNegotiation {
  private scram: ScramServerState | null = null;
  private mech: Mechanism | null = null;

  constructor(private readonly deps: AuthDeps, private readonly secure: boolean, private readonly cb: ChannelBindingInfo) {}

  /** Mechanisms offered in this connection's stream features, strongest first. */
  mechanisms(): string[] {
    const plusOk = this.cb.types.length > 0;
    const names = SCRAM.filter((m) => !m.plus || plusOk).map((m) => m.name);
    // RFC 6120 §13.8: PLAIN only where the password cannot be read off the wire.
    if (this.secure || this.deps.allowPlaintext) names.push('PLAIN');
    return names;
  }

  async start(mechanism: string, initial: Buffer | null): Promise<SaslStep> {
    if (!this.mechanisms().includes(mechanism)) {
      return failure('invalid-mechanism', `mechanism ${JSON.stringify(mechanism)} is not offered on this connection`);
    }
    this.mech = mechanism === 'PLAIN' ? { name: 'PLAIN' } : SCRAM.find((m) => m.name === mechanism) ?? null;
    // A new <auth/> starts afresh, whatever an aborted or failed exchange left behind.
    this.scram = null;
    // Both PLAIN and SCRAM start with the client; without an initial response ask for it (RFC 6120 §6.4.2).
    if (initial === null) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.respond(initial);
  }

  async respond(data: Buffer): Promise<SaslStep> {
    const mech = this.mech;
    if (!mech) return failure('malformed-request', 'no SASL exchange is under way');
    try {
      if (mech.name === 'PLAIN') return await this.plain(data);
      return this.scram ? await this.scramFinal(data) : await this.scramFirst(mech, data);
    } catch (e) {
      if (isImpError(e, 'IMP_STORE_UNAVAILABLE')) return failure('temporary-auth-failure', 'the user store is unavailable; try again shortly');
      throw e;
    }
  }

  private async plain(data: Buffer): Promise<SaslStep> {
    const p = parsePlain(data);
    if (isFailure(p)) return failure(p.condition, p.text ?? 'malformed PLAIN message');
    const userId = this.prepUser(p.authcid);
    if (userId === null) return failure('not-authorized', 'wrong user name or password');
    if (p.authzid !== null && !this.authzidMatches(p.authzid, userId)) {
      return failure('invalid-authzid', 'signing in on behalf of another identity is not permitted');
    }
    const creds = await this.deps.store.users.getCredentials(userId);
    // An unknown user costs the same key derivation as a known one, so timing does not tell them apart.
    const ok = await verifyPlainPasswordAsync(p.password, creds ? creds['SHA-256'] : dummyCredential(), 'SHA-256');
    if (!creds || !ok) return failure('not-authorized', 'wrong user name or password');
    return this.admit(userId, null);
  }

  private async scramFirst(mech: Mechanism, data: Buffer): Promise<SaslStep> {
    const hash = mech.hash as ScramHash;
    const first = scramParseClientFirst({ hash, plus: mech.plus === true }, data, this.cb, this.cb.types.length > 0);
    if (isFailure(first)) return failure(first.condition, first.text ?? 'malformed SCRAM client-first message');
    if (first.authzid !== null && !this.authzidMatches(first.authzid, first.username.toLowerCase())) {
      return failure('invalid-authzid', 'signing in on behalf of another identity is not permitted');
    }
    const userId = this.prepUser(first.username);
    const creds = userId === null ? null : await this.deps.store.users.getCredentials(userId);
    const { state, message } = scramServerFirst(hash, first, creds ? creds[hash] : null, this.cb, { fakeSecret: this.deps.fakeSecret });
    this.scram = state;
    return { kind: 'challenge', data: message };
  }

  private async scramFinal(data: Buffer): Promise<SaslStep> {
    const state = this.scram as ScramServerState;
    this.scram = null;
    this.mech = null;
    const r = scramServerFinal(state, data);
    if (isFailure(r)) return failure(r.condition, r.text ?? 'authentication failed');
    const userId = this.prepUser(r.username);
    if (userId === null) return failure('not-authorized', 'wrong user name or password');
    return this.admit(userId, r.message);
  }

  /** The password was right: is this user allowed to sign in? */
  private async admit(userId: string, data: Buffer | null): Promise<SaslStep> {
    const user = await this.deps.store.users.get(userId);
    if (!user) return failure('not-authorized', 'wrong user name or password');
    if (!user.imPresenceEnabled || !user.homeCluster) {
      return failure('account-disabled', 'this user is not enabled for IM and Presence on this cluster (needs both "IM and Presence" and "home cluster")');
    }
    return { kind: 'success', data, userId };
  }

  private prepUser(name: string): string | null {
    try { return prepLocalpart(name); } catch (e) { if (e instanceof JidError) return null; throw e; }
  }

  private authzidMatches(authzid: string, userId: string): boolean {
    const bare = authzid.toLowerCase();
    return bare === userId || bare === `${userId}@${this.deps.domain}`;
  }
}

let dummy: ScramCredential | null = null;
function dummyCredential(): ScramCredential {
  dummy ??= deriveCredential(randomBytes(16).toString('hex'), 'SHA-256');
  return dummy;
}

const PBKDF2_DIGEST: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };

/**
 * PLAIN against stored SCRAM keys (RFC 5802 §3): derive SaltedPassword with
 * the stored salt and count, then compare StoredKey. The derivation runs on
 * libuv's thread pool, so a burst of sign-ins does not stall every session.
 */
async function verifyPlainPasswordAsync(password: string, cred: ScramCredential, hash: ScramHash): Promise<boolean> {
  let prepared: string;
  try { prepared = saslprep(password, { allowUnassigned: true }); } catch { return false; }
  const digest = PBKDF2_DIGEST[hash];
  const salted = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(Buffer.from(prepared, 'utf8'), Buffer.from(cred.salt, 'base64'), cred.iterations, hash === 'SHA-1' ? 20 : 32, digest, (err, key) => (err ? reject(err) : resolve(key)));
  });
  const clientKey = createHmac(digest, salted).update('Client Key').digest();
  const storedKey = createHash(digest).update(clientKey).digest();
  const expected = Buffer.from(cred.storedKey, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}

