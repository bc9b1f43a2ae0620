/**
 * One node's OpenVPN server on this host: its config file, the supervised process and the routing
 * of its client subnet into the node's tunnel. When the process crashes and comes back, its tun
 * device is new and the kernel has dropped the routes through the old one, so routing is installed
 * again and re-attached to the current tunnel.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log.ts';
import { writePrivateFile } from '../private-files.ts';
import type { OvpnLayout } from './layout.ts';
import type { ServerMaterial } from '../../gateway/port.ts';
import { OvpnServerProcess } from './process.ts';
import { renderServerConfig } from './render.ts';
import { SubnetRouting, type Egress, type RoutingTools } from './routing.ts';

export interface NodeOvpnServerOptions {
  nodeId: string;
  nodeLabel: string;
  layout: OvpnLayout;
  /** The CA, server key and certificate, tls-crypt key and CRL the server reads (the bot's PKI, or a remote gateway's own). */
  material: ServerMaterial;
  /** DATA_DIR/ovpn: config and pid files live here. */
  dir: string;
  binary: string;
  tools: RoutingTools;
  log: Logger;
  readyTimeoutMs?: number;
  dns?: readonly string[];
  /**
   * The account to switch to once started, or null to keep root. Given only when the material's CRL
   * stays readable by that account (else the server would refuse every client after the switch).
   */
  runAs?: { user: string; group: string } | null;
}

export class NodeOvpnServer {
  private readonly process: OvpnServerProcess;
  private readonly routing: SubnetRouting;
  private egress: Egress | null = null;
  readonly configPath: string;

  private readonly o: NodeOvpnServerOptions;
  constructor(o: NodeOvpnServerOptions) {
    this.o = o;
    this.configPath = path.join(o.dir, `${o.nodeId}.conf`);
    const pidFile = path.join(o.dir, `${o.nodeId}.pid`);
    this.routing = new SubnetRouting(o.layout, o.tools);
    const tag = { node: o.nodeId, port: o.layout.port };
    this.process = new OvpnServerProcess({
      binary: o.binary,
      configPath: this.configPath,
      pidFile,
      readyTimeoutMs: o.readyTimeoutMs,
      onLine: (line) => o.log.debug('openvpn', { ...tag, line }),
      onCrash: (c) => o.log.warn('openvpn server exited; restarting', { ...tag, code: c.code, signal: c.signal, restartInMs: c.restartInMs, last: c.lastLines.slice(-3) }),
      onRecovered: () => {
        void (async () => {
          try {
            await this.routing.install();
            if (this.egress) await this.routing.attach(this.egress);
            o.log.info('openvpn server restarted', tag);
          } catch (err) {
            o.log.error('openvpn server restarted but its routing could not be restored', { ...tag, error: (err as Error).message });
          }
        })();
      },
    });
  }

  private writeConfig(): void {
    const f = this.o.material.files();
    writePrivateFile(
      this.configPath,
      renderServerConfig({
        nodeId: this.o.nodeId,
        nodeLabel: this.o.nodeLabel,
        layout: this.o.layout,
        paths: { ...f, pidFile: path.join(this.o.dir, `${this.o.nodeId}.pid`) },
        dns: this.o.dns,
        runAs: this.o.runAs ?? null,
      }),
    );
  }

  get running(): boolean {
    return this.process.running;
  }

  /** Writes the config, starts the server (ready), installs the subnet's rule and kill switch. */
  async start(): Promise<void> {
    this.writeConfig();
    await this.process.start();
    try {
      await this.routing.install();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async attach(e: Egress): Promise<void> {
    this.egress = e;
    await this.routing.attach(e);
  }

  async detach(): Promise<void> {
    this.egress = null;
    await this.routing.detach();
  }

  /** Routing first (nothing may leave by another path while the server winds down), then the process. */
  async stop(): Promise<void> {
    this.egress = null;
    await this.routing.remove();
    await this.process.stop();
    fs.rmSync(this.configPath, { force: true });
  }
}
