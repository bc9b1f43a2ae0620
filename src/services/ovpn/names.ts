// The certificate names, apart from pki.ts so that rendering a profile does not load the X.509
// library (it costs a one-shot command ~100 ms of start-up).
export const CA_NAME = 'CN=Connexa CA';
export const SERVER_CN = 'connexa-server';
export const clientCommonName = (nodeId: string): string => `connexa-node-${nodeId}`;
