/**
 * Runs the real Debian pptpd (PoPToP) inside a lab namespace, in the foreground.
 * See /work/shared/notes/network-lab.md: it answers a correct SCCRQ with protocol 0x0100,
 * result 1, firmware 1, host name "local", vendor "linux"; it logs only to syslog, so judge it by
 * what it answers on the wire. Its manager reads each new client's first packet one client at a
 * time for up to `stimeout` seconds (10 by default): never poll it with bare TCP connects.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NamespacePair } from './netns.ts';

export interface Pptpd {
  address: string;
  port: number;
  child: ChildProcess;
  dir: string;
  /** stdout + stderr of pptpd so far (it writes little: errors before it reaches syslog). */
  output(): string;
  stop(): Promise<void>;
}

export async function startPptpd(pair: NamespacePair, opts: { address?: string; firstPacketTimeoutS?: number } = {}): Promise<Pptpd> {
  const address = opts.address ?? pair.nsAddr;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-pptpd-'));
  const optFile = path.join(dir, 'options.pptpd');
  const conf = path.join(dir, 'pptpd.conf');
  const pidFile = path.join(dir, 'pptpd.pid');
  fs.writeFileSync(optFile, ['name pptpd', 'require-mschap-v2', 'nodefaultroute', ''].join('\n'));
  fs.writeFileSync(conf, [`option ${optFile}`, 'localip 192.168.90.1', 'remoteip 192.168.90.100-200', ''].join('\n'));
  const args = ['-f', '-c', conf, '-p', pidFile, '-l', address];
  if (opts.firstPacketTimeoutS !== undefined) args.push('-t', String(opts.firstPacketTimeoutS));
  const child = pair.spawn('pptpd', args);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      pair.waitForListener(1723, 10_000),
      exited.then(() => {
        throw new Error(`pptpd exited at start-up (code ${child.exitCode}): ${out.trim() || 'no output (it logs to syslog)'}`);
      }),
    ]);
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    address,
    port: 1723,
    child,
    dir,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
