/** Addresses and credentials of the VM lab, shared by the guest suite and the host-side assertions. */
export const LAB = {
  /** pptpd listens here (srv namespace end of the veth). */
  server: '10.99.0.1',
  /** Our end of the veth (cli namespace). */
  client: '10.99.0.2',
  /** A second address of the server namespace where nothing listens on 1723: connection refused. */
  refusing: '10.99.0.5',
  /** A second pptpd (its own pool): two tunnels to two servers at once. */
  server2: '10.99.0.6',
  tunnelRemote2: '192.168.78.1',
  tunnelPool2: '192.168.78.10-30',
  /** On the veth's subnet but owned by nobody: ARP fails, no route to host. */
  absent: '10.99.0.77',
  /** pptpd's localip: the tunnel's remote side, where the speed server listens (and nowhere else). */
  tunnelRemote: '192.168.77.1',
  tunnelPool: '192.168.77.10-30',
  /** An address on the server namespace's lo that the client can reach only through the policy route. */
  behindTunnel: '10.98.0.1',
  speedPort: 8080,
  downloadBytes: 4 * 1024 * 1024,
  login: 'alice',
  password: 'secret123',
} as const;

/**
 * Credentials that would break naive quoting: spaces, both quotes, #, backslashes (and non-ASCII
 * in the password). The login stays ASCII here because a pppd-based SERVER cannot authenticate a
 * non-ASCII user name at all: it "cleans" the received name (bytes >= 0x80 become "M-x") before
 * hashing it into the MS-CHAPv2 challenge, so its hash never matches the client's. UNICODE_LOGIN
 * shows that case: the exact bytes reach the server (its debug log proves it), and it refuses.
 */
export const WEIRD = {
  login: `bob "the' #builder\\ x`,
  password: `p a"s's#w\\\\ör d€ \\x41 # end`,
} as const;

export const UNICODE_LOGIN = { login: 'jürgen', password: 'pässwörd' } as const;
