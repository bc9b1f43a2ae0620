/**
 * Which OpenVPN port each node holds, in DATA_DIR/ovpn/allocations.json (0600). The node record has
 * no field for it (node.ovpn is serial/issuedAt/revokedAt), and the port must survive a restart:
 * it is in every profile a user already has.
 */
import path from 'node:path';
import { z } from 'zod';
import { readTextOrNull, writePrivateFile } from '../private-files.ts';

const fileSchema = z.object({ version: z.literal(1), ports: z.record(z.string(), z.number().int().min(1).max(65535)) });

export class OvpnAllocations {
  private ports: Record<string, number>;

  private readonly file: string;
  private constructor(file: string, ports: Record<string, number>) {
    this.file = file;
    this.ports = ports;
  }

  static load(dir: string): OvpnAllocations {
    const file = path.join(dir, 'allocations.json');
    const text = readTextOrNull(file);
    if (text === null) return new OvpnAllocations(file, {});
    const parsed = fileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${file} is not a Connexa OpenVPN allocation file; it was left untouched`);
    return new OvpnAllocations(file, parsed.data.ports);
  }

  get(nodeId: string): number | undefined {
    return this.ports[nodeId];
  }

  entries(): Array<[string, number]> {
    return Object.entries(this.ports);
  }

  set(nodeId: string, port: number): void {
    this.ports[nodeId] = port;
    this.save();
  }

  delete(nodeId: string): void {
    if (!(nodeId in this.ports)) return;
    delete this.ports[nodeId];
    this.save();
  }

  private save(): void {
    writePrivateFile(this.file, `${JSON.stringify({ version: 1, ports: this.ports }, null, 2)}\n`);
  }
}
