/**
 * One scenario list for every chat platform: each adapter's suite implements a PlatformHarness
 * (its fake server + the real client + the bot) and runs SCENARIOS, so a new command is tested on
 * Slack and Discord by adding it here once. Platform-only behaviour (acks, 429s, token expiry)
 * stays in each platform's own suite.
 */
import { expect } from 'vitest';
import type { Composed } from '../../src/compose.ts';
import { eventually } from '../kit/wait.ts';
import type { SimFleet } from '../sim/fleet.ts';

export type HarnessUser = 'admin' | 'operator' | 'viewer' | 'stranger';

export interface SeenFile {
  name: string;
  data: Buffer;
}

/** A message as the platform's users would see it (after every edit). */
export interface SeenMessage {
  /** Platform message id (ts on Slack, snowflake on Discord). */
  id: string;
  /** Channel or thread it is in. */
  where: string;
  /** Text as currently shown, converted back to plain text by the harness (mrkdwn/markdown kept). */
  text: string;
  files: SeenFile[];
  /** The id of the message whose thread this is in, if any. */
  threadOf: string | null;
  /** How many times it was edited. */
  edits: number;
}

export interface HarnessSession {
  app: Composed;
  /** Types `/connexa <text>` as `user`, optionally with an attached file; resolves once the platform got its ack/deferral. */
  command(text: string, user: HarnessUser, attachment?: SeenFile): Promise<void>;
  /** Messages everyone in the channel (and threads) can see. */
  publicMessages(): SeenMessage[];
  /** Ephemeral replies and direct messages to `user`. */
  privateMessages(user: HarnessUser): SeenMessage[];
  /** Every request body the bot sent to the fake platform, as text (for the secrets scan). */
  publicRequestBodies(): string[];
  stop(): Promise<void>;
}

export interface PlatformHarness {
  platform: 'slack' | 'discord';
  /** Starts the fake platform and the bot on it; `env` adds to the test configuration (PING_* etc.). */
  start(env?: Record<string, string>): Promise<HarnessSession>;
}

export interface Scenario {
  name: string;
  /** Needs a simulated fleet (passed in by the suite). */
  run(h: HarnessSession, fleet: SimFleet): Promise<void>;
}

const all = (msgs: SeenMessage[]) => msgs.map((m) => m.text).join('\n');

