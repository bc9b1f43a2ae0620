import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GatewayPort, ServerTrust } from '../../src/gateway/port.ts';
import { TrustSender } from '../../src/gateway/trust.ts';
import { lazyPki } from '../../src/services/ovpn/pki-material.ts';
import { useTempDir } from '../kit/temp-dir.ts';

const tmp = useTempDir('cnx-trust-');

/** A gateway that only receives trust: what it was sent, in order. */
function receiver(name: string, local = false) {
  const got: ServerTrust[] = [];
  return { got, port: { name, local, trust: async (t: ServerTrust) => void got.push(t) } as unknown as GatewayPort };
}

describe('trust sent to remote gateways', () => {
  it('sends the CA, CRL and tls-crypt key once per boot and CRL: again after a revocation or a restart, never to the local gateway', async () => {
    const pki = lazyPki(path.join(tmp.path, 'pki'), () => null);
    let boot = 'boot-1';
    const sender = new TrustSender(pki, () => boot);
    const gw = receiver('fra-1');
    await sender.ensure(gw.port);
    await sender.ensure(gw.port);
    expect(gw.got).toHaveLength(1);
    const p = await pki();
    expect(gw.got[0]).toEqual({ caPem: p.caPem(), crlPem: p.crlPem(), tlsCryptKey: p.tlsCryptKey() });

    const cert = await p.issueClient('n1');
    await p.revoke(cert.serial);
    await sender.ensure(gw.port);
    expect(gw.got).toHaveLength(2);
    expect(gw.got[1]!.crlPem).not.toBe(gw.got[0]!.crlPem);

    boot = 'boot-2';
    await sender.ensure(gw.port);
    expect(gw.got).toHaveLength(3);
    sender.forget('fra-1');
    await sender.ensure(gw.port);
    expect(gw.got).toHaveLength(4);

    const local = receiver('local', true);
    await sender.ensure(local.port);
    expect(local.got).toEqual([]);
  });
});
