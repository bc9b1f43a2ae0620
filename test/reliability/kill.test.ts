// SIGKILL the bot in the middle of a 5,000-node ping job, several times at seeded random moments.
// After each kill: the store parses, no node is lost or duplicated, every committed result is still
// there after the restart (which reports the job as interrupted with what it finished), and the
// results that were committed match what each simulated server really is. KILL_SEED replays.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimProcess, type SimProcess } from '../kit/sim-process.ts';
import { seededRandom as rng } from '../kit/random.ts';

const SEED = Number(process.env.KILL_SEED ?? Date.now() % 1_000_000);
const ROUNDS = 5;
const BIN = resolve('bin/connexa.js');
const EXPECTED: Record<string, string> = { good: 'ok', slow: 'ok', silent: 'timeout_reply', closed: 'refused', garbage: 'not_pptp', rejecting: 'rejected' };

let dir: string;
let fleet: SimProcess;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnx-kill-'));
  fleet = await startSimProcess({ count: 5000, seed: 5, mix: 'good=0.75,closed=0.1,silent=0.1,garbage=0.05', dir });
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({ PATH: process.env.PATH ?? '', HOME: dir, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'error', PROBE_ALLOW: '127.0.0.0/8', PING_TIMEOUT_MS: '400', PING_RETRIES: '0', PING_CONCURRENCY: '50' });

/** Runs connexa; kills it with SIGKILL after `killAfterMs` if given. */
function connexa(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = killAfterMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      done({ code, signal, out });
    });
  });
}

interface NodeOnDisk {
  id: string;
  ip: string;
  login: string;
  status: string;
  pptp: { result: string; checkedAt: string } | null;
}
interface StoreOnDisk {
  nodes: NodeOnDisk[];
  jobs: Array<{ id: string; state: string; done: number; total: number; createdAt: string; note: string | null }>;
}

const readStore = async (): Promise<StoreOnDisk> => JSON.parse(await readFile(join(dir, 'data', 'connexa.json'), 'utf8'));


describe(`SIGKILL during a 5,000-node job (seed ${SEED})`, () => {
  it('loses nothing that was committed, round after round', async () => {
    expect((await connexa(['import', fleet.importFile])).code).toBe(0);
    const behaviour = new Map(fleet.servers.map((s) => [s.ip, s.behaviour]));
    const rand = rng(SEED);
    const survived: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const killAt = 900 + Math.floor(rand() * 2500);
      const before = await readStore();
      // `ping all`: every round is a whole 5,000-node job (~10 s here), so each kill lands mid-job.
      const run = await connexa(['ping', 'all'], killAt);
      if (run.signal !== 'SIGKILL') break; // the job finished before the kill: nothing left to interrupt
      // What the crash left on disk.
      const crashed = await readStore();
      if (crashed.jobs.length === before.jobs.length) {
        // Killed before its first save: nothing of this run was committed, and nothing older was lost.
        expect(crashed).toEqual(before);
        survived.push(`round ${round}: killed at ${killAt} ms before the first save`);
        continue;
      }
      expect(crashed.nodes).toHaveLength(5000);
      expect(new Set(crashed.nodes.map((n) => n.id)).size).toBe(5000);
      expect(new Set(crashed.nodes.map((n) => `${n.ip}/${n.login}`)).size).toBe(5000);
      const job = crashed.jobs.at(-1)!;
      expect(job.state).toBe('running');
      // The job's progress and the node results are written together: what it says it finished is there.
      const checkedByJob = crashed.nodes.filter((n) => n.pptp && n.pptp.checkedAt >= job.createdAt);
      expect(checkedByJob).toHaveLength(job.done);
      for (const n of crashed.nodes) if (n.pptp) expect(n.pptp.result, `${n.ip} ${behaviour.get(n.ip)}`).toBe(EXPECTED[behaviour.get(n.ip)!]);
      // Restart: the job is reported as interrupted with what it finished; nothing else changes.
      const jobs = await connexa(['jobs']);
      expect(jobs.code).toBe(0);
      expect(jobs.out).toMatch(new RegExp(`${job.id}\\s+ping\\s+interrupted\\s+${job.done}/${job.total}`));
      const restarted = await readStore();
      expect(restarted.nodes).toEqual(crashed.nodes);
      expect(restarted.jobs.at(-1)).toMatchObject({ id: job.id, state: 'interrupted', note: `interrupted by a restart after ${job.done} of ${job.total}` });
      survived.push(`round ${round}: killed at ${killAt} ms after ${job.done}/${job.total}`);
    }
    // Finally let a run finish: every server ends up with the right result.
    const last = await connexa(['ping', 'all']);
    expect(last.code).toBe(0);
    const done = await readStore();
    for (const n of done.nodes) {
      expect(n.pptp?.result, `${n.ip} ${behaviour.get(n.ip)}`).toBe(EXPECTED[behaviour.get(n.ip)!]);
      expect(n.status).toBe(EXPECTED[behaviour.get(n.ip)!] === 'ok' ? 'ping_ok' : 'ping_failed');
    }
    console.log(`kill test (seed ${SEED}): ${survived.length} kill rounds survived\n  ${survived.join('\n  ')}`);
    expect(survived.length).toBeGreaterThanOrEqual(3);
  }, 240_000);
});
