/**
 * Configuration of `imp serve` and of the CLI subcommands that open the store.
 *
 * Every option can be given three ways, strongest first: a command-line flag
 * (`--xmpp-port 5222`), an environment variable (`IMP_XMPP_PORT=5222`), and a
 * key of the config file named by `--config` (JSON or YAML; keys as the flag,
 * `xmpp-port`, or camelCase, `xmppPort`). Anything unknown or invalid stops
 * start-up with a message naming the option and where it came from.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ImpError } from './errors.js';
import { prepDomain } from './util/jid.js';

const port = z.coerce.number().int().min(0).max(65535);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((s) => ['true', '1', 'yes'].includes(s))]);
const positive = z.coerce.number().int().positive();

/** The options: flag name → schema, default and help. One table for flags, env and file. */
const OPTIONS = {
  'domain': { schema: z.string().transform((s, ctx) => {
    // The domain is compared with prepared JIDs everywhere: prepare it once here (RFC 7622 §3.2).
    try { return prepDomain(s); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); return z.NEVER; }
  }), def: 'localhost', help: 'the XMPP domain this node serves' },
  'xmpp-host': { schema: z.string().min(1), def: '0.0.0.0', help: 'address the XMPP listeners bind to' },
  'xmpp-port': { schema: port, def: 5222, help: 'XMPP client port (STARTTLS)' },
  'xmpps-port': { schema: port, def: 5223, help: 'XMPP direct-TLS port (XEP-0368)' },
  'http-host': { schema: z.string().min(1), def: '127.0.0.1', help: 'address the admin API binds to' },
  'http-port': { schema: port, def: 8080, help: 'admin HTTP API port' },
  'redis-url': { schema: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(), def: undefined, help: 'Redis URL; absent: the embedded store' },
  'redis-prefix': { schema: z.string().min(1).max(200), def: 'imp:', help: 'prefix of every Redis key' },
  'data-dir': { schema: z.string().min(1), def: './imp-data', help: 'folder of the embedded store and generated certificate' },
  'store': { schema: z.enum(['embedded', 'redis', 'memory']).optional(), def: undefined, help: 'memory: keep nothing on disk (tests); default: redis when --redis-url is set, else embedded' },
  'node-id': { schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (1-64)').optional(), def: undefined, help: 'this node\'s id (default: the host name)' },
  'tls-cert': { schema: z.string().min(1).optional(), def: undefined, help: 'PEM certificate file (absent: self-signed, generated)' },
  'tls-key': { schema: z.string().min(1).optional(), def: undefined, help: 'PEM private key file' },
  'allow-plaintext': { schema: bool, def: false, help: 'permit SASL without TLS (loopback benchmarks only)' },
  'log-level': { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), def: 'info', help: 'pino log level' },
  'admin-token': { schema: z.string().min(16, 'at least 16 characters').optional(), def: undefined, help: 'bearer token of the admin API (absent: generated once, kept in the data dir)' },
  'max-stanza-size': { schema: positive, def: 262144, help: 'largest stanza accepted, in bytes' },
  'idle-timeout': { schema: positive, def: 300, help: 'seconds of silence before the server pings a client' },
  'ping-timeout': { schema: positive, def: 30, help: 'seconds a client has to answer the server\'s ping' },
  'auth-timeout': { schema: positive, def: 60, help: 'seconds a connection may take to authenticate' },
  'max-auth-failures': { schema: positive, def: 5, help: 'failed SASL attempts before the connection is closed' },
  'offline-max': { schema: positive, def: 500, help: 'offline messages kept per user' },
  'max-contacts': { schema: positive, def: 200, help: 'largest contact list (roster) a user may have' },
  'max-watchers': { schema: positive, def: 200, help: 'most watchers (subscribers to their presence) a user may have' },
} as const;

type Options = typeof OPTIONS;
type OptionName = keyof Options;

