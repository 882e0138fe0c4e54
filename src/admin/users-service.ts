/**
 * User provisioning rules (SPEC §2), in one place: the admin HTTP API and the
 * `imp user` command both call these functions, so a rule holds the same way
 * whichever door a user comes in by.
 *
 * Every input is validated in full (including deriving the SCRAM keys, which
 * may refuse a password) before the store is touched, so a refused request
 * changes nothing. Every refusal is ImpError('IMP_VALIDATION', '<field>: <rule>').
 * What leaves here is a UserRecord projected field by field: no credential
 * material can ride along on whatever object a backend returned.
 */
import { z } from 'zod';
import { ImpError, isImpError } from '../errors.js';
import type { Credentials, Store, UserFields, UserRecord } from '../store/types.js';
import { prepLocalpart } from '../util/jid.js';
import { deriveCredentials } from '../xmpp/sasl/scram.js';

export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;

// Control characters in a name would end up in vCards, PIDF and log lines.
const NO_CONTROL_CHARS = /^[^\p{Cc}]*$/u;
const TELEPHONE = /^[0-9+\-() ]*$/;

/**
 * An optional text field. The empty string means "none" and is stored as
 * null, so a form or `--email ""` can clear a field as well as JSON null can.
 */
function text(max: number, rule: z.ZodType<string | null>): z.ZodType<string | null> {
  return z.preprocess((v) => (v === '' ? null : v), rule).meta({ description: `at most ${max} characters; "" or null means none` });
}

function name(max: number): z.ZodType<string | null> {
  return text(max, z.string({ error: 'expected a string or null' })
    .max(max, { error: `at most ${max} characters` })
    .regex(NO_CONTROL_CHARS, { error: 'must not contain control characters' })
    .nullable());
}

const fieldSchemas = {
  firstName: name(256),
  lastName: name(256),
  displayName: name(256),
  email: text(254, z.email({ error: 'not a valid email address' }).max(254, { error: 'at most 254 characters' }).nullable()),
  telephoneNumber: text(64, z.string({ error: 'expected a string or null' })
    .max(64, { error: 'at most 64 characters' })
    .regex(TELEPHONE, { error: 'only digits, +, -, spaces and parentheses' })
    .regex(/[0-9]/, { error: 'must contain a digit' })
    .nullable()),
};

const password = z.string({ error: 'expected a string' })
  .min(1, { error: 'must be 1 to 1024 characters' })
  .max(1024, { error: 'must be 1 to 1024 characters' })
  .meta({ description: 'write-only: never returned; only SCRAM keys are stored', writeOnly: true });

const flag = z.boolean({ error: 'expected true or false' });

/** The body of a create: userId and password required, flags default to false. */
export const createUserSchema = z.strictObject({
  userId: z.string({ error: 'expected a string' }).meta({ description: 'a JID localpart; stored prepared (lower-cased)' }),
  password,
  firstName: fieldSchemas.firstName.optional(),
  lastName: fieldSchemas.lastName.optional(),
  displayName: fieldSchemas.displayName.optional(),
  email: fieldSchemas.email.optional(),
  telephoneNumber: fieldSchemas.telephoneNumber.optional(),
  imPresenceEnabled: flag.default(false).meta({ description: 'Enable user for IM and Presence' }),
  homeCluster: flag.default(false),
});

/** The body of a patch: every field optional, omitted keeps its value, userId fixed. */
export const patchUserSchema = z.strictObject({
  password: password.optional(),
  firstName: fieldSchemas.firstName.optional(),
  lastName: fieldSchemas.lastName.optional(),
  displayName: fieldSchemas.displayName.optional(),
  email: fieldSchemas.email.optional(),
  telephoneNumber: fieldSchemas.telephoneNumber.optional(),
  imPresenceEnabled: flag.optional(),
  homeCluster: flag.optional(),
});

export type CreateUserInput = z.input<typeof createUserSchema>;
export type PatchUserInput = z.input<typeof patchUserSchema>;

export interface UserList { users: UserRecord[]; total: number; offset: number; limit: number }

function invalid(field: string, rule: string): ImpError {
  return new ImpError('IMP_VALIDATION', `${field}: ${rule}`, { field });
}

