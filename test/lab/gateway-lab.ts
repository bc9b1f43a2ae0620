/**
 * Gateways as hosts, on one machine: each `connexa gateway` process runs in a network namespace of
 * its own, with the lab's veth tunnel driver (a /16 of its own, so their tunnels never collide in
 * the shared web namespace). Redis runs on the host with a password, listening on loopback (the
 * bot) and on the host end of each gateway's veth (the gateways). Needs root.
 *
 *   [client ns] ── host (bot, redis, ip_forward) ── [gw ns 1..n] ── veth "tunnels" ──┐
 *                                                                                [web ns] HTTP 10.213.W.5
 *
 * Clients reach a gateway's proxies and OpenVPN servers at its namespace address (its public
 * host), through the host's forwarding, as they would reach another machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startRedis, type RedisServer } from '../kit/redis.ts';
import { createNamespacePair, run, type NamespacePair } from './netns.ts';

export const WEB_PORT = 8080;
/** Answers with the address it saw: where a client's traffic left. */
const WEB_SCRIPT = `require('http').createServer((q, s) => s.end('you are ' + q.socket.remoteAddress + '\\n')).listen(${WEB_PORT}, '0.0.0.0', () => console.log('listening'))`;
const GATEWAY_SCRIPT = path.join(import.meta.dirname, 'gateway-process.ts');

export interface LabGateway {
  name: string;
  ns: NamespacePair;
  /** The veth driver's /16 there: its nodes' egress addresses are 10.<block>.x.y. */
  block: number;
  dataDir: string;
  /** Where clients reach it (its namespace address). */
  publicHost: string;
  proc: ChildProcess | null;
  /** Starts (or starts again) its `connexa gateway` process; resolves once it serves. */
  start(): Promise<void>;
  /** kill -9 of its process (a crash): its proxies die with it; its OpenVPN servers are left to it. */
  kill9(): Promise<void>;
  /** SIGTERM, and waits for the exit code. */
  stop(): Promise<number | null>;
  /** Cuts its link to the host (heartbeats stop, clients cannot reach it), or restores it. */
  link(up: boolean): Promise<void>;
  /** What of Connexa's is left in its namespace: interfaces, routes, rules, nft tables, processes. */
  leftovers(): Promise<string[]>;
  log(): string;
}

export interface GatewayLab {
  web: NamespacePair;
  client: NamespacePair;
  webAddr: string;
  redis: RedisServer;
  gateways: LabGateway[];
  /** redis:// URL the bot uses (loopback). */
  botRedisUrl: string;
  cleanup(): Promise<void>;
}

export interface GatewayLabOptions {
  names: string[];
  dir: string;
  /** Extra environment for every gateway (port ranges, GATEWAY_DEAD_AFTER ...). */
  env?: Record<string, string>;
  redisAof?: boolean;
}

export async function createGatewayLab(o: GatewayLabOptions): Promise<GatewayLab> {
  const made: NamespacePair[] = [];
  let redis: RedisServer | null = null;
  const forwardingBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const cleanupAll = async () => {
    for (const ns of made.reverse()) await ns.cleanup();
    await redis?.stop();
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardingBefore);
  };
  try {
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    const web = await createNamespacePair({ prefix: 'cnxgweb' });
    made.push(web);
    const client = await createNamespacePair({ prefix: 'cnxgcli' });
    made.push(client);
    const webAddr = web.routedAddress(1);
    await web.exec('ip', ['addr', 'add', `${webAddr}/32`, 'dev', 'lo']);
    web.spawn(process.execPath, ['-e', WEB_SCRIPT]);
    await web.waitForListener(WEB_PORT);
    await client.exec('ip', ['route', 'add', 'default', 'via', client.hostAddr]);
    const gwNs: NamespacePair[] = [];
    for (const name of o.names) {
      const ns = await createNamespacePair({ prefix: `cnxg${name}`.slice(0, 10) });
      made.push(ns);
      // Replies to clients (and Redis) go back through the host, as from any other machine.
      await ns.exec('ip', ['route', 'add', 'default', 'via', ns.hostAddr]);
      gwNs.push(ns);
    }
    redis = await startRedis({ aof: o.redisAof, bind: ['127.0.0.1', ...gwNs.map((n) => n.hostAddr)] });
    const r = redis;
    const gateways = o.names.map((name, i) => labGateway({ name, ns: gwNs[i]!, block: 215 + i, web, redis: r, dir: path.join(o.dir, `gw-${name}`), env: o.env ?? {} }));
    return { web, client, webAddr, redis: r, gateways, botRedisUrl: r.url, cleanup: cleanupAll };
  } catch (err) {
    await cleanupAll();
    throw err;
  }
}

