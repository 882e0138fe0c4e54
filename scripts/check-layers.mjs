#!/usr/bin/env node
// Keeps imports one-way: a module may import only from its own layer or lower
// ones (docs/architecture.md, "Layers"). Fails naming the offending import.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const LAYERS = [
  ['errors.ts', 'util'],
  ['store', 'bus'],
  ['roster'],
  ['presence-engine'],
  ['xmpp', 'sip', 'tls.ts'],
  ['admin'],
  ['ha'],
  ['main.ts', 'config.ts', 'cli.ts'],
];
const root = path.resolve('src');
const layerOf = (file) => {
  const top = path.relative(root, file).split(path.sep)[0];
  const i = LAYERS.findIndex((l) => l.includes(top));
  if (i < 0) throw new Error(`${file}: not in any layer of scripts/check-layers.mjs`);
  return i;
};
const walk = (dir) => readdirSync(dir).flatMap((n) => {
  const p = path.join(dir, n);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});
const bad = [];
for (const file of walk(root)) {
  const mine = layerOf(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
    const target = path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts');
    const theirs = layerOf(target);
    if (theirs > mine) bad.push(`${path.relative('.', file)} imports ${m[1]} (${LAYERS[theirs].join('/')} sits above ${LAYERS[mine].join('/')})`);
  }
}
if (bad.length) {
  console.error('import direction broken:\n  ' + bad.join('\n  '));
  process.exit(1);
}
console.log(`layers ok (${walk(root).length} files)`);
