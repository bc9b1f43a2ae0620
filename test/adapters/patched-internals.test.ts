/**
 * The library internals the adapters patch, checked directly so that a changed internal fails here,
 * by name, rather than as a crash or a hang somewhere in the end-to-end suites. These packages are
 * pinned exactly in package.json; when bumping one, this file says what to re-check.
 *
 *  - adapters/slack/guard.ts takes the Socket Mode client's own `ws_message` listener (every frame,
 *    as (data, isBinary)), wraps it, and acknowledges a malformed envelope with the client's private
 *    `send(envelopeId)`; adapters/slack/index.ts waits for `disconnected` on stop.
 *  - adapters/discord/raw.ts edits the gateway packet in the `raw` listener: discord.js must emit
 *    `raw` with the very object it then handles (renaming `t` drops it, filling `entitlements`
 *    repairs it).
 */
import { EventEmitter } from 'node:events';
import { LogLevel, SocketModeReceiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import { Client, Events, Status, type Interaction } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { onRaw, RawRoles, type RawPacket } from '../../adapters/discord/raw.ts';
import { FAKE_APP_TOKEN, startFakeSlack } from '../fakes/slack/server.ts';

type WsListener = (data: unknown, isBinary: boolean) => unknown;

describe('@slack/socket-mode, as Bolt\'s SocketModeReceiver holds it', () => {
  it('has one ws_message listener of its own for every frame, acks with send(id), and says disconnected', async () => {
    const fake = await startFakeSlack();
    const receiver = new SocketModeReceiver({ appToken: FAKE_APP_TOKEN, logLevel: LogLevel.ERROR, installerOptions: { clientOptions: { slackApiUrl: fake.apiUrl } } });
    const client = receiver.client;
    try {
      expect(client, 'receiver.client is the Socket Mode client').toBeInstanceOf(SocketModeClient);
      const own = client.listeners('ws_message') as WsListener[];
      expect(own.map((f) => f.name), 'the client\'s own ws_message listener, which guardEnvelopes wraps').toEqual(['bound onWebSocketMessage']);
      const send = (client as unknown as { send?: unknown }).send;
      expect(typeof send, 'SocketModeClient#send(envelopeId), which the guard acks with').toBe('function');

      const frames: Array<[unknown, unknown]> = [];
      client.on('ws_message', (data: unknown, isBinary: unknown) => {
        frames.push([data, isBinary]);
        const id = (JSON.parse(String(data)) as { envelope_id?: string }).envelope_id;
        if (id) void (send as (id: string) => Promise<void>).call(client, id);
      });
      await client.start(); // resolves on hello, which only the client's own listener turns into `connected`
      expect(frames[0], 'a text frame arrives as ws_message(string, isBinary=false)').toEqual([expect.stringContaining('"type":"hello"'), false]);

      const ack = await fake.socket.envelope('slash_commands', { command: '/connexa', text: 'stats' }, {}, 3000);
      expect(ack.payload, 'send(id) wrote a plain ack').toEqual({});

      const disconnected = new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
      await client.disconnect();
      await disconnected;
    } finally {
      await client.disconnect().catch(() => {});
      await fake.close();
    }
  });
});

describe('discord.js gateway handling', () => {
  /** A Client whose gateway manager (@discordjs/ws) is a plain emitter: dispatches without a network. */
  function offlineClient() {
    const client = new Client({ intents: [] });
    const ws = client.ws as unknown as { _ws: unknown; attachEvents?: () => void; handlePacket?: unknown; status: number; shards: Map<number, unknown> };
    expect(typeof ws.attachEvents, 'WebSocketManager#attachEvents (dispatch -> raw -> handlePacket)').toBe('function');
    expect(typeof ws.handlePacket, 'WebSocketManager#handlePacket').toBe('function');
    const gateway = Object.assign(new EventEmitter(), { destroy: async () => {} });
    ws._ws = gateway;
    ws.attachEvents!();
    ws.status = Status.Ready;
    ws.shards.set(0, { id: 0, status: Status.Ready });
    const interactions: Interaction[] = [];
    client.on(Events.InteractionCreate, (i) => interactions.push(i));
    const outcomes: string[] = [];
    const roles = new RawRoles();
    client.on(Events.Raw, (packet: RawPacket) => outcomes.push(onRaw(packet, roles, () => '9', () => {})));
    return { client, interactions, outcomes, roles, dispatch: (data: unknown) => gateway.emit('dispatch', { data, shardId: 0 }) };
  }

  const interaction = (d: Record<string, unknown>) => ({
    op: 0,
    s: 1,
    t: 'INTERACTION_CREATE',
    d: {
      id: '100',
      application_id: '200',
      type: 2,
      token: 'interaction-token',
      user: { id: '300', username: 'u', discriminator: '0', avatar: null },
      channel_id: '400',
      data: { id: '500', name: 'connexa', type: 1 },
      version: 1,
      locale: 'en-US',
      app_permissions: '0',
      ...d,
    },
  });

  it('emits raw with the very packet it then handles: the adapter drops by renaming t and repairs in place', async () => {
    const h = offlineClient();
    try {
      h.dispatch(interaction({ id: '101', user: undefined }));
      expect(h.outcomes).toEqual(['dropped']);
      expect(h.interactions, 'a packet renamed in the raw listener is not handled').toEqual([]);

      h.dispatch(interaction({ id: '102', member: { user: { id: '300', username: 'u', discriminator: '0', avatar: null }, roles: ['77'] }, guild_id: '600' }));
      expect(h.outcomes.at(-1)).toBe('repaired');
      expect(h.interactions.map((i) => i.id), 'the repaired packet (entitlements filled in) becomes an interaction').toEqual(['102']);
      expect(h.interactions[0]!.entitlements.size).toBe(0);
      expect(h.roles.take('102')).toEqual(['77']);
    } finally {
      await h.client.destroy();
    }
  });
});
