/**
 * The PKI, checked with OpenSSL itself (the library OpenVPN links): chain, key usages, CRL.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pki, PkiError, renderStaticKey } from '../../src/services/ovpn/pki.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-pki-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const openssl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

describe('Pki', () => {
  it('is created on first use: CA, server certificate, tls-crypt key, CRL; keys 0600 in 0700 directories', async () => {
    const pki = await Pki.open(path.join(dir, 'pki'));
    const p = pki.paths;
    expect(mode(path.join(dir, 'pki'))).toBe(0o700);
    expect(mode(p.issued)).toBe(0o700);
    for (const f of [p.ca, p.caKey, p.cert, p.key, p.tlsCrypt, p.crl]) expect(mode(f), f).toBe(0o600);
    expect(openssl(['verify', '-CAfile', p.ca, p.cert]).stdout).toContain(': OK');
    const server = openssl(['x509', '-in', p.cert, '-noout', '-text']).stdout;
    expect(server).toContain('Subject: CN = connexa-server');
    expect(server).toContain('TLS Web Server Authentication');
    expect(server).toContain('ASN1 OID: prime256v1');
    const ca = openssl(['x509', '-in', p.ca, '-noout', '-text']).stdout;
    expect(ca).toMatch(/CA:TRUE/);
    expect(ca).toContain('Certificate Sign, CRL Sign');
    expect(pki.tlsCryptKey()).toMatch(/^-----BEGIN OpenVPN Static key V1-----\n([0-9a-f]{32}\n){16}-----END OpenVPN Static key V1-----$/m);
    expect(openssl(['crl', '-in', p.crl, '-noout', '-text']).stdout).toContain('No Revoked Certificates');
  });

  it('issues client certificates that verify, and revokes them through the CRL', async () => {
    const pki = await Pki.open(path.join(dir, 'pki'));
    const [a, b] = await Promise.all([pki.issueClient('n1'), pki.issueClient('n2')]);
    const certFile = (serial: string) => path.join(pki.paths.issued, `${serial}.crt`);
    const keyFile = (serial: string) => path.join(pki.paths.issued, `${serial}.key`);
    expect(mode(keyFile(a.serial))).toBe(0o600);
    const text = openssl(['x509', '-in', certFile(a.serial), '-noout', '-text', '-serial']).stdout;
    expect(text).toContain('Subject: CN = connexa-node-n1');
    expect(text).toContain('TLS Web Client Authentication');
    expect(text.toLowerCase()).toContain(`serial=${a.serial}`);
    // The key matches the certificate.
    const pub = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
    expect(pub(['pkey', '-in', keyFile(a.serial), '-pubout'])).toBe(pub(['x509', '-in', certFile(a.serial), '-noout', '-pubkey']));
    const verify = (serial: string) => openssl(['verify', '-crl_check', '-CAfile', pki.paths.ca, '-CRLfile', pki.paths.crl, certFile(serial)]);
    expect(verify(a.serial).stdout).toContain(': OK');

    expect(await pki.revoke(a.serial)).toBe(true);
    expect(await pki.revoke(a.serial)).toBe(false);
    const revoked = verify(a.serial);
    expect(revoked.status).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
    expect(verify(b.serial).stdout).toContain(': OK');
    expect(fs.existsSync(keyFile(a.serial))).toBe(false); // nothing will ever need it again
    expect(pki.clientMaterial(a.serial)).toBeNull();
    expect(pki.clientMaterial(b.serial)).toMatchObject({ serial: b.serial, certPem: b.certPem, keyPem: b.keyPem });
  });

  it('survives a reopen: same CA, same index, revocations kept; many concurrent issues are all indexed', async () => {
    const before = fs.readFileSync(path.join(dir, 'pki', 'ca.crt'), 'utf8');
    const pki = await Pki.open(path.join(dir, 'pki'));
    expect(pki.caPem()).toBe(before);
    expect(pki.certs().filter((c) => c.revokedAt)).toHaveLength(1);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => pki.issueClient(`m${i}`)));
    await Promise.all(many.slice(0, 10).map((c) => pki.revoke(c.serial)));
    const again = await Pki.open(path.join(dir, 'pki'));
    expect(again.certs()).toHaveLength(22);
    expect(again.certs().filter((c) => c.revokedAt)).toHaveLength(11);
    const crl = openssl(['crl', '-in', again.paths.crl, '-noout', '-text']).stdout;
    for (const c of many.slice(0, 10)) expect(crl.toLowerCase()).toContain(c.serial);
  });

  it('revocations arriving together share CRL writes; each says whether it revoked, the same serial twice only once', async () => {
    const pki = await Pki.open(path.join(dir, 'pki'));
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => pki.issueClient(`batch${i}`)));
    const writesBefore = pki.crlWrites;
    const results = await Promise.all([...many.map((c) => pki.revoke(c.serial)), pki.revoke(many[0]!.serial), pki.revoke('not-a-serial')]);
    expect(results.slice(0, 40)).toEqual(Array(40).fill(true));
    expect(results.slice(40)).toEqual([false, false]);
    // One write for the first, one for all that queued behind it: far fewer than 40.
    expect(pki.crlWrites - writesBefore).toBeLessThanOrEqual(2);
    const crl = openssl(['crl', '-in', pki.paths.crl, '-noout', '-text']).stdout.toLowerCase();
    for (const c of many) expect(crl).toContain(c.serial);
    for (const c of many) expect(fs.existsSync(path.join(pki.paths.issued, `${c.serial}.key`))).toBe(false);
    const reopened = await Pki.open(path.join(dir, 'pki'));
    for (const c of many) expect(reopened.isRevoked(c.serial)).toBe(true);
  });

  it('a revocation whose CRL or index write fails is not recorded, and the retry really revokes', async () => {
    const d = path.join(dir, 'failing');
    const pki = await Pki.open(d);
    const c = await pki.issueClient('n1');
    const certFile = path.join(pki.paths.issued, `${c.serial}.crt`);
    const verify = () => openssl(['verify', '-crl_check', '-CAfile', pki.paths.ca, '-CRLfile', pki.paths.crl, certFile]);
    // A non-empty directory where the file goes: the atomic rename fails, as on a full disk.
    const block = (file: string) => {
      fs.renameSync(file, `${file}.saved`);
      fs.mkdirSync(path.join(file, 'x'), { recursive: true });
    };
    const unblock = (file: string) => {
      fs.rmSync(file, { recursive: true });
      fs.renameSync(`${file}.saved`, file);
    };
    block(pki.paths.crl);
    await expect(pki.revoke(c.serial)).rejects.toThrow();
    expect(pki.isRevoked(c.serial)).toBe(false);
    await expect(pki.revoke(c.serial)).rejects.toThrow(); // still failing: still not "already revoked"
    unblock(pki.paths.crl);
    expect(verify().stdout).toContain(': OK'); // the profile still works: the failure was reported, not hidden

    // The CRL written, the index not: reported as failed; the retry writes both.
    block(pki.paths.index);
    await expect(pki.revoke(c.serial)).rejects.toThrow();
    expect(pki.isRevoked(c.serial)).toBe(false);
    unblock(pki.paths.index);
    expect(await pki.revoke(c.serial)).toBe(true);
    expect(await pki.revoke(c.serial)).toBe(false);
    const revoked = verify();
    expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
    expect(openssl(['crl', '-in', pki.paths.crl, '-noout', '-text']).stdout.toLowerCase()).toContain(c.serial);
    expect((await Pki.open(d)).isRevoked(c.serial)).toBe(true);
  });

  it('refuses a half-present CA instead of replacing it', async () => {
    const d = path.join(dir, 'broken');
    await Pki.open(d);
    fs.rmSync(path.join(d, 'ca.crt'));
    await expect(Pki.open(d)).rejects.toBeInstanceOf(PkiError);
    expect(fs.existsSync(path.join(d, 'ca.key'))).toBe(true);
  });

  it('renders static keys in OpenVPN format', () => {
    const k = renderStaticKey(Buffer.alloc(256, 0xab));
    expect(k.split('\n').filter((l) => /^[0-9a-f]{32}$/.test(l))).toHaveLength(16);
    expect(() => renderStaticKey(Buffer.alloc(10))).toThrow();
  });
});
