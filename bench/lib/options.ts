/** Command-line options of `npm run bench -- ...` (see bench/README.md). */
import { parseArgs } from 'node:util';
import type { StoreKind } from '../../src/store/types.js';

export type Mech = 'SCRAM-SHA-256' | 'PLAIN';

export interface BenchOptions {
  stores: StoreKind[];
  /** Users signed in over plain TCP and kept for the chat benchmark (even number). */
  users: number;
  /** Users signed in over STARTTLS. 0 skips the TLS run. */
  tlsUsers: number;
  /** Sign-ins in flight at once. */
  concurrency: number;
  mech: Mech;
  /** Offered chat rates, msgs/s, tried in order until one fails. Empty skips the chat benchmark. */
  steps: number[];
  stepSeconds: number;
  /** The latency limit a step must keep (p99, ms). */
  p99LimitMs: number;
  /** How long a step's stragglers are waited for before they count as lost. */
  drainSeconds: number;
  quick: boolean;
  /** Profile the server (node --cpu-prof) and print its top self-time functions during the chat steps. */
  cpuProf: boolean;
  /** Markdown file to write, or null. */
  results: string | null;
  /** Upper bound of the whole run; the run aborts (and cleans up) past it. */
  maxMinutes: number;
  /** Before each measured phase, wait at most this long for other processes to go quiet. */
  quietWaitSeconds: number;
  /** What server code is measured, for the results file (default: from git). */
  tree: string | null;
}

const HELP = `Usage: npm run bench -- [options]

  --stores LIST        memory,embedded,redis (default: all three)
  --users N            users signed in over plain TCP and paired for chat (default 2000; --quick 400)
  --tls-users N        users signed in over STARTTLS + SCRAM-SHA-256 (default 500; --quick 200; 0 skips)
  --concurrency N      sign-ins in flight (default 200)
  --mech M             SASL mechanism of the plain-TCP run: scram (SCRAM-SHA-256, default) or plain
  --steps LIST         offered chat rates in msgs/s (default 1000,2000,5000,7500,10000,15000,20000,30000;
                       --quick 1000,5000,20000)
  --step-seconds S     length of one chat step (default 5; --quick 2)
  --p99-limit MS       p99 latency a step must keep (default 100)
  --quick              a ~1-minute smoke run; writes no results file unless --results is given
  --cpu-prof           run the server under node --cpu-prof and print its hottest functions during the chat steps
  --results FILE       markdown results file (default bench/RESULTS.md for a full run)
  --no-results         write no results file
  --max-minutes M      abort the whole run after M minutes (default 20)
  --tree TEXT          describe the server code measured in the results (default: git commit and status)
  --quiet-wait S       before each measured phase, wait up to S seconds while other processes
                       use more than 15% of a core (default 120; 0 to not wait)
`;

function list(s: string): string[] { return s.split(',').map((x) => x.trim()).filter(Boolean); }

function int(name: string, s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(s)}`);
  return n;
}

/** Parses argv; returns null after printing help. Throws with a message naming the option on bad input. */
export function parseOptions(argv: string[], defaultResults: string): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'stores': { type: 'string' },
      'users': { type: 'string' },
      'tls-users': { type: 'string' },
      'concurrency': { type: 'string' },
      'mech': { type: 'string' },
      'steps': { type: 'string' },
      'step-seconds': { type: 'string' },
      'p99-limit': { type: 'string' },
      'quick': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'results': { type: 'string' },
      'no-results': { type: 'boolean' },
      'max-minutes': { type: 'string' },
      'quiet-wait': { type: 'string' },
      'tree': { type: 'string' },
      'help': { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return null;
  }
  const quick = values.quick === true;
  const stores = list(values.stores ?? 'memory,embedded,redis');
  for (const s of stores) if (!['memory', 'embedded', 'redis'].includes(s)) throw new Error(`--stores: unknown store "${s}" (memory, embedded, redis)`);
  const mechArg = (values.mech ?? 'scram').toLowerCase();
  if (!['scram', 'plain'].includes(mechArg)) throw new Error(`--mech: scram or plain, not "${values.mech}"`);
  const steps = values.steps === undefined ? (quick ? [1000, 5000, 20000] : [1000, 2000, 5000, 7500, 10000, 15000, 20000, 30000]) : list(values.steps).map((s) => int('steps', s, 1, 1_000_000)!);
  let users = int('users', values.users, 2, 15000) ?? (quick ? 400 : 2000);
  if (users % 2) users += 1;
  const results = values['no-results'] ? null : values.results ?? (quick ? null : defaultResults);
  return {
    stores: stores as StoreKind[],
    users,
    tlsUsers: int('tls-users', values['tls-users'], 0, 15000) ?? (quick ? 200 : 500),
    concurrency: int('concurrency', values.concurrency, 1, 5000) ?? 200,
    mech: mechArg === 'plain' ? 'PLAIN' : 'SCRAM-SHA-256',
    steps,
    stepSeconds: int('step-seconds', values['step-seconds'], 1, 120) ?? (quick ? 2 : 5),
    p99LimitMs: int('p99-limit', values['p99-limit'], 1, 60000) ?? 100,
    drainSeconds: 3,
    quick,
    cpuProf: values['cpu-prof'] === true,
    results,
    maxMinutes: int('max-minutes', values['max-minutes'], 1, 120) ?? 20,
    tree: values.tree ?? null,
    quietWaitSeconds: int('quiet-wait', values['quiet-wait'], 0, 3600) ?? (quick ? 10 : 120),
  };
}
