/**
 * The `imp` command line: `imp serve` starts a node; `imp user ...`
 * provisions users in the same store the node uses, running or not.
 */
import os from 'node:os';
import { runUserCommand } from './admin/user-command.js';
import { ImpError, isImpError } from './errors.js';
import { loadConfig, optionsHelp } from './config.js';
import { startNode, storeOptions, VERSION } from './main.js';
import { openStore } from './store/open.js';

const HELP = `imp ${VERSION} — enterprise IM & Presence server

Usage:
  imp serve [options]          start a node (imp serve --help lists the options)
  imp user <add|set|remove|list> ...   provision users (imp user --help)
  imp --version

Store options (for serve and user): --config FILE, --store, --redis-url, --redis-prefix, --data-dir
`;

/** Flags that say where the store is; `imp user` takes them besides its own. */
const STORE_FLAGS = new Set(['--config', '--store', '--redis-url', '--redis-prefix', '--data-dir']);

function defaultNodeId(): string {
  return os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'node1';
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': return serve(rest);
    case 'user': return user(rest);
    case '--version': case '-v': process.stdout.write(`${VERSION}\n`); return 0;
    case undefined: case 'help': case '--help': case '-h': process.stdout.write(HELP); return cmd === undefined ? 2 : 0;
    default: process.stderr.write(`imp: unknown command "${cmd}"\n\n${HELP}`); return 2;
  }
}

async function serve(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: imp serve [options]\n\n${optionsHelp()}\n`);
    return 0;
  }
  let parsed;
  try { parsed = loadConfig(args, process.env, defaultNodeId()); } catch (e) { return fatal(e, 2); }
  if (parsed.positionals.length) return fatal(new ImpError('IMP_CONFIG_INVALID', `unexpected argument "${parsed.positionals[0]}"`), 2);
  let node;
  try {
    node = await startNode(parsed.config, {
      onTokenGenerated: (t) => process.stdout.write(`\nAdmin API bearer token (shown once; kept in ${parsed.config.store === 'memory' ? 'memory only' : parsed.config.dataDir + '/admin-token'}):\n  ${t}\n\n`),
    });
  } catch (e) { return fatal(e, 1); }
  const n = node;
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      n.log.info({ signal: sig }, 'shutting down');
      void n.close().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

async function user(args: string[]): Promise<number> {
  const storeArgs: string[] = [];
  const own: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const flag = a.split('=')[0];
    if (STORE_FLAGS.has(flag)) {
      storeArgs.push(a);
      if (!a.includes('=') && i + 1 < args.length) storeArgs.push(args[++i]);
    } else own.push(a);
  }
  const out = { log: (s: string) => process.stdout.write(s + '\n'), error: (s: string) => process.stderr.write(s + '\n') };
  if (own.length === 0 || own[0] === '--help' || own[0] === '-h') return runUserCommand(own, null as never, out);
  let store;
  try {
    const { config } = loadConfig(storeArgs, process.env);
    if (config.store === 'memory') throw new ImpError('IMP_CONFIG_INVALID', '--store memory keeps nothing: imp user needs the store the node uses (embedded or redis)', { field: 'store' });
    store = await openStore(storeOptions(config));
  } catch (e) { return fatal(e, isImpError(e, 'IMP_CONFIG_INVALID') ? 2 : 1); }
  try {
    return await runUserCommand(own, store, out);
  } finally {
    await store.close();
  }
}

function fatal(e: unknown, code: number): number {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`imp: ${msg}\n`);
  return code;
}
