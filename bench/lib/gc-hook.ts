/**
 * Preloaded into the server process by the benchmark only (node --expose-gc
 * --import .../gc-hook.js bin/imp.js serve): on SIGUSR2, run a full garbage
 * collection and write process.memoryUsage() as JSON to $BENCH_MEMORY_FILE,
 * so that memory read before and after the users sign in compares live
 * objects rather than whatever garbage V8 has not collected yet.
 */
import { writeFileSync } from 'node:fs';

const gc = (globalThis as { gc?: () => void }).gc;
const file = process.env.BENCH_MEMORY_FILE;
process.on('SIGUSR2', () => {
  gc?.();
  if (file) writeFileSync(file, JSON.stringify(process.memoryUsage()));
});
