/**
 * Connexa's own nftables table: every per-node filter, NAT and MSS rule of this host, as set and map
 * elements keyed by interface, so a packet costs one hash lookup whether 10 or 2,000 nodes are online,
 * and a node adds no rule to the host's shared chains.
 *
 *   set guarded    tunnels to nodes' PPTP servers: only replies come in (INPUT and FORWARD), and
 *                  what they forward may only go to an OpenVPN device (tunnel-guard.ts)
 *   set ovpn_devs  OpenVPN server devices: their clients do not reach this host (INPUT reject)
 *   map egress     OpenVPN device . tunnel -> the tunnel's local address: the clients' traffic is
 *                  SNATed to it (the PPTP server knows only that address) (ovpn/routing.ts)
 *   (and every TCP SYN forwarded into a tunnel is clamped to the path MTU: PPTP's is lower than
 *   tun's 1500. Matched on the set, not the map: kernels before 6.x refuse a map as a plain lookup.)
 *
 * Changes are queued and applied in batches, one `nft -f -` each, which the kernel applies atomically.
 * The first batch replaces whatever table a crashed run left (the sweep), and `close` deletes it
 * whole. A policy-accept chain cannot let through what the host's own firewall drops: a host whose
 * FORWARD policy is DROP must allow forwarding between cxo* and the tunnels there (README).
 */
import { spawn } from 'node:child_process';

export const NFT_TABLE = 'connexa';
/** Every OpenVPN server device is cxo + port (see ovpn/layout.ts). */
const OVPN_DEVICES = 'cxo*';

/** Runs `nft -f -` with a script on stdin. */
export type NftRunner = (script: string) => Promise<{ ok: boolean; stderr: string }>;

/** `command` runs nft: `['nft']` on this host; a prefix such as `ip netns exec NS` runs it elsewhere. */
export function nftRunner(command: readonly string[] = ['nft'], timeoutMs = 5000): NftRunner {
  const [bin, ...prefix] = command;
  return (script) =>
    new Promise((resolve) => {
      const child = spawn(bin!, [...prefix, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err) => resolve({ ok: false, stderr: err.message }));
      child.on('close', (code, signal) => resolve({ ok: code === 0, stderr: stderr.trim() || (code === 0 ? '' : `nft exited ${signal ?? code}`) }));
      child.stdin.on('error', () => {}); // nft gone before reading: its exit says why
      child.stdin.end(script);
    });
}

export class FirewallError extends Error {}

/** The table's definition; its chains never change, only the elements of its sets and map do. */
export function tableDefinition(table = NFT_TABLE): string {
  return `table inet ${table} {
  set guarded { type ifname; }
  set ovpn_devs { type ifname; }
  map egress { type ifname . ifname : ipv4_addr; }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname @guarded ct state != { established, related } drop
    iifname @ovpn_devs reject
  }
  chain forward {
    type filter hook forward priority mangle; policy accept;
    iifname @guarded ct state != { established, related } drop
    iifname @guarded oifname != "${OVPN_DEVICES}" drop
    oifname @guarded tcp flags syn / syn,rst tcp option maxseg size set rt mtu
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    snat ip to iifname . oifname map @egress
  }
}
`;
}

/** Interface names come from the kernel or our own layout; anything else never reaches nft. */
function ifname(name: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) throw new FirewallError(`not an interface name: ${JSON.stringify(name).slice(0, 40)}`);
  return `"${name}"`;
}

function ipv4(addr: string): string {
  const parts = addr.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new FirewallError(`not an IPv4 address: ${addr.slice(0, 40)}`);
  return addr;
}

interface Change {
  line: string;
  done: (err: FirewallError | null) => void;
}

export class NodeFirewall {
  private readonly nft: NftRunner;
  private readonly table: string;
  private pending: Change[] = [];
  private created = false;
  private running: Promise<void> = Promise.resolve();
  private scheduled = false;
  /** Elements in force, so a delete is only ever sent for what is there (one bad line fails a batch). */
  private readonly present = new Map<string, string>();

