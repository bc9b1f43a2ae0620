/**
 * The gateway port: what the bot (the control plane, the only writer of the store) may ask of a host
 * that opens tunnels and serves nodes. The counterpart of the chat port (src/chat/port.ts).
 *
 * Two implementations:
 * - local (gateway/local.ts): this process, the default; no Redis;
 * - remote (gateway/remote/): a `connexa gateway` process on another host, reached through BullMQ
 *   queues on Redis.
 *
 * Every value crossing the port is plain JSON (no Date, no Buffer, no class): the remote
 * implementation carries requests in job payloads and answers in job results. A gateway keeps no
 * fleet state beyond what it runs; it never writes the store: results come back here and the bot
 * commits them with the usual compare-and-set.
 *
 * Secrets: a request carries the node's PPTP login and password (needed to open its tunnel) and a
 * node's SOCKS credentials; implementations never log them.
 */
import type { PptpResult } from '../fleet/node.ts';
import type { StageOutcome } from '../pipeline/stage.ts';
import type { Capability } from '../probes/tunnel/types.ts';
import type { PortRange } from '../services/ports.ts';

/** The name of the bot's own host when it serves nodes itself (the default, no Redis). */
export const LOCAL_GATEWAY = 'local';

/** What a gateway needs to reach one node: its PPTP address and credentials, and a label for logs and configs. */
export interface NodeTarget {
  id: string;
  ip: string;
  port: number;
  login: string;
  password: string;
  /** "203.0.113.5 · US, Ohio" (OpenVPN config comments, log lines). Never secret. */
  label: string;
}

export interface GatewayDescription {
  name: string;
  /** Where clients reach this gateway's SOCKS proxies and OpenVPN servers (profiles say `remote <ovpn>`). */
  publicHost: { socks: string; ovpn: string };
  /** Said wherever its proxies or profiles are handed out (e.g. a public host that is not set). */
  warnings: string[];
  /** Whether it can open PPTP tunnels (kernel PPP, pppd, CAP_NET_ADMIN), with what is missing. */
  tunnels: Capability;
  /** Whether it can run OpenVPN servers (openvpn, ip, nft, /dev/net/tun, CAP_NET_ADMIN). */
  ovpn: Capability;
  ports: { socks: PortRange; ovpn: PortRange };
  /** Nodes it can serve in all (the smaller port range) and nodes it can still take. */
  capacity: { total: number; free: number };
  /** Nodes whose services run there now. */
  running: number;
  /** The Connexa version it runs (package.json). */
  version: string;
}

/** The SOCKS5 proxy of a node: where it listens and the credentials it requires. */
export interface SocksEndpoint {
  host: string;
  port: number;
  login: string;
  password: string;
}

export interface StartRequest {
  node: NodeTarget;
  /**
   * Run the node's OpenVPN server: it accepts only the client certificate whose CN names this node
   * (verify-x509-name), issued by the bot's CA. False when the node has no live certificate.
   */
  ovpn: boolean;
  /**
   * Bring back what the node had (a restart, a gateway that came back empty): the same proxy port and
   * credentials and the same OpenVPN port, so handed-out credentials and profiles keep working. A
   * node whose tunnel does not open still gets its listeners (they answer "network unreachable") and
   * the tunnel is retried in the background. Absent: new ports and new credentials (start, move).
   */
  keep?: { socks: SocksEndpoint; ovpnPort: number | null };
  /** Deadline for opening the tunnel (TUNNEL_OPEN_TIMEOUT_MS). */
  tunnelOpenTimeoutMs: number;
}

export interface StartedServices {
  socks: SocksEndpoint;
  /** The node's OpenVPN port on this gateway; null when it runs no server for the node. */
  ovpnPort: number | null;
  /** Whether the OpenVPN server runs (false: the gateway cannot run one; the profile is issued only). */
  ovpnServer: boolean;
  /** Null when a `keep` start brought the listeners back but the tunnel is still down (retried). */
  tunnel: { iface: string; localAddress: string; setupMs: number } | null;
  startMs: number;
}

