/**
 * `node bench/slack-ack.ts [--count 15000] [--commands 200] [--first-address IP] [--concurrency N] [--timeout-ms N]`
 *
 * The Slack adapter under load: a ping job over a simulated fleet (in its own process, so each side
 * has its own file-descriptor budget) with the default PING_* settings, and meanwhile `--commands`
 * `/connexa stats` slash commands, one every 100 ms, through the real Bolt client in Socket Mode
 * against the fake Slack (in this process). Prints: slash-command ack latency (median, p99, max),
 * the stats reply latency, the chat.update calls the job made and their peak per 60 s window.
 * The stats commands come from 20 channels, as a team would type them; in one channel the replies
 * would queue behind Slack's ~1 post/s per channel (the adapter paces posts), the acks would not.
 * Prints figures only; never fails on time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSlackAdapter } from '../adapters/slack/index.ts';
import { compose } from '../src/compose.ts';
import { parseConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, startFakeSlack } from '../test/fakes/slack/server.ts';
import type { Ack } from '../test/fakes/slack/socket.ts';
import type { SimServer } from '../test/sim/fleet.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '15000' },
    commands: { type: 'string', default: '200' },
    /** Default: the fleet takes a free loopback block (test/kit/loopback.ts). */
    'first-address': { type: 'string' },
    /** PING_CONCURRENCY / PING_TIMEOUT_MS for the job (default: the configuration's defaults). */
    concurrency: { type: 'string' },
    'timeout-ms': { type: 'string' },
  },
});
const COUNT = Number(values.count);
const COMMANDS = Number(values.commands);
const CHANNELS = 20;

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function startFleet(dir: string): Promise<{ child: ChildProcess; servers: SimServer[] }> {
  const manifest = join(dir, 'fleet.json');
  // node directly, not npx: the pid is the fleet's own, so SIGTERM reaches it.
  const args = ['test/sim/cli.ts', '--count', String(COUNT), '--seed', '7', ...(values['first-address'] === undefined ? [] : ['--first-address', values['first-address']]), '--manifest', manifest];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('sim fleet ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the sim fleet exited (${code}) before it was ready:\n${out}`)));
  });
  const servers = (JSON.parse(await readFile(manifest, 'utf8')) as { servers: SimServer[] }).servers;
  return { child, servers };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cnx-bench-slack-'));
  const t0 = Date.now();
  const { child, servers } = await startFleet(dir);
  console.log(`sim fleet: ${servers.length} servers from ${servers[0]?.ip ?? '-'} in its own process (pid ${child.pid}), up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const fake = await startFakeSlack();
  for (let i = 0; i < CHANNELS; i++) fake.model.addChannel(`CB${String(i).padStart(2, '0')}`, `bench-${i}`, true);
  const config = parseConfig({
    DATA_DIR: join(dir, 'data'),
    CONNEXA_OPERATORS: 'slack:UOPER',
    CONNEXA_VIEWERS: 'slack:UVIEW',
    SLACK_BOT_TOKEN: FAKE_BOT_TOKEN,
    SLACK_APP_TOKEN: FAKE_APP_TOKEN,
    SLACK_API_URL: fake.apiUrl,
    PROBE_ALLOW: '127.0.0.0/8', // the simulated fleet is on loopback
    ...(values.concurrency ? { PING_CONCURRENCY: values.concurrency } : {}),
    ...(values['timeout-ms'] ? { PING_TIMEOUT_MS: values['timeout-ms'] } : {}),
  });
  const log = createLogger('error');
  const app = await compose(config, { log });
  app.app.store.addNodes(servers.map((s) => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'bench');
  const adapter = await startSlackAdapter({ config, dispatcher: app.dispatcher, log });
  console.log(`config: PING_CONCURRENCY ${config.PING_CONCURRENCY}, PING_TIMEOUT_MS ${config.PING_TIMEOUT_MS}, PING_RETRIES ${config.PING_RETRIES}; ${COMMANDS} x /connexa stats, one every 100 ms, over ${CHANNELS} channels`);

  const pingAck = await fake.slashCommand({ user: 'UOPER', text: 'ping' });
  const jobStart = Date.now();
  const channelOf = (i: number) => `CB${String(i % CHANNELS).padStart(2, '0')}`;
  const acks: Array<Promise<Ack>> = [];
  for (let i = 0; i < COMMANDS; i++) {
    acks.push(fake.slashCommand({ user: 'UVIEW', text: 'stats chart=no', channel: channelOf(i) }));
    await new Promise((r) => setTimeout(r, 100));
  }
  const settled = await Promise.allSettled(acks);
  const got = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [{ ...s.value, channel: channelOf(i) }] : []));
  const running = app.app.jobs.list().length > 0;
  await app.idle();
  const jobMs = Date.now() - jobStart;
  // The final summary edit and the failures thread come right after the job.
  const waitUntil = Date.now() + 30_000;
  while (Date.now() < waitUntil && !fake.model.messages.some((m) => m.threadTs && m.files.some((f) => f.name.endsWith('-failures.csv')))) await new Promise((r) => setTimeout(r, 100));

  const latencies = got.map((a) => a.ackedAt - a.sentAt).sort((a, b) => a - b);
  const parent = fake.model.messages.find((m) => /ping j1/.test(m.text) && m.threadTs === null);
  const updates = fake.applied('chat.update').filter((r) => r.params.ts === parent?.ts);
  const times = updates.map((r) => r.at);
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 60_000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  // From typing the command to its reply in the channel. Within a channel, the k-th stats reply answers the k-th stats command (posts there go in order).
  const replyLatency: number[] = [];
  for (let c = 0; c < CHANNELS; c++) {
    const channel = channelOf(c);
    const sent = got.filter((a) => a.channel === channel).sort((a, b) => a.sentAt - b.sentAt);
    const posted = fake.applied('chat.postMessage').filter((r) => r.params.channel === channel);
    posted.forEach((r, k) => sent[k] && replyLatency.push(r.at - sent[k]!.sentAt));
  }
  replyLatency.sort((a, b) => a - b);
  const job = app.app.store.jobs().at(-1);

  console.log('');
  console.log(`ping job: ${job?.total.toLocaleString('en-US')} nodes in ${(jobMs / 1000).toFixed(1)} s (${job?.state}); counts ${JSON.stringify(job?.counts)}`);
  console.log(`the ping command's own ack: ${pingAck.ackedAt - pingAck.sentAt} ms`);
  console.log(`slash-command acks during the job: ${got.length}/${COMMANDS} acknowledged (job still running after the last one: ${running})`);
  console.log(`  ack latency: median ${quantile(latencies, 0.5)} ms, p99 ${quantile(latencies, 0.99)} ms, max ${latencies.at(-1)} ms (Slack's deadline: 3000 ms)`);
  console.log(`  stats reply in the channel, from the command: median ${quantile(replyLatency, 0.5)} ms, p99 ${quantile(replyLatency, 0.99)} ms (${replyLatency.length} replies)`);
  console.log(`chat.update calls for the job's progress message: ${updates.length} over ${(jobMs / 1000).toFixed(1)} s; peak ${peak} in any 60 s window (budget: 50/min for the whole workspace)`);
  console.log(`all Web API calls: ${fake.requests.filter((r) => r.kind === 'api').length}; rate-limited: ${fake.requests.filter((r) => r.rateLimited).length}`);
  console.log(`final progress text: ${parent?.text.split('\n')[0]}`);

  await adapter.stop();
  await app.close();
  await fake.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
