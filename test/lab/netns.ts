/**
 * Lab helpers: a network namespace joined to the host by a veth pair, commands run inside it, and
 * a cleanup that always runs. Needs root and iproute2 (`ip`).
 *
 * Addressing (all inside 10.213.X.0/24, X picked so no existing interface or route uses it):
 *   10.213.X.0/30   the veth link: host end .1, namespace end .2
 *   10.213.X.4/30   routed from the host into the namespace ("routedPrefix"), where nothing has it:
 *                   use it for dropped or unreachable destinations (see addDroppedAddress /
 *                   addUnreachableAddress).
 * Names are unique per process: namespace <prefix>-<pid>[-n], veth <short>h / <short>n.
 *
 * Verified on this machine kind: a blackhole route inside the namespace silently drops packets
 * (the host sees a connect timeout); an `unreachable` route inside a namespace with ip_forward=1
 * makes it answer ICMP host-unreachable (the host sees EHOSTUNREACH after ~1 s); a closed port on
 * the namespace address is refused at once.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a command on the host; rejects with its stderr when it fails. */
export async function run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: opts.timeoutMs ?? 30_000, encoding: 'utf8' });
    return { stdout, stderr };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Absolute path of an executable on PATH (plus the sbin directories), or null. */
export function which(binary: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = `${d}/${binary}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return null;
}

/**
 * Throws a clear error unless this process is root and every binary is installed. Lab tests call
 * it in beforeAll so a missing prerequisite FAILS the suite instead of silently skipping it.
 */
/** What a host that runs nodes' services needs (tunnels, their firewall, curl to test through them). */
export const NODE_HOST_TOOLS: ReadonlyArray<{ bin: string; pkg: string }> = [
  { bin: 'ip', pkg: 'iproute2' },
  { bin: 'ss', pkg: 'iproute2' },
  { bin: 'nft', pkg: 'nftables' },
  { bin: 'iptables', pkg: 'iptables' },
  { bin: 'curl', pkg: 'curl' },
];

export function requireLab(binaries: ReadonlyArray<{ bin: string; pkg: string }>): void {
  const problems: string[] = [];
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    problems.push('the lab needs root (network namespaces, veth pairs, routes): run it as root, e.g. in CI');
  }
  const missing = binaries.filter((b) => which(b.bin) === null);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
    problems.push(`missing ${missing.map((m) => m.bin).join(', ')}: apt-get update && apt-get install -y ${pkgs}`);
  }
  if (problems.length > 0) throw new Error(`lab prerequisites not met: ${problems.join('; ')}`);
}

export interface NamespacePair {
  /** Namespace name. */
  ns: string;
  hostIf: string;
  nsIf: string;
  /** Host end of the veth (10.213.X.1). */
  hostAddr: string;
  /** Namespace end of the veth (10.213.X.2). */
  nsAddr: string;
  /** 10.213.X.0/30 */
  linkPrefix: string;
  /** 10.213.X.4/30, routed from the host to the namespace. */
  routedPrefix: string;
  /** The n-th address (1 or 2) of routedPrefix: 10.213.X.5, 10.213.X.6. */
  routedAddress(n: 1 | 2): string;
  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running command inside the namespace (killed by cleanup()). */
  spawn(cmd: string, args: string[]): ChildProcess;
  /** Makes `address` (inside routedPrefix) silently drop packets: a blackhole route in the namespace. */
  addDroppedAddress(address: string): Promise<void>;
  /** Makes `address` (inside routedPrefix) answer ICMP host-unreachable: an unreachable route in the namespace. */
  addUnreachableAddress(address: string): Promise<void>;
  /** Waits until something listens on TCP `port` inside the namespace (checked with ss, no connection made). */
  waitForListener(port: number, timeoutMs?: number): Promise<void>;
  /** Kills every process in the namespace, deletes the veth pair, the routes and the namespace. Idempotent. */
  cleanup(): Promise<void>;
}

function usedThirdOctets(): Set<number> {
  const used = new Set<number>();
  let text = '';
  try {
    text = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  } catch {
    // ip missing: requireLab reports it
  }
  for (const m of text.matchAll(/10\.213\.(\d{1,3})\./g)) used.add(Number(m[1]));
  return used;
}

let sequence = 0;

/** Creates a namespace joined to the host by a veth pair, with the addressing above. */
export async function createNamespacePair(opts: { prefix?: string } = {}): Promise<NamespacePair> {
  const prefix = opts.prefix ?? 'cnxlab';
  const n = sequence++;
  const ns = `${prefix}-${process.pid}${n > 0 ? `-${n}` : ''}`;
  // IFNAMSIZ is 16 (15 characters): "cx" + pid (<= 7 digits) + sequence + h/n
  const short = `cx${process.pid}${n > 0 ? String.fromCharCode(97 + (n % 26)) : ''}`;
  const hostIf = `${short}h`;
  const nsIf = `${short}n`;
  const used = usedThirdOctets();
  let x = -1;
  for (let i = 0; i < 254; i++) {
    const c = ((process.pid + n * 7 + i) % 254) + 1;
    if (!used.has(c)) {
      x = c;
      break;
    }
  }
  if (x < 0) throw new Error('no free 10.213.X.0/24 for the lab');
  const hostAddr = `10.213.${x}.1`;
  const nsAddr = `10.213.${x}.2`;
  const linkPrefix = `10.213.${x}.0/30`;
  const routedPrefix = `10.213.${x}.4/30`;
  const children = new Set<ChildProcess>();
  let cleaned = false;

  const syncCleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) if (c.exitCode === null && c.pid) safeKill(c.pid, 'SIGKILL');
    for (const pid of namespacePids(ns)) safeKill(pid, 'SIGKILL');
    tryExec(['link', 'del', hostIf]);
    tryExec(['netns', 'del', ns]);
  };
  process.once('exit', syncCleanup);

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    // Polite first: SIGTERM every process in the namespace, then SIGKILL what is left.
    const pids = [...new Set([...namespacePids(ns), ...[...children].filter((c) => c.exitCode === null && c.pid).map((c) => c.pid!)])];
    for (const pid of pids) safeKill(pid, 'SIGTERM');
    const until = Date.now() + 2000;
    while (Date.now() < until && namespacePids(ns).length > 0) await new Promise((r) => setTimeout(r, 50));
    syncCleanup();
    process.removeListener('exit', syncCleanup);
  };

  const exec = (cmd: string, args: string[], o: { timeoutMs?: number } = {}): Promise<ExecResult> => run('ip', ['netns', 'exec', ns, cmd, ...args], o);

  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await run('ip', ['link', 'set', nsIf, 'netns', ns]);
    await run('ip', ['addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await exec('ip', ['link', 'set', 'lo', 'up']);
    await exec('ip', ['addr', 'add', `${nsAddr}/30`, 'dev', nsIf]);
    await exec('ip', ['link', 'set', nsIf, 'up']);
    // Forwarding on, so an `unreachable` route makes the namespace answer ICMP host-unreachable
    // (with forwarding off it drops everything that is not its own, silently).
    await exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await run('ip', ['route', 'add', routedPrefix, 'via', nsAddr, 'dev', hostIf]);
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    ns,
    hostIf,
    nsIf,
    hostAddr,
    nsAddr,
    linkPrefix,
    routedPrefix,
    routedAddress: (k) => `10.213.${x}.${4 + k}`,
    exec,
    spawn: (cmd, args) => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.on('error', () => {});
      return child;
    },
    addDroppedAddress: async (address) => {
      await exec('ip', ['route', 'add', 'blackhole', `${address}/32`]);
    },
    addUnreachableAddress: async (address) => {
      await exec('ip', ['route', 'add', 'unreachable', `${address}/32`]);
    },
    waitForListener: async (port, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const { stdout } = await exec('ss', ['-Hltn', `sport = :${port}`]);
        if (stdout.trim() !== '') return;
        if (Date.now() > until) throw new Error(`nothing listens on TCP ${port} in namespace ${ns} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    cleanup,
  };
}

function namespacePids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
  } catch {
    return [];
  }
}

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function tryExec(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}
