/**
 * Locates an import's addresses on a thread of their own (locate-worker.ts), so that the lookups run
 * beside the main thread's work on the import instead of before it: measured on `npm run bench:geo`,
 * the lookups had made a 100,000-line import about 30 % slower on one thread.
 *
 * The thread is started when an import begins (prepare), opens the databases while the file is
 * parsed, and stops after ten minutes without work: imports in one sitting find it warm (its record
 * cache filled, its code compiled: a cold 100,000-line import takes ~0.4 s longer), and its ~70 MB
 * of databases are not kept for a bot that imports once a day. Each distinct place comes over once
 * per thread and becomes one shared, frozen object here, carrying the text the store file writes for it.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describedPlace, type GeoLocation } from './location.ts';
import type { LocateReply, LocateRequest } from './locate-worker.ts';

/**
 * The worker's file: beside this module in the sources (locate-worker.ts), or beside the bundle's
 * chunks in a build (bin/build.ts makes locate-worker.js an entry point of its own).
 */
export function locateWorkerUrl(): URL {
  const built = new URL('./locate-worker.js', import.meta.url);
  return existsSync(built) ? built : new URL('./locate-worker.ts', import.meta.url);
}

interface Waiting {
  resolve: (places: readonly GeoLocation[]) => void;
  reject: (err: Error) => void;
}

/** One worker thread's life: its places by their number there. */
interface Running {
  worker: Worker;
  places: GeoLocation[];
  waiting: Map<number, Waiting>;
}

export class BatchLocator {
  private running: Running | null = null;
  private nextRequest = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly url: URL;
  private readonly idleMs: number;

  constructor(opts: { url?: URL; idleMs?: number } = {}) {
    this.url = opts.url ?? locateWorkerUrl();
    this.idleMs = opts.idleMs ?? 10 * 60_000;
  }

  /** Starts the thread (it opens the databases) if it is not running: call when an import begins. */
  prepare(): void {
    this.start();
    if (!this.running?.waiting.size) this.idleAfterWork();
  }

  /** True while the thread is running. */
  get started(): boolean {
    return this.running !== null;
  }

  /** The location of each address, in order. Rejects when the thread fails or stops. */
  locate(ips: Uint32Array): Promise<readonly GeoLocation[]> {
    const run = this.start();
    this.clearIdle();
    const id = this.nextRequest++;
    const req: LocateRequest = { id, ips };
    return new Promise((resolve, reject) => {
      run.waiting.set(id, { resolve, reject });
      // Held while an answer is awaited: a one-shot command must not exit under it.
      run.worker.ref();
      run.worker.postMessage(req);
    });
  }

  /** Stops the thread; what was awaited is rejected. */
  async close(): Promise<void> {
    if (this.running) await this.end(this.running, new Error('the IP database thread was closed'));
  }

  private start(): Running {
    if (this.running) return this.running;
    const worker = new Worker(this.url);
    const run: Running = { worker, places: [], waiting: new Map() };
    worker.unref();
    worker.on('message', (reply: LocateReply) => this.answered(run, reply));
    worker.on('error', (err) => this.stopped(run, new Error(`the IP database thread failed: ${err.message}`)));
    worker.on('exit', (code) => this.stopped(run, new Error(`the IP database thread stopped (exit code ${code})`)));
    this.running = run;
    return run;
  }

  private answered(run: Running, reply: LocateReply): void {
    // A thread already stopped (closed, idle, failed) has no one waiting; its idle timer is not ours to set.
    if (this.running !== run) return;
    const waiting = run.waiting.get(reply.id);
    run.waiting.delete(reply.id);
    if ('error' in reply) {
      waiting?.reject(new Error(`the IP database thread could not locate: ${reply.error}`));
    } else {
      // Places come in the order the thread numbered them; a gap would mean a lost answer.
      if (reply.firstFresh !== run.places.length) {
        const err = new Error(`the IP database thread's places are out of step (${reply.firstFresh}, expected ${run.places.length})`);
        waiting?.reject(err);
        void this.end(run, err);
        return;
      }
      for (const [country, region, city, asn, asOrg, source, json] of reply.fresh) {
        run.places.push(describedPlace({ country, region, city, asn, asOrg, source }, json));
      }
      const located = new Array<GeoLocation>(reply.places.length);
      for (let i = 0; i < located.length; i++) located[i] = run.places[reply.places[i]!]!;
      waiting?.resolve(located);
    }
    if (!run.waiting.size) {
      run.worker.unref();
      this.idleAfterWork();
    }
  }

  /** The thread is gone (its exit or error event) or going: what was awaited is rejected. */
  private stopped(run: Running, err: Error): void {
    if (this.running !== run) return;
    this.running = null;
    this.clearIdle();
    for (const w of run.waiting.values()) w.reject(err);
    run.waiting.clear();
  }

  /** Stops a thread that is still running. */
  private async end(run: Running, err: Error): Promise<void> {
    this.stopped(run, err);
    await run.worker.terminate();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private idleAfterWork(): void {
    this.clearIdle();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      const run = this.running;
      if (run && !run.waiting.size) void this.end(run, new Error('idle'));
    }, this.idleMs);
    this.idleTimer.unref();
  }
}