function labGateway(g: { name: string; ns: NamespacePair; block: number; web: NamespacePair; redis: RedisServer; dir: string; env: Record<string, string> }): LabGateway {
  fs.mkdirSync(g.dir, { recursive: true, mode: 0o700 });
  let out = '';
  const env = {
    ...g.env,
    DATA_DIR: g.dir,
    GATEWAY_NAME: g.name,
    GATEWAY_PUBLIC_HOST: g.ns.nsAddr,
    REDIS_URL: `redis://:${g.redis.password}@${g.ns.hostAddr}:${g.redis.port}/0`,
    SOCKS_BIND: '0.0.0.0',
    LAB_WEB_NS: g.web.ns,
    LAB_BLOCK: String(g.block),
    LOG_FORMAT: 'json',
  };
  const self: LabGateway = {
    name: g.name,
    ns: g.ns,
    block: g.block,
    dataDir: g.dir,
    publicHost: g.ns.nsAddr,
    proc: null,
    async start() {
      const args = Object.entries(env).map(([k, v]) => `${k}=${v}`);
      const child = spawn('ip', ['netns', 'exec', g.ns.ns, 'env', ...args, process.execPath, GATEWAY_SCRIPT, 'gateway'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.on('error', () => {});
      self.proc = child;
      const seen = new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes(`gateway ${g.name} serving`)) resolve();
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('exit', (code) => reject(new Error(`gateway ${g.name} exited (${code}) before serving:\n${out.slice(-2000)}`)));
        setTimeout(() => reject(new Error(`gateway ${g.name} did not serve within 30 s:\n${out.slice(-2000)}`)), 30_000).unref();
      });
      await seen;
    },
    async kill9() {
      const c = self.proc;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    async stop() {
      const c = self.proc;
      if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
      const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill('SIGTERM');
      return exited;
    },
    async link(up: boolean) {
      await run('ip', ['link', 'set', g.ns.hostIf, up ? 'up' : 'down']);
    },
    async leftovers() {
      const found: string[] = [];
      const links = (await g.ns.exec('ip', ['-o', 'link', 'show'])).stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]!);
      for (const l of links) if (l !== 'lo' && l !== g.ns.nsIf) found.push(`interface ${l}`);
      const rules = (await g.ns.exec('ip', ['-4', 'rule', 'show'])).stdout.split('\n').filter((l) => l && !/^(0|32766|32767):/.test(l));
      for (const r of rules) found.push(`rule ${r.trim()}`);
      const routes = (await g.ns.exec('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout.split('\n').filter((l) => l && !/table (local|main)\b/.test(l) && !l.startsWith('default via') && !l.includes(g.ns.nsIf) && !l.startsWith('broadcast') && !l.startsWith('local'));
      for (const r of routes) found.push(`route ${r.trim()}`);
      const nft = (await g.ns.exec('nft', ['list', 'tables'])).stdout.split('\n').filter(Boolean);
      for (const t of nft) found.push(`nft ${t}`);
      const pids = (await run('ip', ['netns', 'pids', g.ns.ns])).stdout.split(/\s+/).filter(Boolean);
      for (const p of pids) {
        let cmd = '?';
        try {
          cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        } catch {
          continue; // gone meanwhile
        }
        if (cmd && !fs.readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ')) found.push(`process ${p} ${cmd.slice(0, 80)}`);
      }
      return found;
    },
    log: () => out,
  };
  return self;
}
