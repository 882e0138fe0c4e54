/**
 * `imp user ...`: provisioning from the shell. Argument parsing and output
 * only; every rule is users-service.ts's, the same the HTTP API enforces.
 *
 * Exit codes: 0 ok, 1 operational error (not found, exists, store
 * unavailable), 2 usage error (bad option, bad value: the invocation itself
 * is wrong, so running it again unchanged cannot help).
 *
 * This works on the store directly: a user removed or disabled here keeps
 * any open session on a running server until it signs in again.
 */
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isImpError } from '../errors.js';
import type { Store, UserRecord } from '../store/types.js';
import { createUser, listUsers, MAX_PAGE_LIMIT, prepUserId, removeUser, updateUser } from './users-service.js';

export interface CommandOutput { log(s: string): void; error(s: string): void }

export const USER_HELP = `Usage: imp user <command> [options]

Commands:
  add <userId> --password P [fields] [flags]   create a user
  set <userId> [--password P] [fields] [flags] change a user (omitted options keep their value)
  remove <userId>                              remove a user, its credentials and offline messages
  list [--offset N] [--limit N] [--json]       list users ordered by userId (limit 1..${MAX_PAGE_LIMIT}, default 100)

Fields (an empty value, e.g. --email "", clears the field):
  --first-name S  --last-name S  --display-name S  --email ADDR  --telephone-number NUM

Flags:
  --im-presence / --no-im-presence       "Enable user for IM and Presence"
  --home-cluster / --no-home-cluster     the home cluster flag
  A user needs both to sign in. 'add' turns BOTH ON unless told otherwise
  (a user added from the shell is meant to sign in; the HTTP API defaults
  them to off).

Password:
  --password P        visible to other local users in the process list; prefer:
  --password-stdin    read the password from the first line of stdin

userId is a JID localpart and is stored lower-cased (Alice is alice).
Exit codes: 0 ok, 1 operational error, 2 usage error.`;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

const TEXT_FIELDS = {
  'first-name': 'firstName',
  'last-name': 'lastName',
  'display-name': 'displayName',
  email: 'email',
  'telephone-number': 'telephoneNumber',
} as const;

const FLAGS = { 'im-presence': 'imPresenceEnabled', 'home-cluster': 'homeCluster' } as const;

/** How a service field is spelled on the command line, so errors name what the user typed. */
const OPTION_OF_FIELD: Record<string, string> = {
  password: '--password',
  offset: '--offset',
  limit: '--limit',
  ...Object.fromEntries(Object.entries(TEXT_FIELDS).map(([opt, f]) => [f, `--${opt}`])),
  ...Object.fromEntries(Object.entries(FLAGS).map(([opt, f]) => [f, `--${opt}`])),
};

const HELP_OPT: Options = { help: { type: 'boolean', short: 'h' } };
const USER_OPTS: Options = {
  ...HELP_OPT,
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  ...Object.fromEntries(Object.keys(TEXT_FIELDS).map((o) => [o, { type: 'string' }])),
  ...Object.fromEntries(Object.keys(FLAGS).flatMap((o) => [[o, { type: 'boolean' }], [`no-${o}`, { type: 'boolean' }]])),
};
const LIST_OPTS: Options = { ...HELP_OPT, offset: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } };

function parse(args: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: values as Values, positionals };
  } catch (err) {
    // Node's messages name the option but go on about '--'; the first sentence is the useful part.
    const msg = err instanceof Error ? err.message : String(err);
    throw new UsageError(msg.split(/\. (?=[A-Z])/)[0] ?? msg);
  }
}

function oneUserId(positionals: string[], cmd: string): string {
  const [userId, extra] = positionals;
  if (userId === undefined) throw new UsageError(`${cmd}: <userId> is required`);
  if (extra !== undefined) throw new UsageError(`${cmd}: unexpected argument '${extra}'`);
  return userId;
}

function noPositionals(positionals: string[], cmd: string): void {
  if (positionals[0] !== undefined) throw new UsageError(`${cmd}: unexpected argument '${positionals[0]}'`);
}

async function readLine(input: NodeJS.ReadableStream): Promise<string | null> {
  const rl = createInterface({ input, terminal: false });
  try {
    for await (const line of rl) return line;
    return null;
  } finally {
    rl.close();
  }
}

async function passwordOf(values: Values, stdin: NodeJS.ReadableStream): Promise<string | undefined> {
  const given = values.password as string | undefined;
  if (!values['password-stdin']) return given;
  if (given !== undefined) throw new UsageError('--password and --password-stdin: give only one');
  const line = await readLine(stdin);
  if (line === null) throw new UsageError('--password-stdin: nothing on stdin');
  return line;
}

