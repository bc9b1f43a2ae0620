import net from 'node:net';
import { expect, it } from 'vitest';
import { probePptp } from '../../src/probes/pptp/probe.ts';

it('the test network guard refuses anything but loopback', async () => {
  expect(() => net.connect({ host: '203.0.113.5', port: 1723 })).toThrow(/test network guard: refusing to connect to 203\.0\.113\.5/);
  expect(() => net.connect(1723, '8.8.8.8')).toThrow(/refusing/);
  // The prober's connect goes through the same guard and reports it as a local error, never a packet.
  const r = await probePptp({ host: '198.51.100.7', port: 1723 }, { timeoutMs: 500, retries: 0 });
  expect(r.outcome).toBe('local_error');
  const local = net.connect({ host: '127.0.0.1', port: 9 });
  local.on('error', () => {});
  local.destroy();
});
