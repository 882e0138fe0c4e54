/** `imp user ...` against a MemoryStore: what an operator types, what they read, the exit code. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { runUserCommand } from '../../src/admin/user-command.js';
import { MemoryStore } from '../../src/store/memory.js';

interface Run { code: number; out: string; err: string }

describe('imp user', function () {
  let store: MemoryStore;
  beforeEach(function () { store = new MemoryStore(); });

  async function imp(args: string[], stdin = ''): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runUserCommand(args, store, { log: (s) => out.push(s), error: (s) => err.push(s) }, { stdin: Readable.from([stdin]) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async function ok(args: string[], stdin?: string): Promise<Run> {
    const r = await imp(args, stdin);
    assert.equal(r.code, 0, r.err);
    return r;
  }

  async function usage(args: string[], mentions: string | RegExp): Promise<void> {
    const r = await imp(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
    if (typeof mentions === 'string') assert.ok(r.err.includes(mentions), `${args.join(' ')}: expected '${mentions}' in: ${r.err}`);
    else assert.match(r.err, mentions);
  }

  describe('add', function () {
    it('creates a user that may sign in: both flags on by default', async function () {
      const r = await ok(['add', 'Alice', '--password', 'pw-1', '--display-name', 'Alice L.', '--email', 'alice@example.com',
        '--first-name', 'Alice', '--last-name', 'Liddell', '--telephone-number', '+1 555 0100']);
      assert.match(r.out, /added alice \(IM&P on, home cluster on\)/);
      const u = await store.users.get('alice');
      assert.equal(u?.imPresenceEnabled, true);
      assert.equal(u?.homeCluster, true);
      assert.equal(u?.displayName, 'Alice L.');
      assert.equal(u?.telephoneNumber, '+1 555 0100');
      assert.ok((await store.users.getCredentials('alice'))?.['SHA-256']);
    });

    it('--no-im-presence and --no-home-cluster turn the defaults off', async function () {
      await ok(['add', 'bob', '--password', 'pw', '--no-im-presence']);
      await ok(['add', 'carol', '--password', 'pw', '--no-home-cluster']);
      assert.equal((await store.users.get('bob'))?.imPresenceEnabled, false);
      assert.equal((await store.users.get('bob'))?.homeCluster, true);
      assert.equal((await store.users.get('carol'))?.homeCluster, false);
    });

    it('reads the password from the first line of stdin with --password-stdin', async function () {
      await ok(['add', 'dave', '--password-stdin'], 's3cret from a pipe\nsecond line\n');
      assert.ok(await store.users.getCredentials('dave'));
      await usage(['add', 'erin', '--password-stdin'], '--password-stdin');
      await usage(['add', 'erin', '--password', 'x', '--password-stdin'], '--password-stdin');
    });

    it('names the bad option or field and exits 2', async function () {
      await usage(['add', 'alice'], '--password');
      await usage(['add', '--password', 'pw'], '<userId>');
      await usage(['add', 'alice', 'bob', '--password', 'pw'], "'bob'");
      await usage(['add', 'alice', '--password', 'pw', '--colour', 'blue'], '--colour');
      await usage(['add', 'alice', '--password', 'pw', '--json'], '--json');
      await usage(['add', 'alice', '--password', 'pw', '--email', 'nope'], '--email: not a valid email address');
      await usage(['add', 'alice', '--password', 'pw', '--telephone-number', 'call me'], '--telephone-number:');
      await usage(['add', 'alice', '--password', ''], '--password:');
      await usage(['add', 'alice', '--password', 'pw', '--im-presence', '--no-im-presence'], '--im-presence and --no-im-presence');
      await usage(['add', 'a@b', '--password', 'pw'], 'userId:');
      await usage(['add', 'alice', '--email'], '--email');
      assert.equal((await store.users.list(0, 10)).total, 0, 'nothing was created');
    });

    it('exits 1 when the user exists', async function () {
      await ok(['add', 'alice', '--password', 'pw']);
      const r = await imp(['add', 'ALICE', '--password', 'pw']);
      assert.equal(r.code, 1);
      assert.match(r.err, /alice already exists/);
    });
  });

  describe('set', function () {
    beforeEach(async function () { await ok(['add', 'alice', '--password', 'pw', '--email', 'alice@example.com']); });

    it('changes only what is given', async function () {
      const before = await store.users.getCredentials('alice');
      const r = await ok(['set', 'Alice', '--no-home-cluster', '--display-name', 'Al']);
      assert.match(r.out, /updated alice \(IM&P on, home cluster off\)/);
      const u = await store.users.get('alice');
      assert.equal(u?.homeCluster, false);
      assert.equal(u?.imPresenceEnabled, true);
      assert.equal(u?.displayName, 'Al');
      assert.equal(u?.email, 'alice@example.com');
      assert.deepEqual(await store.users.getCredentials('alice'), before, 'password untouched');
    });

    it('clears a field given as "" and replaces the password', async function () {
      const before = await store.users.getCredentials('alice');
      await ok(['set', 'alice', '--email', '', '--password', 'new-pw']);
      assert.equal((await store.users.get('alice'))?.email, null);
      assert.notDeepEqual(await store.users.getCredentials('alice'), before);
    });

    it('exits 2 with nothing to change or a bad value, 1 for an unknown user', async function () {
      await usage(['set', 'alice'], 'nothing to change');
      await usage(['set', 'alice', '--email', 'x@'], '--email:');
      await usage(['set', 'alice', '--offset', '3'], '--offset');
      const r = await imp(['set', 'ghost', '--im-presence']);
      assert.equal(r.code, 1);
      assert.match(r.err, /ghost/);
      assert.equal((await store.users.get('alice'))?.email, 'alice@example.com');
    });
  });

  describe('remove', function () {
    it('removes a user and exits 1 for one that does not exist', async function () {
      await ok(['add', 'alice', '--password', 'pw']);
      assert.match((await ok(['remove', 'ALICE'])).out, /removed alice/);
      assert.equal(await store.users.get('alice'), null);
      const r = await imp(['remove', 'alice']);
      assert.equal(r.code, 1);
      assert.match(r.err, /no user alice/);
      await usage(['remove'], '<userId>');
      await usage(['remove', 'alice', '--password', 'x'], '--password');
    });
  });

  describe('list', function () {
    it('prints a table of userId, display name, IM&P and home cluster', async function () {
      await ok(['add', 'bob', '--password', 'pw', '--display-name', 'Bob B.', '--no-home-cluster']);
      await ok(['add', 'alice', '--password', 'pw']);
      const lines = (await ok(['list'])).out.split('\n');
      assert.match(lines[0]!, /^USER ID\s+DISPLAY NAME\s+IM&P\s+HOME CLUSTER$/);
      assert.match(lines[1]!, /^alice\s+-\s+on\s+on$/);
      assert.match(lines[2]!, /^bob\s+Bob B\.\s+on\s+off$/);
      assert.equal(lines[3], '1-2 of 2');
    });

    it('pages with --offset/--limit and prints JSON with --json', async function () {
      for (const id of ['a1', 'a2', 'a3']) await ok(['add', id, '--password', 'pw']);
      const r = await ok(['list', '--limit', '2']);
      assert.match(r.out, /1-2 of 3 \(more: --offset 2\)/);
      const page = JSON.parse((await ok(['list', '--offset', '2', '--json'])).out) as { users: Array<{ userId: string }>; total: number; offset: number };
      assert.deepEqual(page.users.map((u) => u.userId), ['a3']);
      assert.equal(page.total, 3);
      assert.doesNotMatch(JSON.stringify(page), /password|salt|storedKey|serverKey/i);
      assert.match((await ok(['list', '--offset', '9'])).out, /no users at offset 9 \(3 in all\)/);
    });

    it('says so when there are no users, and names a bad --limit/--offset', async function () {
      assert.equal((await ok(['list'])).out, 'no users');
      await usage(['list', '--limit', '0'], '--limit: must be a whole number from 1 to 1000');
      await usage(['list', '--limit', 'ten'], '--limit:');
      await usage(['list', '--offset', '-1'], '--offset');
      await usage(['list', 'extra'], "'extra'");
    });
  });

  describe('the command itself', function () {
    it('--help explains the commands and that add turns both flags on', async function () {
      for (const args of [['--help'], ['-h'], ['help'], ['add', '--help']]) {
        const r = await ok(args);
        assert.match(r.out, /Usage: imp user/);
        assert.match(r.out, /'add' turns BOTH ON/);
      }
    });

    it('exits 2 with no command or an unknown one', async function () {
      const none = await imp([]);
      assert.equal(none.code, 2);
      assert.match(none.err, /Usage: imp user/);
      await usage(['rename', 'alice'], "unknown command 'rename'");
      await usage(['constructor'], "unknown command 'constructor'");
    });

    it('exits 1 when the store is unavailable', async function () {
      await store.close();
      for (const args of [['list'], ['add', 'alice', '--password', 'pw'], ['remove', 'alice']]) {
        const r = await imp(args);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.err, /unavailable/);
      }
    });
  });
});
