/** What a gateway is told about a node: its address, its PPTP credentials and a label (never secret). */
import type { FleetNode } from '../fleet/node.ts';
import type { NodeTarget } from './port.ts';

export function nodeLabel(n: Pick<FleetNode, 'ip' | 'country' | 'state' | 'city'>): string {
  const where = [n.country, n.state, n.city].filter(Boolean).join(', ');
  return where ? `${n.ip} · ${where}` : n.ip;
}

export function nodeTarget(n: FleetNode): NodeTarget {
  return { id: n.id, ip: n.ip, port: n.port, login: n.login, password: n.password, label: nodeLabel(n) };
}
