/**
 * Boots the cached lab image under QEMU once and waits for the guest to power off. The guest's
 * init (guest/init.sh) runs SHARE/suite.cjs with the host's own node binary (shared read-only over
 * 9p: the guest is bookworm, like the host, so its glibc fits) and writes everything it learns to
 * SHARE/out. `-snapshot` keeps the cached image pristine.
 *
 * TCG by default: /dev/kvm on this machine kind is nested and a stock kernel hangs on it
 * (shared/notes/vm-lab.md). CONNEXA_VM_ACCEL=kvm uses KVM where it works.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { VmImage } from './image.ts';

export interface VmRun {
  /** The guest suite's exit code, or null when the guest never wrote one. */
  guestExit: number | null;
  timedOut: boolean;
  wallMs: number;
  /** The serial console (kernel messages and anything init printed). */
  console: string;
  qemuExit: number | null;
}

export interface VmOptions {
  image: VmImage;
  /** Host directory shared as `share` (holds suite.cjs; receives out/). */
  shareDir: string;
  timeoutMs: number;
  accel?: 'tcg' | 'kvm';
  memoryMb?: number;
  cpus?: number;
}

export function qemuArgs(o: VmOptions): string[] {
  const nodeDir = path.dirname(process.execPath);
  for (const p of [o.shareDir, nodeDir, o.image.rootfs]) {
    // -virtfs and -drive take comma-separated key=value lists: a comma in a path would split it.
    if (p.includes(',')) throw new Error(`path with a comma cannot be given to qemu: ${p}`);
  }
  const accel = o.accel ?? (process.env.CONNEXA_VM_ACCEL === 'kvm' ? 'kvm' : 'tcg');
  return [
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp', String(o.cpus ?? 2),
    '-m', String(o.memoryMb ?? 768),
    '-kernel', o.image.kernel,
    '-initrd', o.image.initramfs,
    '-append', 'console=ttyS0 panic=-1 loglevel=4 random.trust_cpu=on',
    '-drive', `file=${o.image.rootfs},if=virtio,format=raw`,
    '-snapshot',
    '-virtfs', `local,path=${o.shareDir},mount_tag=share,security_model=none`,
    '-virtfs', `local,path=${nodeDir},mount_tag=nodebin,security_model=none,readonly=on`,
    '-nic', 'none',
    '-nographic',
    '-monitor', 'none',
    '-no-reboot',
  ];
}

export function runVm(o: VmOptions): Promise<VmRun> {
  const t0 = Date.now();
  fs.mkdirSync(path.join(o.shareDir, 'out'), { recursive: true });
  return new Promise((resolve, reject) => {
    const qemu = spawn('qemu-system-x86_64', qemuArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    let console = '';
    const keep = (c: Buffer) => {
      console += c.toString('utf8');
      if (console.length > 2_000_000) console = console.slice(-1_000_000);
    };
    qemu.stdout.on('data', keep);
    qemu.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, o.timeoutMs);
    qemu.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start qemu-system-x86_64: ${err.message} (apt-get install -y --no-install-recommends qemu-system-x86)`));
    });
    qemu.once('exit', (code) => {
      clearTimeout(timer);
      const exitFile = path.join(o.shareDir, 'out', 'exit-code');
      const text = fs.existsSync(exitFile) ? fs.readFileSync(exitFile, 'utf8').trim() : '';
      resolve({ guestExit: text === '' ? null : Number(text), timedOut, wallMs: Date.now() - t0, console, qemuExit: code });
    });
  });
}
