/**
 * The Debian `openvpn` client run against a profile in a network namespace, for the lab test and
 * the bench. Resolves when the client says "Initialization Sequence Completed" or gives up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface OvpnClientRun {
  /** true once "Initialization Sequence Completed" was printed. */
  connected: boolean;
  /** Milliseconds from spawn to "Initialization Sequence Completed" (or to giving up). */
  ms: number;
  output: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `openvpn --config PROFILE` in `netns`. `handshakeOnly` adds --dev null (no tun, no routes).
 * A refused client (TLS error) exits after `handWindowS`, thanks to --tls-exit.
 */
export async function runOvpnClient(o: { profile: string; netns: string; handshakeOnly?: boolean; handWindowS?: number; timeoutMs?: number }): Promise<OvpnClientRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-ovpnc-'));
  const file = path.join(dir, 'client.ovpn');
  fs.writeFileSync(file, o.profile, { mode: 0o600 });
  const extra = ['--tls-exit', '--hand-window', String(o.handWindowS ?? 5), '--connect-retry-max', '1', '--verb', '3'];
  if (o.handshakeOnly) extra.push('--dev', 'null', '--ifconfig-noexec', '--route-noexec');
  const t0 = Date.now();
  const child = spawn('ip', ['netns', 'exec', o.netns, 'openvpn', '--config', file, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const result = await new Promise<{ connected: boolean; ms: number }>((resolve) => {
    const timer = setTimeout(() => resolve({ connected: false, ms: Date.now() - t0 }), o.timeoutMs ?? 20_000);
    const onData = (c: Buffer) => {
      output += c.toString();
      if (output.includes('Initialization Sequence Completed')) {
        clearTimeout(timer);
        resolve({ connected: true, ms: Date.now() - t0 });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      resolve({ connected: output.includes('Initialization Sequence Completed'), ms: Date.now() - t0 });
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return {
    ...result,
    child,
    stop,
    get output() {
      return output;
    },
  };
}
