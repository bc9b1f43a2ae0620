/**
 * A remote gateway's OpenVPN server material, in its own data directory (0700, files 0600):
 *
 *   server.key      its own key (EC P-256), made here at enrolment; it never leaves this host
 *   server.crt      the certificate the bot signed from its CSR
 *   ca.crt crl.pem tls-crypt.key   what the bot sent (ServerTrust), replaced whenever it sends them again
 *
 * The CRL may also be written to a world-readable copy for servers that run as nobody (as the bot's
 * own PKI does, pki.ts): files().crl then names the copy.
 */
import 'reflect-metadata'; // tsyringe (used inside @peculiar/x509) needs it loaded first
import * as x509 from '@peculiar/x509';
import { createPublicKey, webcrypto } from 'node:crypto';
import path from 'node:path';
import { SERVER_CN } from '../../services/ovpn/names.ts';
import { ensurePrivateDir, readTextOrNull, writePrivateFile, writePublicFile } from '../../services/private-files.ts';
import type { ServerMaterial, ServerTrust } from '../port.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const subtle = webcrypto.subtle;

export class GatewayMaterial implements ServerMaterial {
  readonly dir: string;
  private readonly crlCopy: string | null;

  constructor(o: { dir: string; crlCopy?: string }) {
    this.dir = o.dir;
    this.crlCopy = o.crlCopy ?? null;
  }

  private get paths() {
    const p = (n: string) => path.join(this.dir, n);
    return { ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key'), pendingKey: p('server.key.pending'), tlsCrypt: p('tls-crypt.key'), crl: p('crl.pem') };
  }

  files(): { ca: string; cert: string; key: string; tlsCrypt: string; crl: string } {
    const { ca, cert, key, tlsCrypt, crl } = this.paths;
    return { ca, cert, key, tlsCrypt, crl: this.crlCopy ?? crl };
  }

  async install(t: ServerTrust): Promise<void> {
    ensurePrivateDir(this.dir);
    writePrivateFile(this.paths.ca, t.caPem);
    writePrivateFile(this.paths.tlsCrypt, t.tlsCryptKey);
    if (this.crlCopy) writePublicFile(this.crlCopy, t.crlPem);
    writePrivateFile(this.paths.crl, t.crlPem);
  }

  /**
   * Whether the servers can run without enrolling: key, certificate and CA are here, the certificate
   * is within its dates, holds this key, and is signed by the CA.
   */
  async hasValidCert(now: Date = new Date()): Promise<boolean> {
    const keyPem = readTextOrNull(this.paths.key);
    const certPem = readTextOrNull(this.paths.cert);
    const caPem = readTextOrNull(this.paths.ca);
    if (!keyPem || !certPem || !caPem || readTextOrNull(this.paths.tlsCrypt) === null || readTextOrNull(this.paths.crl) === null) return false;
    try {
      const cert = new x509.X509Certificate(certPem);
      if (now < cert.notBefore || now > cert.notAfter) return false;
      if (!holdsKey(certPem, keyPem)) return false;
      return await cert.verify({ publicKey: new x509.X509Certificate(caPem), date: now });
    } catch {
      return false;
    }
  }

  /**
   * A new key (kept aside until its certificate comes back) and the CSR the bot signs: CN is the
   * server name every profile verifies.
   */
  async newRequest(): Promise<string> {
    const keys = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey as never);
    writePrivateFile(this.paths.pendingKey, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'));
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${SERVER_CN}`,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    return csr.toString('pem');
  }

  /** Adopts the signed certificate for the pending key, and the trust that came with it. */
  async adopt(certPem: string, trust: ServerTrust): Promise<void> {
    const keyPem = readTextOrNull(this.paths.pendingKey);
    if (!keyPem) throw new Error('no pending key: the certificate answers a request this gateway did not make');
    if (!holdsKey(certPem, keyPem)) throw new Error('the signed certificate does not hold the key this gateway made');
    await this.install(trust);
    writePrivateFile(this.paths.key, keyPem);
    writePrivateFile(this.paths.cert, certPem);
  }
}

/** Whether the certificate's public key is the one of this private key. */
function holdsKey(certPem: string, keyPem: string): boolean {
  const fromKey = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const fromCert = Buffer.from(new x509.X509Certificate(certPem).publicKey.rawData);
  return fromKey.equals(fromCert);
}
