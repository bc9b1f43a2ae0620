import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type GatewayConnections, connectGateways } from '../../src/gateway/remote/control.ts';
import { enrolGateway } from '../../src/gateway/remote/enrol.ts';
import { GatewayMaterial } from '../../src/gateway/remote/gateway-material.ts';
import { pkiSigner } from '../../src/gateway/remote/pki-signer.ts';
import { connectionOptions, parseRedisUrl } from '../../src/gateway/remote/transport.ts';
import { createLogger } from '../../src/log.ts';
import { Pki, PkiError } from '../../src/services/ovpn/pki.ts';
import { type RedisServer, startRedis } from '../kit/redis.ts';

const lines: string[] = [];
const log = createLogger('debug', (l) => lines.push(l), 'json');
let redis: RedisServer;
let bot: GatewayConnections;
let pki: Pki;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'connexa-enrol-'));
  pki = await Pki.open(join(tmp, 'bot-pki'));
  redis = await startRedis();
  bot = await connectGateways({ redisUrl: redis.url, log, onHeartbeat: () => {}, signCsr: pkiSigner(pki) });
});
afterAll(async () => {
  await bot?.close();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

it('a gateway enrols once: its CSR signed by the bot CA, the certificate verifies, kept private, recorded for revocation', async () => {
  const material = new GatewayMaterial({ dir: join(tmp, 'gw-data', 'ovpn') });
  const connection = connectionOptions(parseRedisUrl(redis.url));
  expect(await enrolGateway({ name: 'gw-e', connection, material, log })).toBe('enrolled');

  const f = material.files();
  for (const file of [f.ca, f.cert, f.key, f.tlsCrypt, f.crl]) expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(material.dir).mode & 0o777).toBe(0o700);

  const cert = new x509.X509Certificate(readFileSync(f.cert, 'utf8'));
  expect(cert.subject).toBe('CN=connexa-server');
  expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String)).toEqual([String(x509.ExtendedKeyUsage.serverAuth)]);
  expect(await cert.verify({ publicKey: new x509.X509Certificate(pki.caPem()) })).toBe(true);
  if (openssl) expect(execFileSync('openssl', ['verify', '-CAfile', f.ca, f.cert], { encoding: 'utf8' })).toContain(': OK');

  // Recorded as the gateway's, apart from the nodes' profiles (which the start-up sweep revokes when no node names them).
  const entry = pki.gatewayCerts().find((c) => c.gateway === 'gw-e')!;
  expect(entry.serial.toLowerCase()).toBe(cert.serialNumber.toLowerCase());
  expect(pki.certs().some((c) => c.serial === entry.serial)).toBe(false);

  // A valid certificate is kept: no second request.
  expect(await enrolGateway({ name: 'gw-e', connection, material, log })).toBe('kept');
  expect(pki.gatewayCerts().filter((c) => c.gateway === 'gw-e')).toHaveLength(1);

  // Revocable like a profile: the CRL names it.
  expect(await pki.revoke(entry.serial)).toBe(true);
  const crl = new x509.X509Crl(pki.crlPem());
  expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toContain(entry.serial.toLowerCase());

  expect(lines.join('\n')).not.toContain('PRIVATE KEY');
  expect(lines.join('\n')).not.toContain(redis.password);
});

it('the bot refuses a CSR that is not a server request of its own', async () => {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const other = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=evil.example', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  await expect(pki.signServerCsr(other.toString('pem'), 'gw-x')).rejects.toThrow(PkiError);
  await expect(pki.signServerCsr(other.toString('pem'), 'gw-x')).rejects.toThrow('names CN=evil.example, not CN=connexa-server');
  await expect(pki.signServerCsr('not a csr', 'gw-x')).rejects.toThrow('not a PEM certificate request');
  expect(pki.gatewayCerts().some((c) => c.gateway === 'gw-x')).toBe(false);
});

it('a gateway whose certificate no longer verifies (the bot has a new CA) enrols again, with a new key', async () => {
  const material = new GatewayMaterial({ dir: join(tmp, 'gw2', 'ovpn') });
  const connection = connectionOptions(parseRedisUrl(redis.url));
  expect(await enrolGateway({ name: 'gw-f', connection, material, log })).toBe('enrolled');
  const firstKey = readFileSync(material.files().key, 'utf8');
  // Another CA's trust installed over it: the certificate it holds is not signed by that CA.
  const otherCa = await Pki.open(join(tmp, 'other-pki'));
  await material.install({ caPem: otherCa.caPem(), crlPem: otherCa.crlPem(), tlsCryptKey: otherCa.tlsCryptKey() });
  expect(await material.hasValidCert()).toBe(false);
  expect(await enrolGateway({ name: 'gw-f', connection, material, log })).toBe('enrolled');
  expect(await material.hasValidCert()).toBe(true);
  expect(readFileSync(material.files().key, 'utf8')).not.toBe(firstKey);
  expect(pki.gatewayCerts().filter((c) => c.gateway === 'gw-f')).toHaveLength(2);
});
