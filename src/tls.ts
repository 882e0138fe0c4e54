/**
 * The node's TLS identity: the configured certificate and key, or a
 * self-signed certificate for the domain, generated at start and kept in the
 * data folder (so clients that pinned it keep trusting it across restarts).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { ImpError } from './errors.js';

export interface TlsIdentity { cert: string; key: string; context: tls.SecureContext; selfSigned: boolean }

export async function loadTlsIdentity(opts: { domain: string; certFile?: string; keyFile?: string; dataDir?: string }): Promise<TlsIdentity> {
  if (opts.certFile && opts.keyFile) {
    let cert: string; let key: string;
    try { cert = readFileSync(opts.certFile, 'utf8'); } catch (e) { throw tlsError('tls-cert', `cannot read --tls-cert ${opts.certFile}: ${(e as Error).message}`); }
    try { key = readFileSync(opts.keyFile, 'utf8'); } catch (e) { throw tlsError('tls-key', `cannot read --tls-key ${opts.keyFile}: ${(e as Error).message}`); }
    return { cert, key, context: makeContext(cert, key), selfSigned: false };
  }
  const dir = opts.dataDir ? path.join(opts.dataDir, 'tls') : undefined;
  const certPath = dir ? path.join(dir, `${opts.domain}.crt`) : undefined;
  const keyPath = dir ? path.join(dir, `${opts.domain}.key`) : undefined;
  if (certPath && keyPath && existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    if (new Date(new X509Certificate(cert).validTo).getTime() > Date.now() + 86400_000) {
      return { cert, key, context: makeContext(cert, key), selfSigned: true };
    }
  }
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: opts.domain }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 3600_000),
    notAfterDate: new Date(now.getTime() + 825 * 86400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: opts.domain }] },
    ],
  });
  if (dir && certPath && keyPath) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(keyPath, pems.private, { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    writeFileSync(certPath, pems.cert);
  }
  return { cert: pems.cert, key: pems.private, context: makeContext(pems.cert, pems.private), selfSigned: true };
}

function makeContext(cert: string, key: string): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (e) {
    throw tlsError('tls-cert', `the TLS certificate and key do not form a usable pair: ${(e as Error).message}`);
  }
}

function tlsError(field: string, message: string): ImpError {
  return new ImpError('IMP_CONFIG_INVALID', message, { field });
}
