/** Command-line options of the presence benchmark (`node dist/bench/presence/run.js --help`). */
import { parseArgs } from 'node:util';

export type ServerKind = 'imp' | 'prosody';

export interface PresenceOptions {
  users: number;
  ks: number[];
  servers: ServerKind[];
  /** Offered presence deliveries per second, step by step (changes/s = deliveries/s ÷ K). */
  steps: number[];
  stepSeconds: number;
  p99LimitMs: number;
  /** After the first confirmed failure on latency alone, steps go on while p99 ≤ this and nothing is lost… */
  softP99LimitMs: number;
  /** …for at most this many steps. */
  pastLimit: number;
  drainMs: number;
  concurrency: number;
  /** Before each measured phase, wait at most this long for other processes to use under 15 % of a core. */
  quietWaitMs: number;
  /** Profile imp (node --cpu-prof) in an extra run at the largest K, one step at the best passing rate. */
  profile: boolean;
  /** Take a heap snapshot of the imp node after the sign-in and list what it holds (keep N to a few thousand). */
  heapSnapshot: boolean;
  quick: boolean;
  results: string | null;
  maxMinutes: number;
  /** Re-render the results file from a raw results JSON of an earlier run, running nothing. */
  fromJson: string | null;
}

const HELP = `Usage: node dist/bench/presence/run.js [options]   (npm run build first)

  --users N          users, all signed in at once (default 15000; --quick 2000)
  --k LIST           mutual contacts per user, even numbers (default 20,100; --quick 20)
  --servers LIST     imp,prosody (default both; --quick imp)
  --steps LIST       offered deliveries/s per step (default 2500,5000,10000,20000,30000,40000,
                     50000,60000,75000,90000,110000); changes/s = deliveries/s / K
  --step-seconds S   length of one presence-change step (default 5; --quick 2)
  --p99-limit MS     p99 latency a step must keep (default 100)
  --past-limit N     after the first confirmed failure on latency alone, up to N higher steps more
                     while p99 stays under 2 s and nothing is lost, for CPU at equal rates (default 3)
  --drain-seconds S  how long stragglers are awaited after a step before they count as lost (default 3)
  --concurrency N    sign-ins in flight (default 200)
  --quiet-wait S     before each measured phase, wait up to S seconds while other processes use more
                     than 15 % of a core; a step they disturbed (> 25 %) is measured again, twice at
                     most (default 120; --quick 10)
  --no-profile       skip the CPU-profiled imp run
  --heap-snapshot    heap snapshot of the imp node after the sign-in, summed by kind of object
                     (snapshots of big heaps are slow and large: use with a few thousand users)
  --quick            a 1-2 minute smoke run (N=2000, K=20, short steps, imp only); no results file
  --results FILE     markdown results (default bench/presence/RESULTS.md; none with --quick)
  --no-results       write no results file
  --max-minutes M    abort (and clean up) after M minutes (default 60)
  --from-json FILE   run nothing: rewrite the results file from the raw results an earlier run
                     saved beside it (RESULTS.json)
`;

const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

function int(name: string, s: string, min: number, max: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(s)}`);
  return n;
}

export function parseOptions(argv: string[], defaultResults: string): PresenceOptions | null {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      'users': { type: 'string' }, 'k': { type: 'string' }, 'servers': { type: 'string' }, 'steps': { type: 'string' },
      'step-seconds': { type: 'string' }, 'p99-limit': { type: 'string' }, 'drain-seconds': { type: 'string' },
      'concurrency': { type: 'string' }, 'past-limit': { type: 'string' }, 'quiet-wait': { type: 'string' }, 'no-profile': { type: 'boolean' }, 'heap-snapshot': { type: 'boolean' }, 'quick': { type: 'boolean' },
      'results': { type: 'string' }, 'no-results': { type: 'boolean' }, 'max-minutes': { type: 'string' },
      'from-json': { type: 'string' }, 'help': { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(HELP); return null; }
  const quick = v.quick === true;
  const ks = (v.k === undefined ? (quick ? ['20'] : ['20', '100']) : list(v.k)).map((s) => int('k', s, 2, 1000));
  for (const k of ks) if (k % 2) throw new Error(`--k: ${k} is odd (each user has K/2 contacts on either side of a ring)`);
  const servers = list(v.servers ?? (quick ? 'imp' : 'imp,prosody'));
  for (const s of servers) if (s !== 'imp' && s !== 'prosody') throw new Error(`--servers: imp or prosody, not "${s}"`);
  const users = v.users === undefined ? (quick ? 2000 : 15000) : int('users', v.users, 4, 18000);
  if (ks.some((k) => k >= users)) throw new Error(`--k must be below --users (${users})`);
  const steps = v.steps === undefined
    ? (quick ? [2000, 5000, 10000, 20000, 40000, 60000] : [2500, 5000, 10000, 20000, 30000, 40000, 50000, 60000, 75000, 90000, 110000])
    : list(v.steps).map((s) => int('steps', s, 1, 10_000_000));
  return {
    users, ks, servers: servers as ServerKind[], steps,
    stepSeconds: v['step-seconds'] === undefined ? (quick ? 2 : 5) : int('step-seconds', v['step-seconds'], 1, 120),
    p99LimitMs: v['p99-limit'] === undefined ? 100 : int('p99-limit', v['p99-limit'], 1, 60000),
    softP99LimitMs: 2000,
    pastLimit: v['past-limit'] === undefined ? (quick ? 0 : 3) : int('past-limit', v['past-limit'], 0, 20),
    drainMs: 1000 * (v['drain-seconds'] === undefined ? 3 : int('drain-seconds', v['drain-seconds'], 1, 120)),
    concurrency: v.concurrency === undefined ? 200 : int('concurrency', v.concurrency, 1, 5000),
    quietWaitMs: 1000 * (v['quiet-wait'] === undefined ? (quick ? 10 : 120) : int('quiet-wait', v['quiet-wait'], 0, 3600)),
    profile: v['no-profile'] !== true,
    heapSnapshot: v['heap-snapshot'] === true,
    quick,
    results: v['no-results'] ? null : v.results ?? (quick ? null : defaultResults),
    maxMinutes: v['max-minutes'] === undefined ? 60 : int('max-minutes', v['max-minutes'], 1, 240),
    fromJson: v['from-json'] ?? null,
  };
}
