/**
 * The client certificates of online nodes, on the bot side (the CA never leaves the bot): issued on
 * start, revoked on stop. A certificate that no node record names (a failed start, a leftover, a
 * deleted node) is revoked as soon as it is known; when the PKI cannot write (disk full) its serial
 * is remembered and retried by every stop, because the node record cannot carry it and swallowing
 * the error would leave a valid certificate behind.
 */
import type { Logger } from '../log.ts';
import type { Pki } from '../services/ovpn/pki.ts';

export class ClientCertificates {
  private readonly pending = new Set<string>();
  private readonly pki: () => Promise<Pki>;
  private readonly log: Logger;
  constructor(pki: () => Promise<Pki>, log: Logger) {
    this.pki = pki;
    this.log = log;
  }

  async issue(nodeId: string): Promise<{ serial: string; issuedAt: string }> {
    const c = await (await this.pki()).issueClient(nodeId);
    return { serial: c.serial, issuedAt: c.issuedAt };
  }

  /** Revokes a certificate a node names; throws when it cannot be written (the caller keeps the node as it was). */
  async revoke(serial: string, at: Date): Promise<void> {
    await (await this.pki()).revoke(serial, at);
  }

  /** Revokes a certificate no node names; a failure is remembered and retried (see retryPending). */
  async revokeOrRemember(serial: string): Promise<void> {
    try {
      await (await this.pki()).revoke(serial);
      this.pending.delete(serial);
    } catch (err) {
      this.pending.add(serial);
      this.log.error('a certificate could not be revoked; retried at the next stop', { serial, error: (err as Error).message });
    }
  }

  async retryPending(): Promise<void> {
    for (const serial of [...this.pending]) await this.revokeOrRemember(serial);
  }

  /** Serials whose revocation failed and is still to be done. */
  pendingSerials(): string[] {
    return [...this.pending];
  }

  /**
   * At start-up, before anything is issued: a valid certificate that no node names is one whose
   * revocation failed before a restart (or whose start never reached the store). It would still open
   * the node's server (same CN), so it is revoked now; failures are kept for the next stop.
   */
  async revokeOrphans(named: ReadonlySet<string>): Promise<void> {
    let pki: Pki;
    try {
      pki = await this.pki();
    } catch (err) {
      this.log.error('the OpenVPN PKI cannot be opened; unnamed certificates are not checked', { error: (err as Error).message });
      return;
    }
    const orphans = pki.certs().filter((c) => !c.revokedAt && !named.has(c.serial));
    for (const c of orphans) await this.revokeOrRemember(c.serial);
    if (orphans.length) this.log.warn('revoked certificates no node names', { count: orphans.length });
  }
}
