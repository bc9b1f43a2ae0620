import type { Pki } from '../../services/ovpn/pki.ts';
import type { EnrolAnswer } from './control.ts';

/** The bot's answer to an enrolment: the CSR signed by its CA, with the trust the servers need. */
export function pkiSigner(pki: Pki): (csrPem: string, gatewayName: string) => Promise<EnrolAnswer> {
  return async (csrPem, gatewayName) => {
    const { certPem } = await pki.signServerCsr(csrPem, gatewayName);
    return { certPem, trust: { caPem: pki.caPem(), crlPem: pki.crlPem(), tlsCryptKey: pki.tlsCryptKey() } };
  };
}