/** The first zod issue as '<field>: <rule>' (one clear message beats a list of ten). */
function fromZod(err: z.ZodError, input: unknown): ImpError {
  const issue = err.issues[0];
  if (!issue) return invalid('body', 'invalid');
  if (issue.code === 'unrecognized_keys') return invalid(issue.keys[0] ?? 'body', 'unknown field');
  const key = issue.path[0];
  if (key === undefined) return invalid('body', 'expected a JSON object');
  const field = String(key);
  const present = typeof input === 'object' && input !== null && Object.hasOwn(input, field);
  if (issue.code === 'invalid_type' && !present) return invalid(field, 'required');
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) return invalid(field, `expected ${issue.expected}`);
  return invalid(field, issue.message);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw fromZod(r.error, input);
  return r.data;
}

/** A userId as stored: a valid JID localpart, prepared (so `Alice` is `alice`). */
export function prepUserId(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid('userId', 'expected a string');
  if (raw === '') throw invalid('userId', 'must not be empty');
  try {
    return prepLocalpart(raw);
  } catch (err) {
    throw invalid('userId', err instanceof Error ? err.message : String(err));
  }
}

function credentialsFor(pw: string): Credentials {
  try {
    return deriveCredentials(pw);
  } catch (err) {
    if (isImpError(err, 'IMP_VALIDATION') && err.field === 'password') throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw invalid('password', msg.startsWith('password') ? msg.replace(/^password:\s*/, '') : msg);
  }
}

/** Only the public fields, whatever else the backend's object carries. */
export function publicUser(r: UserRecord): UserRecord {
  return {
    userId: r.userId,
    firstName: r.firstName,
    lastName: r.lastName,
    displayName: r.displayName,
    email: r.email,
    telephoneNumber: r.telephoneNumber,
    imPresenceEnabled: r.imPresenceEnabled,
    homeCluster: r.homeCluster,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function notFound(userId: string): ImpError {
  return new ImpError('IMP_USER_NOT_FOUND', `userId: no user ${userId}`, { field: 'userId' });
}

export async function createUser(store: Store, input: unknown): Promise<UserRecord> {
  const { userId: rawId, password: pw, ...fields } = parse(createUserSchema, input);
  const userId = prepUserId(rawId);
  const credentials = credentialsFor(pw);
  try {
    return publicUser(await store.users.create(userId, fields, credentials));
  } catch (err) {
    if (isImpError(err, 'IMP_USER_EXISTS')) {
      throw new ImpError('IMP_USER_EXISTS', `userId: ${userId} already exists`, { field: 'userId', cause: err });
    }
    throw err;
  }
}

export async function getUser(store: Store, userId: unknown): Promise<UserRecord> {
  const id = prepUserId(userId);
  const r = await store.users.get(id);
  if (!r) throw notFound(id);
  return publicUser(r);
}

export async function updateUser(store: Store, userId: unknown, patch: unknown): Promise<UserRecord> {
  const id = prepUserId(userId);
  if (typeof patch === 'object' && patch !== null && !Array.isArray(patch) && Object.hasOwn(patch, 'userId')) {
    throw invalid('userId', 'cannot be changed');
  }
  const { password: pw, ...fields } = parse(patchUserSchema, patch);
  const credentials = pw === undefined ? undefined : credentialsFor(pw);
  // zod leaves absent keys absent, but be explicit: undefined must never reach a backend as "clear".
  const changes: UserFields = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  if (Object.keys(changes).length === 0 && !credentials) return getUser(store, id);
  try {
    return publicUser(await store.users.update(id, changes, credentials));
  } catch (err) {
    if (isImpError(err, 'IMP_USER_NOT_FOUND')) throw notFound(id);
    throw err;
  }
}

export async function removeUser(store: Store, userId: unknown): Promise<void> {
  const id = prepUserId(userId);
  if (!(await store.users.remove(id))) throw notFound(id);
}

/** A paging parameter: a whole number, given as a number or as decimal digits (query strings, argv). */
function pageParam(field: string, raw: unknown, dflt: number, min: number, max: number, rule: string): number {
  if (raw === undefined) return dflt;
  let n = NaN;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^[0-9]{1,15}$/.test(raw)) n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(field, rule);
  return n;
}

export async function listUsers(store: Store, offset?: unknown, limit?: unknown): Promise<UserList> {
  const o = pageParam('offset', offset, 0, 0, Number.MAX_SAFE_INTEGER, 'must be a whole number, 0 or more');
  const l = pageParam('limit', limit, DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT, `must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  const page = await store.users.list(o, l);
  return { users: page.users.map(publicUser), total: page.total, offset: o, limit: l };
}
