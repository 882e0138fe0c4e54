#!/usr/bin/env node
// Entry point of the `imp` command: run the compiled CLI (`npm run build` first).
import { main } from '../dist/src/cli.js';

// Exit explicitly: a half-started node may hold handles that would keep the process alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (err) => { console.error(`imp: ${err instanceof Error ? err.message : String(err)}`); process.exit(1); },
);
