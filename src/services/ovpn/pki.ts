/**
 * The OpenVPN PKI in DATA_DIR/pki, made with @peculiar/x509 over Node's WebCrypto (no easy-rsa, no
 * openssl processes): ECDSA P-256 keys, SHA-256 signatures, which OpenVPN 2.4+ accepts with `dh none`.
 *
 *   ca.crt ca.key            the CA (self-signed, keyCertSign + cRLSign)
 *   server.crt server.key    one server certificate, CN connexa-server, EKU serverAuth
 *   tls-crypt.key            the OpenVPN static key that wraps the control channel (2048 bits)
 *   crl.pem                  every revoked serial, re-signed on each revocation and on every open
 *   issued/SERIAL.crt .key   each node's client certificate, CN connexa-node-<id>, EKU clientAuth
 *   issued/SERIAL.crt        each remote gateway's server certificate, signed from its CSR (its key
 *                            never leaves the gateway), CN connexa-server, EKU serverAuth
 *   index.json               serial -> node (or gateway), issued, revoked
 *
 * Everything is 0600 in a 0700 directory. The CA is created only when neither ca.crt nor ca.key
 * exists: a half-present CA is an error to look at, never silently replaced (that would void every
 * profile in users' hands). Issue and revoke are serialised, so concurrent starts cannot lose an
 * index entry or sign a CRL that misses a revocation.
 */
import 'reflect-metadata'; // tsyringe (used inside @peculiar/x509) needs it loaded first
import * as x509 from '@peculiar/x509';
import { CA_NAME, SERVER_CN, clientCommonName } from './names.ts';
import { randomBytes, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, readTextOrNull, writePrivateFile, writePublicFile } from '../private-files.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const subtle = webcrypto.subtle;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
/** Long lifetimes: a node's profile ends by revocation (stop), not by an expiry nobody watches. */
const CA_DAYS = 20 * 365;
const SERVER_DAYS = 10 * 365;
const CLIENT_DAYS = 10 * 365;
/**
 * OpenSSL rejects every client once a CRL is past its nextUpdate, so it is far in the future; the
 * CRL is also re-signed at every open, so a long-running install never reaches it.
 */
const CRL_DAYS = 3 * 365;

export { CA_NAME, SERVER_CN, clientCommonName } from './names.ts';

const indexSchema = z.object({
  version: z.literal(1),
  certs: z.array(
    z.object({
      serial: z.string(),
      /** The node of a client certificate; '' for a gateway's server certificate. */
      nodeId: z.string(),
      /** Set on a remote gateway's server certificate (signServerCsr): the gateway's name. */
      gateway: z.string().optional(),
      issuedAt: z.string(),
      revokedAt: z.string().nullable(),
    }),
  ),
});
type PkiIndex = z.infer<typeof indexSchema>;
export type IssuedCert = PkiIndex['certs'][number];

export interface ClientMaterial {
  serial: string;
  certPem: string;
  keyPem: string;
}

export class PkiError extends Error {}

interface PendingRevocation {
  serial: string;
  now: Date;
  resolve(revoked: boolean): void;
  reject(err: unknown): void;
}

function pemKey(der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new PkiError('empty private key file');
  return (await subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as unknown as CryptoKey;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

/** A positive 128-bit serial whose first byte is never 0 (no leading zero to be trimmed). */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x6f) | 0x10;
  return b.toString('hex');
}

/** OpenVPN's "Static key V1" text: 256 random bytes as 16 lines of 32 hex digits. */
export function renderStaticKey(bytes: Buffer = randomBytes(256)): string {
  if (bytes.length !== 256) throw new Error('an OpenVPN static key is 256 bytes');
  const hex = bytes.toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 32) lines.push(hex.slice(i, i + 32));
  return ['#', '# 2048 bit OpenVPN static key', '#', '-----BEGIN OpenVPN Static key V1-----', ...lines, '-----END OpenVPN Static key V1-----', ''].join('\n');
}

export interface PkiOptions {
  /**
   * A second, world-readable copy of the CRL, for OpenVPN servers that run as nobody (DATA_DIR is
   * 0700, and crl-verify re-reads the file at every handshake). Written with every CRL: a revocation
   * is done only when both are.
   */
  crlCopy?: string;
}

