/**
 * Bundles read back with Info-ZIP's unzip: contents, modes, splitting under an attachment limit.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundles, BundleTooSmall, planParts, profileFileName, safeFileName, type BundleNode } from '../../src/services/bundle/bundle.ts';
import { randomString } from '../../src/services/random.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnx-bundle-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A node with a realistic profile: ~2.7 KB of mostly base64/hex key material (compresses ~2:1). */
function node(i: number): BundleNode {
  const b64 = (n: number) => Buffer.from(randomString(n)).toString('base64').match(/.{1,64}/g)!.join('\n');
  const profile = `client\nremote vpn.example.net ${21000 + i}\n<ca>\n${b64(400)}\n</ca>\n<cert>\n${b64(450)}\n</cert>\n<key>\n${b64(180)}\n</key>\n<tls-crypt>\n${randomString(512, '0123456789abcdef').match(/.{32}/g)!.join('\n')}\n</tls-crypt>\n`;
  return { nodeId: `n${i}`, label: `203.0.113.${i} · US, Ohio`, socksLine: `proxy.example.net:${20000 + i}:cx${randomString(10).toLowerCase()}:${randomString(24)}`, profile, profileName: profileFileName(`n${i}`, `203.0.113.${i}`) };
}

function unzip(file: Buffer, name: string): { list: string; read(entry: string): string; entries: string[] } {
  const p = path.join(dir, name);
  fs.writeFileSync(p, file);
  const list = execFileSync('unzip', ['-Z', '-l', p], { encoding: 'utf8' });
  const entries = execFileSync('unzip', ['-Z1', p], { encoding: 'utf8' }).trim().split('\n');
  return { list, entries, read: (entry) => execFileSync('unzip', ['-p', p, entry], { encoding: 'utf8' }) };
}

describe('buildBundles', () => {
  it('one zip: a .ovpn per node, socks.txt with host:port:login:password, README; entries 0600', async () => {
    const nodes = [node(1), node(2), { ...node(3), profile: null, profileMissing: 'no OpenVPN port allocated' }];
    const files = await buildBundles(nodes, { maxBytes: 8 * 1024 * 1024, now: new Date('2030-01-02T03:04:05Z'), ovpnServerNote: 'the OpenVPN server side is NOT running on this host' });
    expect(files).toHaveLength(1);
    expect(files[0]!.name).toBe('connexa-bundle-2030-01-02T03-04-05.zip');
    expect(files[0]!.contentType).toBe('application/zip');
    const z = unzip(files[0]!.data, 'one.zip');
    expect(z.entries.sort()).toEqual(['README.txt', 'n1-203.0.113.1.ovpn', 'n2-203.0.113.2.ovpn', 'socks.txt']);
    expect(z.list).toMatch(/-rw-------.*n1-203\.0\.113\.1\.ovpn/);
    expect(z.read('socks.txt')).toBe(`${nodes.map((n) => n.socksLine).join('\n')}\n`);
    for (const line of z.read('socks.txt').trim().split('\n')) expect(line).toMatch(/^[\w.-]+:\d+:cx[a-z0-9]{10}:[A-Za-z0-9]{24}$/);
    expect(z.read('n1-203.0.113.1.ovpn')).toBe(nodes[0]!.profile);
    const readme = z.read('README.txt');
    expect(readme).toContain('3 nodes');
    expect(readme).toContain('NOTE: the OpenVPN server side is NOT running on this host');
    expect(readme).toContain('n3  203.0.113.3 · US, Ohio');
    expect(readme).toContain('openvpn none (no OpenVPN port allocated)');
    // The README names ports, never passwords.
    for (const n of nodes) expect(readme).not.toContain(n.socksLine.split(':')[3]!);
  });

  it('splits under the attachment limit into complete parts: every node exactly once, each part usable alone', async () => {
    const nodes = Array.from({ length: 60 }, (_, i) => node(i + 1));
    const maxBytes = 24 * 1024;
    const files = await buildBundles(nodes, { maxBytes, now: new Date('2030-01-02T03:04:05Z') });
    expect(files.length).toBeGreaterThan(2);
    const allSocks: string[] = [];
    const allProfiles: string[] = [];
    files.forEach((f, i) => {
      expect(f.data.length).toBeLessThanOrEqual(maxBytes);
      expect(f.name).toBe(`connexa-bundle-2030-01-02T03-04-05-part${i + 1}of${files.length}.zip`);
      const z = unzip(f.data, `part${i}.zip`);
      expect(z.entries).toContain('README.txt');
      expect(z.read('README.txt')).toContain(`(part ${i + 1} of ${files.length})`);
      const socks = z.read('socks.txt').trim().split('\n');
      const profiles = z.entries.filter((e) => e.endsWith('.ovpn'));
      expect(profiles.length).toBe(socks.length);
      allSocks.push(...socks);
      allProfiles.push(...profiles);
    });
    expect(allSocks.sort()).toEqual(nodes.map((n) => n.socksLine).sort());
    expect(allProfiles.sort()).toEqual(nodes.map((n) => n.profileName).sort());
    // Packing by compressed size fills parts well (no part under half the limit but the last).
    for (const f of files.slice(0, -1)) expect(f.data.length).toBeGreaterThan(maxBytes / 2);
  });

  it('refuses a limit smaller than one node', async () => {
    await expect(buildBundles([node(1)], { maxBytes: 1500 })).rejects.toBeInstanceOf(BundleTooSmall);
    expect(() => planParts([node(1)], { maxBytes: 1500 })).toThrow(BundleTooSmall);
  });

  it('makes safe file names', () => {
    expect(safeFileName('../../etc/passwd')).toBe('etc_passwd');
    expect(profileFileName('n1', '203.0.113.5')).toBe('n1-203.0.113.5.ovpn');
  });
});