export const SCENARIOS: Scenario[] = [
  {
    name: 'help lists every command of the registry',
    async run(h) {
      await h.command('help', 'viewer');
      await eventually(() => {
        for (const c of h.app.app.registry.list) expect(all(h.publicMessages()) + all(h.privateMessages('viewer'))).toContain(c.name);
      });
    },
  },
  {
    name: 'a viewer is refused an operator command, privately, with the role named',
    async run(h) {
      await h.command('export all', 'viewer');
      await eventually(() => expect(all(h.privateMessages('viewer'))).toMatch(/needs the \*?\*?operator\*?\*? role/));
      expect(all(h.publicMessages())).not.toMatch(/operator role/);
    },
  },
  {
    name: 'a user with no role is told which variable an admin must set',
    async run(h) {
      await h.command('stats', 'stranger');
      await eventually(() => expect(all(h.privateMessages('stranger'))).toMatch(/no Connexa role .*CONNEXA_VIEWERS/));
    },
  },
  {
    name: 'an unknown command or bad argument gets the usage privately',
    async run(h) {
      await h.command('lsit', 'viewer');
      await h.command('list colour:red', 'viewer');
      await eventually(() => {
        const text = all(h.privateMessages('viewer'));
        expect(text).toContain('Did you mean');
        expect(text).toContain('/connexa list [filter] [page=N]');
      });
    },
  },
  {
    name: 'import of an attachment replies with the report and the rejected lines as CSV',
    async run(h) {
      const data = Buffer.from('203.0.113.5:alice:pw-alice\n999.1.1.1:bob:pw-bob\n198.51.100.7 carol pw-carol OH\n', 'utf8');
      await h.command('import', 'operator', { name: 'servers.txt', data });
      await eventually(() => {
        const report = h.publicMessages().find((m) => m.text.includes('Imported'));
        expect(report?.text).toMatch(/2 added.*0 updated, 0 duplicate, 1 rejected/);
        const csv = h.publicMessages().flatMap((m) => m.files).find((f) => f.name === 'rejected-servers.csv');
        expect(csv?.data.toString('utf8')).toBe('line,reason\r\n2,"invalid IP ""999.1.1.1"": octet 999 is out of range"\r\n');
      });
      expect(h.app.app.store.nodes().map((n) => n.ip)).toEqual(['203.0.113.5', '198.51.100.7']);
    },
  },
  {
    name: 'ping over a simulated fleet: one progress message edited into the summary, failures CSV in its thread',
    async run(h, fleet) {
      h.app.app.store.addNodes(fleet.servers.map((s) => ({ ip: s.ip, port: s.port, login: s.login, password: s.password })), 'sim');
      await h.command('ping', 'operator');
      const good = fleet.servers.filter((s) => s.behaviour === 'good' || s.behaviour === 'slow').length;
      await eventually(() => {
        const parent = h.publicMessages().find((m) => /ping j\d+/.test(m.text) && m.threadOf === null);
        expect(parent?.text).toContain('finished');
        expect(parent?.text).toContain(`ok ${good}`);
        const thread = h.publicMessages().filter((m) => m.threadOf === parent!.id);
        const csv = thread.flatMap((m) => m.files).find((f) => /^ping-j\d+-failures\.csv$/.test(f.name));
        expect(csv?.data.toString('utf8').trim().split('\r\n')).toHaveLength(1 + fleet.servers.length - good);
      }, 30_000);
      expect(h.app.app.store.nodes().filter((n) => n.status === 'ping_ok')).toHaveLength(good);
    },
  },
  {
    name: 'secrets and exports reach only the operator who asked',
    async run(h) {
      h.app.app.store.addNodes([{ ip: '203.0.113.9', login: 'zed', password: 'Sup3r-Secret-PW' }], null);
      await h.command('secrets 203.0.113.9', 'operator');
      await h.command('export all format=txt', 'operator');
      await eventually(() => {
        expect(all(h.privateMessages('operator'))).toContain('Sup3r-Secret-PW');
        expect(h.privateMessages('operator').flatMap((m) => m.files).map((f) => f.data.toString())).toContain('203.0.113.9:zed:Sup3r-Secret-PW\n');
      });
      expect(all(h.publicMessages())).not.toContain('Sup3r-Secret-PW');
      for (const f of h.publicMessages().flatMap((m) => m.files)) expect(f.data.toString()).not.toContain('Sup3r-Secret-PW');
      for (const body of h.publicRequestBodies()) expect(body).not.toContain('Sup3r-Secret-PW');
    },
  },
  {
    name: 'stats attaches its PNG as a file by default; chart=no is the text alone',
    async run(h) {
      h.app.app.store.addNodes([{ ip: '203.0.113.30', login: 'a', password: 'pw-a-30', country: 'DE' }], null);
      await h.command('stats', 'viewer');
      await eventually(() => {
        const png = h.publicMessages().flatMap((m) => m.files).filter((f) => /^connexa-stats-\d{4}-\d\d-\d\d\.png$/.test(f.name));
        expect(png).toHaveLength(1);
        expect(png[0]!.data.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      }, 15_000);
      const filesBefore = h.publicMessages().flatMap((m) => m.files).length;
      const repliesBefore = h.publicMessages().filter((m) => /1 nodes/.test(m.text)).length;
      await h.command('stats chart=no', 'viewer');
      await eventually(() => expect(h.publicMessages().filter((m) => /1 nodes/.test(m.text)).length).toBe(repliesBefore + 1));
      expect(h.publicMessages().flatMap((m) => m.files)).toHaveLength(filesBefore);
    },
  },
  {
    name: 'delete asks for confirmation and runs with the code',
    async run(h) {
      h.app.app.store.addNodes([{ ip: '203.0.113.20', login: 'a', password: 'b' }], null);
      await h.command('delete 203.0.113.20', 'admin');
      let code = '';
      await eventually(() => {
        const m = /confirm=([0-9a-f]{6})/.exec(all(h.privateMessages('admin')));
        expect(m).not.toBeNull();
        code = m![1]!;
      });
      await h.command(`delete 203.0.113.20 confirm=${code}`, 'admin');
      await eventually(() => expect(h.app.app.store.onIp('203.0.113.20')).toHaveLength(0));
    },
  },
];