export class Pki {
  private queue: Promise<unknown> = Promise.resolve();
  /** Revocations waiting for the next CRL write (see revoke). */
  private revocations: PendingRevocation[] | null = null;
  private crlWriteCount = 0;
  private crlCopy: string | null = null;

  readonly dir: string;
  private readonly ca: x509.X509Certificate;
  private readonly caKey: CryptoKey;
  private index: PkiIndex;
  private constructor(
    dir: string,
    ca: x509.X509Certificate,
    caKey: CryptoKey,
    index: PkiIndex,
  ) {
    this.dir = dir;
    this.ca = ca;
    this.caKey = caKey;
    this.index = index;
  }

  get paths() {
    return {
      ca: path.join(this.dir, 'ca.crt'),
      caKey: path.join(this.dir, 'ca.key'),
      cert: path.join(this.dir, 'server.crt'),
      key: path.join(this.dir, 'server.key'),
      tlsCrypt: path.join(this.dir, 'tls-crypt.key'),
      crl: path.join(this.dir, 'crl.pem'),
      index: path.join(this.dir, 'index.json'),
      issued: path.join(this.dir, 'issued'),
    };
  }

  /** Opens the PKI in `dir`, creating whatever is missing (first use), and re-signs the CRL. */
  static async open(dir: string, now: () => Date = () => new Date(), opts: PkiOptions = {}): Promise<Pki> {
    ensurePrivateDir(dir);
    const p = (n: string) => path.join(dir, n);
    let caPem = readTextOrNull(p('ca.crt'));
    let caKeyPem = readTextOrNull(p('ca.key'));
    if ((caPem === null) !== (caKeyPem === null)) {
      throw new PkiError(`the OpenVPN CA in ${dir} is incomplete (${caPem === null ? 'ca.crt' : 'ca.key'} is missing); restore it from a backup, or move ${dir} away to start a new CA (every issued profile then stops working)`);
    }
    if (caPem === null || caKeyPem === null) {
      const keys = await newKeys();
      const t = now();
      const ca = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: newSerial(),
        name: CA_NAME,
        notBefore: new Date(t.getTime() - DAY),
        notAfter: new Date(t.getTime() + CA_DAYS * DAY),
        keys,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      caKeyPem = pemKey(await subtle.exportKey('pkcs8', keys.privateKey as never));
      caPem = ca.toString('pem');
      // The key first: a crash between the two leaves "ca.key without ca.crt", which open() reports.
      writePrivateFile(p('ca.key'), caKeyPem);
      writePrivateFile(p('ca.crt'), caPem);
    }
    const ca = new x509.X509Certificate(caPem);
    const caKey = await importSigningKey(caKeyPem);
    const indexText = readTextOrNull(p('index.json'));
    let index: PkiIndex = { version: 1, certs: [] };
    if (indexText !== null) {
      const parsed = indexSchema.safeParse(JSON.parse(indexText));
      if (!parsed.success) throw new PkiError(`${p('index.json')} is not a Connexa PKI index; it was left untouched`);
      index = parsed.data;
    }
    const pki = new Pki(dir, ca, caKey, index);
    pki.crlCopy = opts.crlCopy ?? null;
    ensurePrivateDir(pki.paths.issued);
    if (readTextOrNull(pki.paths.cert) === null || readTextOrNull(pki.paths.key) === null) await pki.createServerCert(now());
    if (readTextOrNull(pki.paths.tlsCrypt) === null) writePrivateFile(pki.paths.tlsCrypt, renderStaticKey());
    await pki.writeCrl(now());
    return pki;
  }

  caPem(): string {
    return this.ca.toString('pem');
  }

  tlsCryptKey(): string {
    return fs.readFileSync(this.paths.tlsCrypt, 'utf8');
  }

  /** The CRL file the OpenVPN servers read: the world-readable copy when there is one. */
  servedCrlPath(): string {
    return this.crlCopy ?? this.paths.crl;
  }

  crlPem(): string {
    return fs.readFileSync(this.paths.crl, 'utf8');
  }

  /** The nodes' client certificates. */
  certs(): readonly IssuedCert[] {
    return this.index.certs.filter((c) => c.gateway === undefined);
  }

