import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { isImpError } from '../../src/errors.js';

describe('configuration', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'imp-config-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented defaults: embedded store, loopback admin API', () => {
    const { config } = loadConfig([], {});
    assert.equal(config.domain, 'localhost');
    assert.equal(config.xmppPort, 5222);
    assert.equal(config.xmppsPort, 5223);
    assert.equal(config.httpPort, 8080);
    assert.equal(config.httpHost, '127.0.0.1');
    assert.equal(config.store, 'embedded');
    assert.equal(config.dataDir, './imp-data');
    assert.equal(config.allowPlaintext, false);
    assert.equal(config.maxStanzaSize, 262144);
  });

  it('takes flags over environment over file', () => {
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, 'domain: file.example\nxmppPort: 1111\nhttp-port: 2222\nallow-plaintext: true\n');
    const { config } = loadConfig(['--config', file, '--xmpp-port', '3333'], { IMP_HTTP_PORT: '4444', IMP_DOMAIN: 'env.example' });
    assert.equal(config.xmppPort, 3333);
    assert.equal(config.httpPort, 4444);
    assert.equal(config.domain, 'env.example');
    assert.equal(config.allowPlaintext, true);
  });

  it('prepares the domain as JIDs are prepared', () => {
    assert.equal(loadConfig(['--domain', 'Example.COM.'], {}).config.domain, 'example.com');
  });

  it('reads JSON files and picks the redis store with a URL', () => {
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ 'redis-url': 'redis://127.0.0.1:6379', nodeId: 'n-2' }));
    const { config } = loadConfig(['--config', file], {});
    assert.equal(config.store, 'redis');
    assert.equal(config.nodeId, 'n-2');
  });

  it('names what is wrong', () => {
    const bad: Array<[string[], NodeJS.ProcessEnv, string, RegExp]> = [
      [['--nope'], {}, '', /nope/],
      [['--xmpp-port', '-1'], {}, 'xmpp-port', /--xmpp-port/],
      [['--redis-url', 'http://x'], {}, 'redis-url', /redis:\/\//],
      [['--store', 'redis'], {}, 'redis-url', /--store redis needs --redis-url/],
      [['--tls-key', 'k.pem'], {}, 'tls-cert', /go together/],
      [['--node-id', 'has space'], {}, 'node-id', /--node-id/],
      [['--domain', 'a b/c@d'], {}, 'domain', /--domain/],
      [[], { IMP_LOG_LEVEL: 'loud' }, 'log-level', /IMP_LOG_LEVEL/],
      [['--config', '/nonexistent/imp.yaml'], {}, 'config', /cannot read config file/],
    ];
    for (const [args, env, field, re] of bad) {
      assert.throws(() => loadConfig(args, env), (e: unknown) => {
        assert.ok(isImpError(e, 'IMP_CONFIG_INVALID'));
        if (field) assert.equal(e.field, field);
        assert.match(e.message, re);
        return true;
      }, JSON.stringify(args));
    }
    const f = path.join(dir, 'list.yaml');
    writeFileSync(f, '- a\n- b\n');
    assert.throws(() => loadConfig(['--config', f], {}), /must hold a mapping/);
    const g = path.join(dir, 'broken.json');
    writeFileSync(g, '{ nope');
    assert.throws(() => loadConfig(['--config', g], {}), /not valid JSON/);
  });
});
