/**
 * Tests may talk to loopback only (and, in the lab suite, to the 10.0.0.0/8 addresses of the network
 * namespaces the tests create). Any other connection attempt from a test process throws at once, so
 * that a node with a documentation address (203.0.113.x) in some test can never be probed for real.
 */
import net from 'node:net';

const LAB = process.env.CONNEXA_TEST_NETWORK === 'lab';

function allowed(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').replace(/^::ffff:/i, '');
  if (h === 'localhost' || h === '::1') return true;
  if (net.isIPv4(h)) {
    const first = Number(h.split('.')[0]);
    return first === 127 || (LAB && first === 10);
  }
  return false;
}

const original = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  // net.connect() passes its already-normalised arguments as one array.
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  let host: string | undefined;
  if (first && typeof first === 'object') {
    const o = first as { host?: string; path?: string; port?: unknown };
    if (o.path === undefined) host = o.host ?? 'localhost';
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const second = Array.isArray(args[0]) ? (args[0] as unknown[])[1] : args[1];
    host = typeof second === 'string' ? second : 'localhost';
  }
  if (host !== undefined && !allowed(host)) {
    throw new Error(`test network guard: refusing to connect to ${host} (tests may use loopback${LAB ? ' and lab namespaces' : ''} only)`);
  }
  return (original as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