/** The fields the options set; a flag pair given both ways is a contradiction, not "last wins". */
function fieldsOf(values: Values, flagDefault: boolean | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [opt, field] of Object.entries(TEXT_FIELDS)) if (values[opt] !== undefined) fields[field] = values[opt];
  for (const [opt, field] of Object.entries(FLAGS)) {
    if (values[opt] && values[`no-${opt}`]) throw new UsageError(`--${opt} and --no-${opt}: give only one`);
    const v = values[opt] ? true : values[`no-${opt}`] ? false : flagDefault;
    if (v !== undefined) fields[field] = v;
  }
  return fields;
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');
const summary = (u: UserRecord): string => `${u.userId} (IM&P ${onOff(u.imPresenceEnabled)}, home cluster ${onOff(u.homeCluster)})`;

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

type Io = { stdin: NodeJS.ReadableStream };

const COMMANDS: Record<string, (args: string[], store: Store, out: CommandOutput, io: Io) => Promise<number>> = {
  async add(args, store, out, io) {
    const { values, positionals } = parse(args, USER_OPTS);
    if (values.help) { out.log(USER_HELP); return 0; }
    const userId = oneUserId(positionals, 'add');
    const password = await passwordOf(values, io.stdin);
    if (password === undefined) throw new UsageError('add: --password or --password-stdin is required');
    const user = await createUser(store, { userId, password, ...fieldsOf(values, true) });
    out.log(`added ${summary(user)}`);
    return 0;
  },

  async set(args, store, out, io) {
    const { values, positionals } = parse(args, USER_OPTS);
    if (values.help) { out.log(USER_HELP); return 0; }
    const userId = oneUserId(positionals, 'set');
    const password = await passwordOf(values, io.stdin);
    const patch = { ...fieldsOf(values, undefined), ...(password === undefined ? {} : { password }) };
    if (Object.keys(patch).length === 0) throw new UsageError('set: nothing to change; give at least one option');
    const user = await updateUser(store, userId, patch);
    out.log(`updated ${summary(user)}`);
    return 0;
  },

  async remove(args, store, out) {
    const { values, positionals } = parse(args, HELP_OPT);
    if (values.help) { out.log(USER_HELP); return 0; }
    const userId = prepUserId(oneUserId(positionals, 'remove'));
    await removeUser(store, userId);
    out.log(`removed ${userId}`);
    return 0;
  },

  async list(args, store, out) {
    const { values, positionals } = parse(args, LIST_OPTS);
    if (values.help) { out.log(USER_HELP); return 0; }
    noPositionals(positionals, 'list');
    const page = await listUsers(store, values.offset, values.limit);
    if (values.json) { out.log(JSON.stringify(page, null, 2)); return 0; }
    if (page.users.length === 0) {
      out.log(page.total === 0 ? 'no users' : `no users at offset ${page.offset} (${page.total} in all)`);
      return 0;
    }
    const rows = [['USER ID', 'DISPLAY NAME', 'IM&P', 'HOME CLUSTER']];
    for (const u of page.users) rows.push([u.userId, u.displayName ?? '-', onOff(u.imPresenceEnabled), onOff(u.homeCluster)]);
    for (const line of table(rows)) out.log(line);
    const next = page.offset + page.users.length;
    out.log(`${page.offset + 1}-${next} of ${page.total}${next < page.total ? ` (more: --offset ${next})` : ''}`);
    return 0;
  },
};

/** `args` are the words after `imp user`. */
export async function runUserCommand(
  args: string[],
  store: Store,
  out: CommandOutput,
  io: Io = { stdin: process.stdin },
): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === undefined) { out.error(USER_HELP); return 2; }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') { out.log(USER_HELP); return 0; }
  const run = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!run) {
    out.error(`imp user: unknown command '${cmd}' (add, set, remove, list)\nRun 'imp user --help' for usage.`);
    return 2;
  }
  try {
    return await run(rest, store, out, io);
  } catch (err) {
    if (err instanceof UsageError) {
      out.error(`imp user ${cmd}: ${err.message}\nRun 'imp user --help' for usage.`);
      return 2;
    }
    if (isImpError(err, 'IMP_VALIDATION')) {
      const opt = err.field === undefined ? undefined : OPTION_OF_FIELD[err.field];
      out.error(`imp user ${cmd}: ${opt && err.field ? err.message.replace(`${err.field}:`, `${opt}:`) : err.message}`);
      return 2;
    }
    out.error(`imp user ${cmd}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
