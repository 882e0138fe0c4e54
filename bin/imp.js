#!/usr/bin/env node
// Entry point of the `imp` command: run the compiled CLI (`npm run build` first).
import { main } from '../dist/src/cli.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`imp: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