/** `hostSide` failures say nothing about the node (the host, a cancel, no free port): it keeps its status. */
export type StartResult = { ok: true; services: StartedServices } | { ok: false; outcome: string; reason: string; hostSide: boolean };

export type CheckResult = { ok: true } | { ok: false; outcome: string; reason: string };

/** One node whose services run on a gateway (what it reports after a restart, and `list`). */
export interface RunningNode {
  nodeId: string;
  socksPort: number;
  ovpnPort: number | null;
  ovpnServer: boolean;
  tunnel: { iface: string; localAddress: string } | null;
  tunnelError: string | null;
}

/** A speed test of one node, measured through its tunnel from the gateway (SPEED_* settings). */
export interface SpeedRequest {
  node: NodeTarget;
  url: string;
  minMbps: number;
  openTimeoutMs: number;
  downloadBytes: number;
  maxSeconds: number;
  uploadBytes: number;
  stallMs: number;
}

/** A PPTP handshake from the gateway (`ping … from=NAME`), under the bot's PROBE_ALLOW policy. */
export interface HandshakeRequest {
  node: Pick<NodeTarget, 'id' | 'ip' | 'port'>;
  timeoutMs: number;
  retries: number;
  /** PROBE_ALLOW of the bot: a gateway probes nothing the bot would not. */
  probeAllow: string;
}

/**
 * The server side of the PKI: what a gateway's OpenVPN servers check a client against. The CA key
 * never leaves the bot; a remote gateway's server certificate is signed from its CSR (enrolment,
 * remote/enrol.ts). Sent again whenever the CRL changes, so a revoked profile is refused everywhere.
 */
export interface ServerTrust {
  caPem: string;
  crlPem: string;
  tlsCryptKey: string;
}

export interface GatewayPort {
  readonly name: string;
  /** True for the bot's own host (no transport in between). */
  readonly local: boolean;
  describe(): Promise<GatewayDescription>;
  /**
   * Opens the node's tunnel, then its SOCKS5 proxy and (when asked) its OpenVPN server. Leaves
   * nothing behind on failure. A start of a node that already runs there replaces what runs.
   */
  start(req: StartRequest, signal?: AbortSignal): Promise<StartResult>;
  /** Tears the node's services down and frees its ports. Idempotent: an unknown node is not an error. */
  stop(nodeId: string): Promise<void>;
  /** For the monitor: the node's tunnel is up, its proxy listens, its OpenVPN server runs. */
  check(nodeId: string, signal?: AbortSignal): Promise<CheckResult>;
  /** What runs there now. */
  list(): Promise<RunningNode[]>;
  /** A speed stage's outcome for one node (the patch holds `speed`); never a status write. */
  speedTest(req: SpeedRequest, signal?: AbortSignal): Promise<StageOutcome>;
  /** A PPTP handshake result, as `ping` stores it. */
  handshake(req: HandshakeRequest, signal?: AbortSignal): Promise<PptpResult>;
  /** Installs the CA, CRL and tls-crypt key its OpenVPN servers use (see ServerTrust). */
  trust(t: ServerTrust): Promise<void>;
}

/**
 * The files a gateway's OpenVPN servers read (server.conf names them). On the bot's host they are the
 * PKI's own; on a remote gateway, its own key, the certificate the bot signed from its CSR, and the
 * CA, CRL and tls-crypt key it was sent (ServerTrust).
 */
export interface ServerMaterial {
  files(): { ca: string; cert: string; key: string; tlsCrypt: string; crl: string };
  /** Writes a new CA/CRL/tls-crypt (the CRL is re-read by running servers at their next handshake). */
  install(t: ServerTrust): Promise<void>;
}

/** What a gateway sends every few seconds; silent for GATEWAY_DEAD_AFTER, it is down. */
export interface GatewayHeartbeat {
  name: string;
  /** When the gateway sent it (ISO); the bot judges liveness by when it arrived. */
  sentAt: string;
  /** Changes when the gateway process restarts: a new boot with nothing running means "restart my nodes". */
  bootId: string;
  description: GatewayDescription;
  /** Ids of the nodes whose services run there. */
  running: string[];
}