  /** The server certificates signed for remote gateways (revoke() takes their serials too). */
  gatewayCerts(): readonly IssuedCert[] {
    return this.index.certs.filter((c) => c.gateway !== undefined);
  }

  find(serial: string): IssuedCert | undefined {
    return this.index.certs.find((c) => c.serial === serial);
  }

  isRevoked(serial: string): boolean {
    return this.find(serial)?.revokedAt != null;
  }

  /** Issues a client certificate for a node. */
  issueClient(nodeId: string, now: Date = new Date()): Promise<ClientMaterial & { issuedAt: string }> {
    return this.serial(async () => {
      const { serial, keyPem, certPem } = await this.signLeaf(clientCommonName(nodeId), CLIENT_DAYS, x509.ExtendedKeyUsage.clientAuth, now);
      writePrivateFile(path.join(this.paths.issued, `${serial}.key`), keyPem);
      writePrivateFile(path.join(this.paths.issued, `${serial}.crt`), certPem);
      const issuedAt = now.toISOString();
      // Adopted only once written, as in revoke().
      const next: PkiIndex = { ...this.index, certs: [...this.index.certs, { serial, nodeId, issuedAt, revokedAt: null }] };
      this.saveIndex(next);
      this.index = next;
      return { serial, certPem, keyPem, issuedAt };
    });
  }

  /** A client's certificate and key, or null when unknown, revoked, or its files are gone. */
  clientMaterial(serial: string): ClientMaterial | null {
    const entry = this.find(serial);
    if (!entry || entry.revokedAt) return null;
    const certPem = readTextOrNull(path.join(this.paths.issued, `${serial}.crt`));
    const keyPem = readTextOrNull(path.join(this.paths.issued, `${serial}.key`));
    return certPem && keyPem ? { serial, certPem, keyPem } : null;
  }

  /**
   * Revokes a certificate: the CRL is re-signed before this resolves, so an OpenVPN server that
   * checks it (crl-verify, re-read when it changes) refuses the profile from the next handshake on.
   * The client's private key is deleted: nothing will ever need it again. False when already revoked
   * or unknown. Rejects when the CRL or the index cannot be written (disk full): then nothing is
   * marked revoked in memory either, so a retry signs and writes both again.
   */
  revoke(serial: string, now: Date = new Date()): Promise<boolean> {
    // Revocations that arrive while a CRL is being written share the next one: a `stop` of 600
    // nodes signs and writes a handful of CRLs and index files instead of 600 of each.
    return new Promise((resolve, reject) => {
      if (!this.revocations) {
        const batch: PendingRevocation[] = [];
        this.revocations = batch;
        void this.serial(async () => {
          this.revocations = null;
          try {
            const done = await this.revokeAll(batch);
            batch.forEach((r, i) => r.resolve(done[i]!));
          } catch (err) {
            for (const r of batch) r.reject(err);
          }
        });
      }
      this.revocations.push({ serial, now, resolve, reject });
    });
  }

  /** How many CRLs this PKI has signed and written since it was opened (revocations share them). */
  get crlWrites(): number {
    return this.crlWriteCount;
  }

  private async revokeAll(batch: readonly PendingRevocation[]): Promise<boolean[]> {
    // Written from a copy and adopted only once on disk: a failed write must not leave a serial
    // "revoked" here (a retry would then return false) while crl.pem still lets it in.
    const certs = this.index.certs.slice();
    const done = batch.map((r) => {
      const i = certs.findIndex((c) => c.serial === r.serial);
      const entry = certs[i];
      if (!entry || entry.revokedAt) return false;
      certs[i] = { ...entry, revokedAt: r.now.toISOString() };
      return true;
    });
    if (!done.some(Boolean)) return done;
    const next: PkiIndex = { ...this.index, certs };
    const latest = new Date(Math.max(...batch.map((r) => r.now.getTime())));
    // The CRL first: it is what OpenVPN checks. An index that lags is repaired by the retry, and
    // open() re-signs the CRL from the index.
    await this.writeCrl(latest, next);
    this.saveIndex(next);
    this.index = next;
    batch.forEach((r, i) => done[i] && fs.rmSync(path.join(this.paths.issued, `${r.serial}.key`), { force: true }));
    return done;
  }

