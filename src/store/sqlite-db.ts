/**
 * What every part of the embedded store shares: the prepared-statement cache,
 * the mapping of SQLite failures to the store's errors, and guard(), which
 * runs one synchronous step and hands its outcome back as a promise.
 */
import Database from 'better-sqlite3';
import { ImpError, storeUnavailable } from '../errors.js';

/** SQLite result codes that mean "the database cannot serve us now", not "imp has a bug". */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM)/;

export function mapError(err: unknown): ImpError {
  if (err instanceof ImpError) return err;
  if (err instanceof Database.SqliteError && UNAVAILABLE_CODES.test(err.code)) return storeUnavailable(err);
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) return storeUnavailable(err);
  return new ImpError('IMP_INTERNAL', `embedded store: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** Prepared once per database and SQL text: preparing is the costly part of a query. */
export function sql<P extends unknown[] = unknown[], R = unknown>(db: Database.Database, text: string): Database.Statement<P, R> {
  let m = statements.get(db);
  if (!m) statements.set(db, m = new Map());
  let st = m.get(text);
  if (!st) m.set(text, st = db.prepare(text));
  return st as unknown as Database.Statement<P, R>;
}

/** Runs a synchronous database step, turning what it throws into the store's errors. */
export function guard<T>(fn: () => T): Promise<T> {
  try { return Promise.resolve(fn()); } catch (err) { return Promise.reject(mapError(err)); }
}