  constructor(nft: NftRunner, opts: { table?: string } = {}) {
    this.nft = nft;
    this.table = opts.table ?? NFT_TABLE;
  }

  addGuarded(iface: string): Promise<void> {
    return this.change('add', 'guarded', ifname(iface));
  }
  removeGuarded(iface: string): Promise<void> {
    return this.change('delete', 'guarded', ifname(iface));
  }
  addOvpnDevice(dev: string): Promise<void> {
    return this.change('add', 'ovpn_devs', ifname(dev));
  }
  removeOvpnDevice(dev: string): Promise<void> {
    return this.change('delete', 'ovpn_devs', ifname(dev));
  }
  /** The OpenVPN device's clients leave by `tunnel`, SNATed to its local address. */
  addEgress(dev: string, tunnel: string, localAddress: string): Promise<void> {
    return this.change('add', 'egress', `${ifname(dev)} . ${ifname(tunnel)}`, ipv4(localAddress));
  }
  removeEgress(dev: string, tunnel: string): Promise<void> {
    return this.change('delete', 'egress', `${ifname(dev)} . ${ifname(tunnel)}`);
  }

  /** Resolves once every change asked so far is applied (or failed). */
  async idle(): Promise<void> {
    // Every change extends `running` when it is asked; once it stops growing, all are applied.
    let last: Promise<void>;
    do {
      last = this.running;
      await last;
    } while (last !== this.running);
  }

  /** Deletes the table whole (shutdown). Never rejects: there may be nothing to delete. */
  async close(): Promise<void> {
    await this.idle();
    if (!this.created) return;
    this.created = false;
    this.present.clear();
    await this.nft(`delete table inet ${this.table}\n`);
  }

  private change(op: 'add' | 'delete', set: string, key: string, value?: string): Promise<void> {
    const id = `${set} ${key}`;
    const before = this.present.get(id);
    const element = value === undefined ? key : `${key} : ${value}`;
    let line: string;
    if (op === 'add') {
      if (before === element) return Promise.resolve();
      // A map entry is replaced, not added beside the old one: the old goes in the same batch.
      line = `${before === undefined ? '' : `delete element inet ${this.table} ${set} { ${key} }\n`}add element inet ${this.table} ${set} { ${element} }`;
      this.present.set(id, element);
    } else {
      if (before === undefined) return Promise.resolve();
      line = `delete element inet ${this.table} ${set} { ${key} }`;
      this.present.delete(id);
    }
    const undo = () => (before === undefined ? this.present.delete(id) : this.present.set(id, before));
    return new Promise((resolve, reject) => {
      this.pending.push({
        line,
        done: (err) => {
          if (!err) return resolve();
          // A failed add is not there; a failed delete is taken as gone (the table went with it).
          if (op === 'add') undo();
          reject(err);
        },
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Everything asked within this turn of the event loop (and while a batch runs) goes in one batch.
    this.running = this.running.then(
      () =>
        new Promise<void>((resolve) =>
          setImmediate(() => {
            this.scheduled = false;
            void this.apply().finally(resolve);
          }),
        ),
    );
  }

  private async apply(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    const head = this.created ? '' : `table inet ${this.table} {}\ndelete table inet ${this.table}\n${tableDefinition(this.table)}`;
    const r = await this.nft(head + batch.map((c) => c.line).join('\n') + '\n');
    if (r.ok) {
      this.created = true;
      for (const c of batch) c.done(null);
      return;
    }
    // The kernel applied nothing. Try the table alone, then each change on its own, so one bad
    // change (an interface that vanished) does not fail the others.
    if (!this.created) {
      const t = await this.nft(head);
      if (!t.ok) {
        const err = new FirewallError(`nft could not create table inet ${this.table}: ${t.stderr}`);
        for (const c of batch) c.done(err);
        return;
      }
      this.created = true;
    }
    for (const c of batch) {
      const one = await this.nft(c.line + '\n');
      c.done(one.ok ? null : new FirewallError(`nft: ${one.stderr}`));
    }
  }
}