export interface Config {
  domain: string;
  xmppHost: string;
  xmppPort: number;
  xmppsPort: number;
  httpHost: string;
  httpPort: number;
  redisUrl: string | undefined;
  redisPrefix: string;
  dataDir: string;
  store: 'embedded' | 'redis' | 'memory';
  nodeId: string;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  allowPlaintext: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  adminToken: string | undefined;
  maxStanzaSize: number;
  idleTimeout: number;
  pingTimeout: number;
  authTimeout: number;
  maxAuthFailures: number;
  offlineMax: number;
  maxContacts: number;
  maxWatchers: number;
}

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const envName = (flag: string): string => 'IMP_' + flag.toUpperCase().replace(/-/g, '_');

function configError(message: string, field?: string): ImpError {
  return new ImpError('IMP_CONFIG_INVALID', message, field ? { field } : {});
}

/** Reads a config file (JSON or YAML) into a flat object of option name → value. */
function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw configError(`cannot read config file ${file}: ${(e as Error).message}`, 'config');
  }
  let data: unknown;
  try { data = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text); } catch (e) {
    throw configError(`config file ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message}`, 'config');
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw configError(`config file ${file} must hold a mapping of option names to values`, 'config');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    const name = k.includes('-') ? k : kebab(k);
    if (!(name in OPTIONS)) throw configError(`unknown key "${k}" in config file ${file}`, k);
    out[name] = v;
  }
  return out;
}

export interface ParsedCommandLine { config: Config; positionals: string[] }

/**
 * Builds the configuration from flags, environment and config file.
 * `extraFlags` lets a subcommand accept flags of its own (they are returned unparsed in positionals).
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, defaultNodeId = 'node1'): ParsedCommandLine {
  const flagSpec: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' } };
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    flagSpec[name] = { type: name === 'allow-plaintext' ? 'boolean' : 'string' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: flagSpec, strict: true, allowPositionals: true });
  } catch (e) {
    const message = (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '');
    const flag = /'--([a-z-]+)/.exec(message)?.[1];
    throw configError(message, flag);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const configFile = (values.config as string | undefined) ?? env.IMP_CONFIG;
  const fromFile = configFile ? readConfigFile(configFile) : {};

  for (const key of Object.keys(env)) {
    if (key.startsWith('IMP_') && key !== 'IMP_CONFIG') {
      const name = key.slice(4).toLowerCase().replace(/_/g, '-');
      if (!(name in OPTIONS)) throw configError(`unknown environment variable ${key}`, key);
    }
  }

  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const opt = OPTIONS[name];
    let value: unknown; let source: string;
    if (values[name] !== undefined) { value = values[name]; source = `--${name}`; }
    else if (env[envName(name)] !== undefined) { value = env[envName(name)]; source = envName(name); }
    else if (fromFile[name] !== undefined) { value = fromFile[name]; source = `${name} in ${configFile}`; }
    else { value = opt.def; source = 'default'; }
    if (value === undefined) { raw[camel(name)] = undefined; continue; }
    const r = (opt.schema as z.ZodType).safeParse(value);
    if (!r.success) {
      const why = r.error.issues.map((i) => i.message).join('; ');
      throw configError(`invalid value for ${source}: ${JSON.stringify(value)} (${why})`, name);
    }
    raw[camel(name)] = r.data;
  }

  const cfg = raw as unknown as Omit<Config, 'store' | 'nodeId'> & { store?: Config['store']; nodeId?: string };
  const store = cfg.store ?? (cfg.redisUrl ? 'redis' : 'embedded');
  if (store === 'redis' && !cfg.redisUrl) throw configError('--store redis needs --redis-url', 'redis-url');
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined)) throw configError('--tls-cert and --tls-key go together: give both or neither', cfg.tlsCert ? 'tls-key' : 'tls-cert');
  return { config: { ...cfg, store, nodeId: cfg.nodeId ?? defaultNodeId }, positionals: parsed.positionals };
}

/** Help text for `imp serve --help`, built from the same table. */
export function optionsHelp(): string {
  const lines = ['  --config FILE            JSON or YAML file with any of the options below (env IMP_CONFIG)'];
  for (const [name, opt] of Object.entries(OPTIONS)) {
    const flag = `--${name}${name === 'allow-plaintext' ? '' : ' V'}`;
    const def = opt.def === undefined ? '' : ` [${String(opt.def)}]`;
    lines.push(`  ${flag.padEnd(24)} ${opt.help}${def} (env ${envName(name)})`);
  }
  return lines.join('\n');
}