  /**
   * Signs a remote gateway's server certificate from its CSR (enrolment): the gateway made the key
   * and keeps it; only the public key and a self-signature come here. Refused unless the request is
   * signed by its own key, names the server CN the profiles verify, and holds a P-256 key. Recorded in
   * the index under the gateway's name, so it can be revoked like a profile.
   */
  signServerCsr(csrPem: string, gatewayName: string, now: Date = new Date()): Promise<{ serial: string; certPem: string }> {
    return this.serial(async () => {
      let csr: x509.Pkcs10CertificateRequest;
      try {
        csr = new x509.Pkcs10CertificateRequest(csrPem);
      } catch {
        throw new PkiError(`gateway ${gatewayName}: the enrolment request is not a PEM certificate request`);
      }
      if (!(await csr.verify())) throw new PkiError(`gateway ${gatewayName}: the enrolment request is not signed by its own key`);
      if (csr.subject !== `CN=${SERVER_CN}`) throw new PkiError(`gateway ${gatewayName}: the enrolment request names ${csr.subject.slice(0, 80)}, not CN=${SERVER_CN}`);
      const alg = csr.publicKey.algorithm as EcKeyAlgorithm;
      if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new PkiError(`gateway ${gatewayName}: the enrolment request holds a ${alg.name} key; an ECDSA P-256 key is expected`);
      const publicKey = await csr.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
      const { serial, certPem } = await this.signCert(SERVER_CN, SERVER_DAYS, x509.ExtendedKeyUsage.serverAuth, publicKey, now);
      writePrivateFile(path.join(this.paths.issued, `${serial}.crt`), certPem);
      const next: PkiIndex = { ...this.index, certs: [...this.index.certs, { serial, nodeId: '', gateway: gatewayName, issuedAt: now.toISOString(), revokedAt: null }] };
      this.saveIndex(next);
      this.index = next;
      return { serial, certPem };
    });
  }

  private async createServerCert(now: Date): Promise<void> {
    const { keyPem, certPem } = await this.signLeaf(SERVER_CN, SERVER_DAYS, x509.ExtendedKeyUsage.serverAuth, now);
    writePrivateFile(this.paths.key, keyPem);
    writePrivateFile(this.paths.cert, certPem);
  }

  /**
   * A new key pair and a certificate for it signed by the CA: what `remote-cert-tls server` (and its
   * client counterpart) checks is KU digitalSignature/keyAgreement and the given extended key usage.
   */
  private async signLeaf(cn: string, days: number, eku: string, now: Date): Promise<{ serial: string; keyPem: string; certPem: string }> {
    const keys = await newKeys();
    const { serial, certPem } = await this.signCert(cn, days, eku, keys.publicKey, now);
    return { serial, keyPem: pemKey(await subtle.exportKey('pkcs8', keys.privateKey as never)), certPem };
  }

  private async signCert(cn: string, days: number, eku: string, publicKey: CryptoKey, now: Date): Promise<{ serial: string; certPem: string }> {
    const serial = newSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${cn}`,
      issuer: this.ca.subject,
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + days * DAY),
      publicKey,
      signingKey: this.caKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([eku]),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.ca),
      ],
    });
    return { serial, certPem: cert.toString('pem') };
  }

  private async writeCrl(now: Date, index: PkiIndex = this.index): Promise<void> {
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.ca.subject,
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + CRL_DAYS * DAY),
      signingKey: this.caKey,
      signingAlgorithm: ALG,
      entries: index.certs.filter((c) => c.revokedAt).map((c) => ({ serialNumber: c.serial, revocationDate: new Date(c.revokedAt!), reason: x509.X509CrlReason.cessationOfOperation })),
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(this.ca)],
    });
    // OpenSSL (and so OpenVPN) reads only the "X509 CRL" PEM label, not the library's "CRL".
    const pem = `${x509.PemConverter.encode(crl.rawData, 'X509 CRL')}\n`;
    if (this.crlCopy) writePublicFile(this.crlCopy, pem);
    writePrivateFile(this.paths.crl, pem);
    this.crlWriteCount++;
  }

  private saveIndex(index: PkiIndex = this.index): void {
    writePrivateFile(this.paths.index, `${JSON.stringify(index, null, 2)}\n`);
  }

  /** Runs `fn` after every earlier issue/revoke has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }
}
