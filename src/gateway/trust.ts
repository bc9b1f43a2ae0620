/**
 * What a remote gateway's OpenVPN servers check clients against (CA, CRL, tls-crypt key), sent
 * before the bot starts nodes there whenever that gateway's current boot has not got the current
 * CRL: a node stopped (its profile revoked) and started again keeps its CN, so a gateway with an
 * old CRL would still let the revoked profile in.
 */
import type { Pki } from '../services/ovpn/pki.ts';
import type { GatewayPort, ServerTrust } from './port.ts';

export class TrustSender {
  /** Per gateway: the boot it was last sent to, and which of the PKI's CRL writes it got. */
  private readonly sent = new Map<string, string>();
  private readonly pki: () => Promise<Pki>;
  private readonly bootOf: (gateway: string) => string;

  constructor(pki: () => Promise<Pki>, bootOf: (gateway: string) => string) {
    this.pki = pki;
    this.bootOf = bootOf;
  }

  async current(): Promise<ServerTrust> {
    const pki = await this.pki();
    return { caPem: pki.caPem(), crlPem: pki.crlPem(), tlsCryptKey: pki.tlsCryptKey() };
  }

  /** Sends the trust to `gw` unless this boot of it has this CRL already; the local gateway shares the PKI. */
  async ensure(gw: GatewayPort): Promise<void> {
    if (gw.local) return;
    // The PKI counts the CRLs it writes: no file is read or hashed for a start whose gateway is current.
    const key = `${this.bootOf(gw.name)}:${(await this.pki()).crlWrites}`;
    if (this.sent.get(gw.name) === key) return;
    await gw.trust(await this.current());
    this.sent.set(gw.name, key);
  }

  /** A gateway that came back: send again before the next start there. */
  forget(gateway: string): void {
    this.sent.delete(gateway);
  }
}
