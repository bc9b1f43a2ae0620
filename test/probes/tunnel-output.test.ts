import { describe, expect, it } from 'vitest';
import { classifyExit, initialState, parseLine, tunnelReady } from '../../src/probes/tunnel/pppd-output.ts';

const feed = (lines: string[]) => {
  const s = initialState();
  for (const l of lines) parseLine(s, l);
  return s;
};

// What pppd 2.4.9 printed in the VM lab (shared/notes/vm-lab.md).
const SUCCESS = [
  'Using interface ppp0',
  'Connect: ppp0 <--> /dev/pts/1',
  'CHAP authentication succeeded',
  'MPPE 128-bit stateless compression enabled',
  'local  IP address 192.168.77.10',
  'remote IP address 192.168.77.1',
];

describe('parsing pppd output', () => {
  it('reads the interface, both addresses, the auth result and MPPE', () => {
    const s = feed(SUCCESS);
    expect(s).toMatchObject({ iface: 'ppp0', localAddress: '192.168.77.10', remoteAddress: '192.168.77.1', authOk: true, mppe: true, authFailed: null });
    expect(tunnelReady(s)).toBe(true);
  });

  it('is not ready until both addresses are known', () => {
    expect(tunnelReady(feed(SUCCESS.slice(0, 5)))).toBe(false);
  });

  it('tolerates CRLF and stray spaces, and a higher unit number', () => {
    const s = feed(['Using interface ppp12\r', '  local  IP address 10.0.0.2  ', 'remote IP address 10.0.0.1\r']);
    expect(s).toMatchObject({ iface: 'ppp12', localAddress: '10.0.0.2', remoteAddress: '10.0.0.1' });
  });

  it('keeps the server\'s own words when it refuses the credentials', () => {
    const s = feed(['Using interface ppp0', 'MS-CHAP authentication failed: Access denied', 'CHAP authentication failed']);
    expect(s.authFailed).toBe('Access denied');
    expect(s.authOk).toBe(false);
  });

  it('notices a control connection that could not be opened', () => {
    const s = feed(['anon log[main:pptp.c:353]: The synchronous pptp option is NOT activated', 'anon fatal[open_callmgr:pptp.c:487]: Could not open control connection to 10.99.0.5']);
    expect(s.connectFailed).toMatch(/Could not open control connection to 10\.99\.0\.5/);
  });

  it('notices failed negotiation', () => {
    expect(feed(['LCP: timeout sending Config-Requests']).negotiationFailed).toBe('LCP: timeout sending Config-Requests');
    expect(feed(['MPPE required but peer negotiation failed']).negotiationFailed).toMatch(/MPPE required/);
  });
});

describe('mapping pppd exit codes to typed failures', () => {
  it('19 is auth_failed, with or without the message', () => {
    expect(classifyExit(19, null, initialState())).toEqual({ kind: 'auth_failed', reason: 'the server refused the credentials' });
    expect(classifyExit(19, null, feed(['MS-CHAP authentication failed: E=691 Authentication failure'])).reason).toBe('the server refused the credentials (E=691 Authentication failure)');
  });

  it('an auth failure line wins over a hang-up code', () => {
    expect(classifyExit(16, null, feed(['CHAP authentication failed'])).kind).toBe('auth_failed');
  });

  it('3 and 4 mean this host, not the node', () => {
    expect(classifyExit(4, null, feed(['This system lacks kernel support for PPP.'])).kind).toBe('host_not_capable');
    expect(classifyExit(3, null, initialState()).kind).toBe('host_not_capable');
  });

  it('2 is our own options: local_error', () => {
    expect(classifyExit(2, null, initialState()).kind).toBe('local_error');
  });

  it('a hang-up before authentication is unreachable; after it, a protocol error', () => {
    expect(classifyExit(16, null, feed(['Using interface ppp0', 'Modem hangup'])).kind).toBe('unreachable');
    expect(classifyExit(16, null, feed(['Using interface ppp0', 'CHAP authentication succeeded', 'Modem hangup'])).kind).toBe('protocol_error');
    expect(classifyExit(8, null, initialState()).kind).toBe('unreachable');
  });

  it('pptp\'s connect failure is unreachable whatever the code', () => {
    const c = classifyExit(1, null, feed(['Could not open control connection to 203.0.113.5']));
    expect(c.kind).toBe('unreachable');
    expect(c.reason).toContain('Could not open control connection to 203.0.113.5');
  });

  it('10 and negotiation lines are protocol errors; 15 too', () => {
    expect(classifyExit(10, null, initialState()).kind).toBe('protocol_error');
    expect(classifyExit(0, null, feed(['MPPE required but peer negotiation failed'])).kind).toBe('protocol_error');
    expect(classifyExit(15, null, initialState())).toEqual({ kind: 'protocol_error', reason: 'the server stopped answering LCP echoes' });
  });

  it('killed by a signal is a local matter; unknown codes say their number', () => {
    expect(classifyExit(null, 'SIGKILL', initialState())).toEqual({ kind: 'local_error', reason: 'pppd was killed by SIGKILL' });
    expect(classifyExit(42, null, initialState()).reason).toBe('pppd exited with 42 (unknown status)');
  });
});
