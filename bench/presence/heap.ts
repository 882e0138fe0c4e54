/**
 * What a V8 heap snapshot (node --heapsnapshot-signal) holds, summed by kind
 * of object: self size and count per constructor name (objects, closures)
 * or per node type (strings, arrays, code, …). Used to say where an imp
 * node's memory per signed-in user goes; snapshots of large heaps exceed
 * what JSON.parse can take, so it is run on a node with a few thousand users.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapEntry { what: string; count: number; bytes: number }

export function summariseHeap(file: string, top = 20): { total: number; entries: HeapEntry[] } {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const by = new Map<string, HeapEntry>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    const size = s.nodes[i + iSize]!;
    total += size;
    const what = type === 'object' || type === 'closure' || type === 'native'
      ? `${type === 'closure' ? 'closure ' : type === 'native' ? 'native ' : ''}${s.strings[s.nodes[i + iName]!]!.slice(0, 60)}`
      : `(${type})`;
    let e = by.get(what);
    if (!e) by.set(what, e = { what, count: 0, bytes: 0 });
    e.count++;
    e.bytes += size;
  }
  return { total, entries: [...by.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top) };
}
