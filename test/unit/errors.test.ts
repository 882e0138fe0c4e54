import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, ImpError, isImpError, storeUnavailable } from '../../src/errors.js';

describe('the error registry', () => {
  it('lists in docs/errors.md exactly the codes of src/errors.ts, with the same HTTP status', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(IMP_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])] as const);
    const documented = new Map(rows);
    assert.equal(documented.size, rows.length, 'no code documented twice');
    assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CODES).sort());
    for (const [code, status] of documented) assert.equal(status, ERROR_CODES[code as keyof typeof ERROR_CODES].http, code);
  });

  it('carries the code, the field and the cause', () => {
    const cause = new Error('ECONNREFUSED');
    const e = storeUnavailable(cause);
    assert.ok(isImpError(e, 'IMP_STORE_UNAVAILABLE'));
    assert.equal(isImpError(e, 'IMP_INTERNAL'), false);
    assert.match(e.message, /ECONNREFUSED/);
    assert.equal(e.cause, cause);
    const v = new ImpError('IMP_VALIDATION', 'email: not an address', { field: 'email' });
    assert.equal(v.field, 'email');
    assert.equal(isImpError(new Error('x')), false);
  });
});
