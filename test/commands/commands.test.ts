import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseImport } from '../../src/fleet/import/index.ts';
import { ADMIN, fileOf, OPERATOR, testApp, VIEWER, type TestApp } from '../kit/app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.dispose();
});

const LIST = [
  '# servers',
  '203.0.113.5:alice:s3cret-one',
  '203.0.113.6:bob:s3cret-two',
  '999.1.1.1:carol:s3cret-three',
  'Ip: 198.51.100.7',
  'Login: dave',
  'Pass: s3cret-four',
  'State: OH',
  'City: Akron',
  '',
].join('\n');

async function seed(): Promise<void> {
  const out = await t.run('import', OPERATOR, [fileOf('servers.txt', LIST)]);
  expect(out.kind).toBe('ok');
  t.port.clear();
}

describe('import', () => {
  it('imports an attachment and reports added / updated / duplicate / rejected with line numbers', async () => {
    const out = await t.run('import', OPERATOR, [fileOf('servers.txt', LIST)]);
    expect(out.kind).toBe('ok');
    const text = t.port.publicText();
    expect(text).toContain('Imported **servers.txt**: **3 added**, 0 updated, 0 duplicate, 1 rejected');
    expect(text).toMatch(/\s4\s+invalid IP "999\.1\.1\.1": octet 999 is out of range/);
    const csv = t.port.public().flatMap((m) => m.files ?? []).find((f) => f.name === 'rejected-servers.csv');
    expect(csv?.data.toString('utf8')).toBe('line,reason\r\n4,"invalid IP ""999.1.1.1"": octet 999 is out of range"\r\n');
    expect(t.app.store.nodes().map((n) => [n.ip, n.login, n.state, n.city, n.importedFrom])).toEqual([
      ['203.0.113.5', 'alice', null, null, 'servers.txt'],
      ['203.0.113.6', 'bob', null, null, 'servers.txt'],
      ['198.51.100.7', 'dave', 'Ohio', 'Akron', 'servers.txt'],
    ]);
    // The public report never carries a password, even of a rejected line.
    expect(text).not.toMatch(/s3cret/);

    t.port.clear();
    await t.run('import', OPERATOR, [fileOf('again.txt', '203.0.113.5:alice:s3cret-one\n203.0.113.6:bob:new-pass\n203.0.113.6:erin:x\n')]);
    expect(t.port.publicText()).toContain('**1 added**, 1 updated, 1 duplicate, 0 rejected');
    expect(t.app.store.onIp('203.0.113.6').map((n) => [n.login, n.password])).toEqual([['bob', 'new-pass'], ['erin', 'x']]);
  });

  it('refuses a binary, empty or oversized file and writes nothing', async () => {
    const before = JSON.stringify(t.app.store.nodes());
    for (const [name, data, why] of [
      ['empty.txt', Buffer.alloc(0), /empty/],
      ['random.bin', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)), /binary|not text|UTF-8/i],
      ['utf16.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('203.0.113.5:a:b\n', 'utf16le')]), /UTF-16/],
    ] as const) {
      t.port.clear();
      const out = await t.run('import', OPERATOR, [fileOf(name, data)]);
      expect(out.kind, name).toBe('failed');
      expect(t.port.privateText()).toMatch(why);
      expect(t.port.privateText()).toContain('Nothing was imported');
    }
    const big = await testApp({ IMPORT_MAX_BYTES: '2048' });
    const out = await big.run('import', OPERATOR, [fileOf('big.txt', '203.0.113.5:a:b\n'.repeat(200))]);
    expect(out.kind).toBe('failed');
    expect(big.port.privateText()).toContain('big.txt is 3.1 KiB, over the 2.0 KiB limit');
    expect(big.app.store.nodes()).toHaveLength(0);
    await big.dispose();
    expect(JSON.stringify(t.app.store.nodes())).toBe(before);
  });

  it('applies nothing once the bot is stopping (ctx.signal)', async () => {
    t.dispatcher.close();
    expect((await t.run('import', OPERATOR, [fileOf('late.txt', '203.0.113.5:a:b\n')])).kind).toBe('failed');
    expect(t.port.privateText()).toContain('Connexa is stopping; nothing of late.txt was imported');
    expect(t.app.store.nodes()).toHaveLength(0);
  });

  it('asks for a file, and refuses paths outside the terminal', async () => {
    expect((await t.run('import', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText()).toContain('no file: attach a server list');
    t.port.clear();
    expect((await t.run('import /etc/passwd', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText()).toContain('file paths work only in the terminal');
  });

  it('reports an account given different passwords in one file as a conflict, with the line that won', async () => {
    const file = '203.0.113.5:alice:first-pw\n203.0.113.6:bob:pw\n203.0.113.5:alice:second-pw\n203.0.113.5:alice:second-pw\n';
    expect((await t.run('import', OPERATOR, [fileOf('c.txt', file)])).kind).toBe('ok');
    const text = t.port.publicText();
    expect(text).toContain('**2 added**, 0 updated, 1 duplicate, 1 in conflict, 0 rejected');
    expect(text).toContain('Conflicts: the same IP and login with different passwords in this file; the last line won');
    expect(text).toMatch(/lines\s+kept\n1, 3\s+3\n/);
    expect(text).not.toContain('-pw');
    expect(t.app.store.onIp('203.0.113.5').map((n) => n.password)).toEqual(['second-pw']);
  });

  it('fails with "nothing found" for a file in which no line is a server', async () => {
    const b64 = Buffer.from('203.0.113.5:alice:pw\n'.repeat(20)).toString('base64').replace(/.{76}/g, '$&\n');
    for (const [name, data] of [
      ['v6.txt', '2001:db8::1 alice pw\n[2001:db8::2]:1723:bob:pw\nfe80::1:carol:pw\n'],
      ['list.b64', b64],
      ['passwd', 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'],
    ] as const) {
      t.port.clear();
      const out = await t.run('import', OPERATOR, [fileOf(name, data)]);
      expect(out.kind, name).toBe('failed');
      expect(t.port.privateText()).toContain(`nothing found in ${name}: none of its`);
      expect(t.port.privateText()).toContain('Nothing was imported');
    }
    expect(t.app.store.nodes()).toHaveLength(0);
  });

  it('is for operators', async () => {
    expect((await t.run('import', VIEWER, [fileOf('s.txt', LIST)])).kind).toBe('denied');
    expect(t.app.store.nodes()).toHaveLength(0);
  });
});

describe('list, show, stats, secrets', () => {
  it('lists a page as a table with the next page command', async () => {
    t.app.store.addNodes(Array.from({ length: 30 }, (_, i) => ({ ip: `10.1.0.${i + 1}`, login: 'u', password: 'p', country: 'US' })), null);
    await t.run('list country:US', VIEWER);
    const text = t.port.publicText();
    expect(text).toContain('30 nodes match country:us · page 1 of 2 — next: `/connexa list country:US page=2`');
    expect(text).toContain('10.1.0.25');
    expect(text).not.toContain('10.1.0.26 ');
    t.port.clear();
    await t.run('list country:US page=2', VIEWER);
    expect(t.port.publicText()).toContain('10.1.0.30');
    expect(t.port.publicText()).not.toContain('next:');
  });

  it('shows a node without its password, and secrets sends it privately to operators only', async () => {
    await seed();
    await t.run('show 203.0.113.5', VIEWER);
    expect(t.port.publicText()).toContain('**n1** `203.0.113.5:1723` login `alice` — **not_tested**');
    expect(t.port.publicText()).not.toContain('s3cret');
    t.port.clear();
    expect((await t.run('secrets n1', VIEWER)).kind).toBe('denied');
    t.port.clear();
    await t.run('secrets n1', OPERATOR);
    expect(t.port.publicText()).not.toContain('s3cret');
    const direct = t.port.calls.filter((c) => c.verb === 'sendDirect');
    expect(direct).toHaveLength(1);
    expect(direct[0]!.verb === 'sendDirect' && direct[0]!.msg.text).toContain('s3cret-one');
  });

  it('delivers secrets in place when SECRETS_DELIVERY=thread', async () => {
    const th = await testApp({ SECRETS_DELIVERY: 'thread' });
    th.app.store.addNodes([{ ip: '203.0.113.5', login: 'a', password: 'pw-xyz' }], null);
    await th.run('secrets n1', OPERATOR);
    expect(th.port.calls.map((c) => c.verb)).toEqual(['postPrivate']);
    expect(th.port.privateText()).toContain('pw-xyz');
    await th.dispose();
  });

  it('counts by status and by country', async () => {
    await seed();
    t.app.store.transition({ id: 'n1', from: 'not_tested', to: 'ping_ok', reason: 'x', actor: 't' });
    await t.run('stats', VIEWER);
    const text = t.port.publicText();
    expect(text).toContain('**3 nodes**');
    expect(text).toMatch(/not_tested\s+2/);
    expect(text).toMatch(/ping_ok\s+1/);
    expect(text).toMatch(/\(unknown\)\s+3/);
  });

  it('counts countries where the IP database places the nodes, the claim only where it has none, and says so', async () => {
    const at = (country: string | null) => ({ country, region: null, city: null, source: 'test db' });
    t.app.store.addNodes(
      [
        ...[1, 2, 3].map((i) => ({ ip: `203.0.113.${i}`, login: 'u', password: 'p', country: 'DE', geo: at('US') })), // claimed DE, located US
        ...[4, 5].map((i) => ({ ip: `10.0.0.${i}`, login: 'u', password: 'p', country: 'Germany', geo: at(null) })), // private: the claim counts
        { ip: '203.0.113.6', login: 'u', password: 'p', geo: at('DE') },
        { ip: '10.0.0.7', login: 'u', password: 'p' }, // never looked up, nothing claimed
      ],
      null,
    );
    await t.run('stats chart=no', VIEWER);
    const text = t.port.publicText();
    expect(text).toContain('By country (located; 2 as claimed (no location)):');
    expect(text).toMatch(/US\s+3/);
    expect(text).toMatch(/DE\s+3/);
    expect(text).toMatch(/\(unknown\)\s+1/);
    expect(text).not.toMatch(/Germany/);
    const { statsChartData } = await import('../../src/charts/stats-chart.ts');
    const d = statsChartData(t.app.store.nodes());
    expect(d.topCountries).toEqual([
      { country: 'DE', nodes: 3 },
      { country: 'US', nodes: 3 },
      { country: 'unknown', nodes: 1 },
    ]);
    expect(d.countrySource).toBe('located; 2 as claimed (no location)');
  });

  it('escapes hostile fields so they cannot break the message layout', async () => {
    t.app.store.addNodes([{ ip: '203.0.113.9', login: 'x```\n@everyone <script>', password: 'p', city: '\u202eevil' }], null);
    await t.run('list', VIEWER);
    const text = t.port.publicText();
    expect(text.match(/```/g)).toHaveLength(2); // only the table's own fences
    expect(text).not.toContain('\u202e');
  });
});

describe('reset, delete, export', () => {
  it('resets anything but online nodes and explains what it skipped', async () => {
    await seed();
    const s = t.app.store;
    s.transition({ id: 'n1', from: 'not_tested', to: 'ping_failed', reason: 'timeout', actor: 't' });
    s.transition({ id: 'n2', from: 'not_tested', to: 'ping_ok', reason: 'ok', actor: 't' });
    s.transition({ id: 'n2', from: 'ping_ok', to: 'speed_ok', reason: 'ok', actor: 't' });
    s.transition({ id: 'n2', from: 'speed_ok', to: 'online', reason: 'started', actor: 't' });
    t.app.jobs.leases.lease(['n3'], 'j9');
    expect((await t.run('reset', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText()).toContain('reset needs a filter');
    t.port.clear();
    await t.run('reset all', OPERATOR);
    const text = t.port.publicText();
    expect(text).toMatch(/reset to not_tested\s+1/);
    expect(text).toMatch(/online: skipped \(stop them first\)\s+1/);
    expect(text).toMatch(/busy in a running job: skipped\s+1/);
    expect(s.get('n1')!.status).toBe('not_tested');
    expect(s.get('n1')!.history.at(-1)).toMatchObject({ from: 'ping_failed', to: 'not_tested', reason: 'reset', actor: 'slack:UOPER' });
    expect(s.get('n2')!.status).toBe('online');
  });

  it('deletes only after confirmation with a code tied to the exact selection', async () => {
    await seed();
    const first = await t.run('delete ip:203.0.113.', ADMIN);
    expect(first.kind).toBe('needsConfirmation');
    expect(t.app.store.nodes()).toHaveLength(3);
    const rerun = first.kind === 'needsConfirmation' ? first.rerun : '';
    expect(rerun).toMatch(/^\/connexa delete ip:203\.0\.113\. confirm=[0-9a-f]{6}$/);
    expect(t.port.privateText()).toContain('This deletes 2 nodes (2 not_tested) selected by ip:203.0.113.');
    // The selection changes: the old code no longer applies.
    t.app.store.addNodes([{ ip: '203.0.113.77', login: 'z', password: 'z' }], null);
    t.port.clear();
    expect((await t.run(rerun, ADMIN)).kind).toBe('needsConfirmation');
    expect(t.port.privateText()).toContain('The selection changed');
    const second = await t.run(rerun, ADMIN);
    const again = second.kind === 'needsConfirmation' ? second.rerun : '';
    t.port.clear();
    expect((await t.run(again, ADMIN)).kind).toBe('ok');
    expect(t.port.publicText()).toMatch(/deleted\s+3/);
    expect(t.app.store.nodes().map((n) => n.ip)).toEqual(['198.51.100.7']);
  });

  it('exports csv with the node field names, privately, and the export imports back as duplicates', async () => {
    await seed();
    await t.run('export all format=csv', OPERATOR);
    expect(t.port.publicText()).toContain('Exported 3 nodes (all) as csv; the file was sent to otto privately.');
    expect(t.port.publicText()).not.toContain('s3cret');
    const file = t.port.private().flatMap((m) => m.files ?? [])[0]!;
    const csv = file.data.toString('utf8');
    expect(csv.split('\r\n')[0]).toBe('id,ip,port,login,password,provider,country,state,city,zip,comment,status,createdAt,updatedAt,importedFrom,pptp.ok,pptp.latencyMs,pptp.vendor,pptp.hostname,pptp.firmware,pptp.result,pptp.error,pptp.checkedAt,speed.downMbps,speed.upMbps,speed.error,speed.checkedAt');
    expect(csv).toContain('n3,198.51.100.7,1723,dave,s3cret-four,,,Ohio,Akron,');
    const parsed = parseImport(file.data);
    expect(parsed.ok && parsed.records.map((r) => [r.ip, r.login, r.password, r.state])).toEqual([
      ['203.0.113.5', 'alice', 's3cret-one', null],
      ['203.0.113.6', 'bob', 's3cret-two', null],
      ['198.51.100.7', 'dave', 's3cret-four', 'Ohio'],
    ]);
    t.port.clear();
    await t.run('import', OPERATOR, [fileOf(file.name, file.data)]);
    expect(t.port.publicText()).toContain('**0 added**, 0 updated, 3 duplicate, 0 rejected');
  });

  it('exports csv that imports back without altering a password a spreadsheet would take for a formula', async () => {
    const list = ['Ip: 203.0.113.5', 'Login: alice', 'Pass: -Xy7pQ', '', 'Ip: 203.0.113.6', 'Login: bob', 'Pass: =1+1', '',
      'Ip: 203.0.113.7', 'Login: carol', "Pass: '-Xy7pQ", '', 'Ip: 203.0.113.8', 'Login: dave', 'Pass: @x', ''].join('\n');
    await t.run('import', OPERATOR, [fileOf('f.csv', list)]);
    const before = t.app.store.nodes().map((n) => n.password);
    expect(before).toEqual(['-Xy7pQ', '=1+1', "'-Xy7pQ", '@x']);
    await t.run('export all format=csv', OPERATOR);
    const file = t.port.private().flatMap((m) => m.files ?? [])[0]!;
    for (const row of file.data.toString('utf8').split('\r\n').slice(1, -1)) expect(row.split(',')[4]).toMatch(/^'/);
    t.port.clear();
    await t.run('import', OPERATOR, [fileOf(file.name, file.data)]);
    expect(t.port.publicText()).toContain('**0 added**, 0 updated, 4 duplicate, 0 rejected');
    expect(t.app.store.nodes().map((n) => n.password)).toEqual(before);
  });

  it('says which nodes txt leaves out (a password with a colon), and csv carries them', async () => {
    await t.run('import', OPERATOR, [fileOf('k.txt', 'Ip: 203.0.113.5\nLogin: alice\nPass: Pa55:w0rd\n\n203.0.113.6:bob:plain\n')]);
    t.port.clear();
    expect((await t.run('export all format=txt', OPERATOR)).kind).toBe('ok');
    expect(t.port.publicText()).toContain('Exported 1 node (all) as txt');
    expect(t.port.publicText()).toContain('1 node left out (n1): txt cannot carry them; use format=csv.');
    expect(t.port.privateText()).not.toContain('Pa55');
    expect(t.port.private().flatMap((m) => m.files ?? [])[0]!.data.toString()).toBe('203.0.113.6:bob:plain\n');
    t.port.clear();
    await t.run('export n1 format=csv', OPERATOR);
    const csv = parseImport(t.port.private().flatMap((m) => m.files ?? [])[0]!.data);
    expect(csv.ok && csv.records.map((r) => r.password)).toEqual(['Pa55:w0rd']);
    t.port.clear();
    await t.run('help export', OPERATOR);
    expect(t.port.publicText() + t.port.privateText()).toContain("txt (ip:login:password only, re-importable: no port, provider, location or comment");
  });

  it('exports txt in the importer format 7 and refuses socks when nothing is online', async () => {
    await seed();
    await t.run('export ip:203.0.113. format=txt', OPERATOR);
    expect(t.port.private().flatMap((m) => m.files ?? [])[0]!.data.toString()).toBe('203.0.113.5:alice:s3cret-one\n203.0.113.6:bob:s3cret-two\n');
    t.port.clear();
    expect((await t.run('export format=socks', OPERATOR)).kind).toBe('failed');
    expect(t.port.privateText()).toContain('no online nodes with a SOCKS proxy match all nodes');
  });
});
