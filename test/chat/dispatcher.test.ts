import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, fileOf, OPERATOR, STRANGER, testApp, VIEWER, type TestApp } from '../kit/app.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.dispose();
});

describe('dispatcher', () => {
  it('generates help from the registry, and help <command> from its declaration, privately', async () => {
    expect(await t.run('help', VIEWER)).toEqual({ kind: 'ok', command: 'help' });
    for (const c of t.app.registry.list) expect(t.port.privateText()).toContain(c.usage);
    expect(t.port.publicText()).toBe('');
    t.port.clear();
    await t.run('help export', VIEWER);
    expect(t.port.privateText()).toContain('/connexa export [filter] [format=csv|txt|socks]');
    expect(t.port.privateText()).toContain('Needs the operator role.');
    expect(t.port.privateText()).toContain('`format=` csv');
    expect(t.port.publicText()).toBe('');
  });

  it('help start and help bundle say where SOCKS host names are resolved', async () => {
    for (const cmd of ['start', 'bundle']) {
      t.port.clear();
      await t.run(`help ${cmd}`, VIEWER);
      expect(t.port.privateText()).toMatch(/looked up by the bot's host with its own resolver, outside the node's tunnel/);
      expect(t.port.privateText()).toContain('SOCKS_HOSTNAMES=refuse');
    }
  });

  it('accepts a leading /connexa and treats an empty line as help', async () => {
    expect(await t.run('/connexa stats')).toEqual({ kind: 'ok', command: 'stats' });
    expect(await t.run('')).toEqual({ kind: 'ok', command: 'help' });
  });

  it('answers an unknown command privately with a suggestion', async () => {
    const out = await t.run('lsit', VIEWER);
    expect(out.kind).toBe('invalid');
    expect(t.port.public()).toEqual([]);
    expect(t.port.privateText()).toContain('unknown command `lsit`. Did you mean `list`?');
  });

  it('shows the usage on bad arguments', async () => {
    expect((await t.run('list colour:red', VIEWER)).kind).toBe('invalid');
    expect(t.port.privateText()).toContain('Usage: `/connexa list [filter] [page=N]`');
    t.port.clear();
    expect((await t.run('export format=xml', OPERATOR)).kind).toBe('invalid');
    expect(t.port.privateText()).toMatch(/format=:.*"csv"/);
    t.port.clear();
    expect((await t.run('list size=3', VIEWER)).kind).toBe('invalid');
    expect(t.port.privateText()).toContain('unknown option size=; list takes page=');
    t.port.clear();
    expect((await t.run('show', VIEWER)).kind).toBe('invalid');
    expect(t.port.privateText()).toContain('show needs an IP address or a node id');
    t.port.clear();
    expect((await t.run('stats status:ok', VIEWER)).kind).toBe('invalid');
    expect(t.port.privateText()).toContain('stats takes no filter');
  });

  it('checks the role once, before the handler, and names the role needed', async () => {
    const out = await t.run('delete all', VIEWER);
    expect(out).toEqual({ kind: 'denied', command: 'delete', needed: 'admin', held: 'viewer' });
    expect(t.port.privateText()).toBe('⛔ `delete` needs the **admin** role; you have the viewer role.');
    t.port.clear();
    await t.run('stats', STRANGER);
    expect(t.port.privateText()).toContain('you have no Connexa role (an admin can add `slack:USTRANGE` to CONNEXA_VIEWERS)');
    expect(t.port.public()).toEqual([]);
  });

  it('checks permission before showing a confirmation prompt', async () => {
    t.app.store.addNodes([{ ip: '203.0.113.5', login: 'a', password: 'b' }], null);
    const out = await t.run('delete all', OPERATOR);
    expect(out.kind).toBe('denied');
    expect(t.port.privateText()).not.toContain('confirm=');
  });

  it('lets the terminal user do everything', async () => {
    const out = await t.dispatcher.dispatch(t.port, { text: 'delete all', files: [], actor: { platform: 'terminal', id: 'root', name: 'root', roleIds: [] }, where: { key: 'x' } });
    expect(out.kind).toBe('failed'); // allowed, but there is nothing to delete
    expect(t.port.privateText()).toContain('no nodes match all');
  });

  it('reports a crashing handler without crashing the bot and logs it', async () => {
    t.app.registry.list; // the registry is real; make one command throw through the store
    const original = t.app.store.nodes;
    t.app.store.nodes = () => {
      throw new Error('boom');
    };
    const out = await t.run('stats', ADMIN);
    t.app.store.nodes = original;
    expect(out.kind).toBe('error');
    expect(t.port.privateText()).toContain('an internal error stopped the command');
    expect(t.logs.join('\n')).toContain('boom');
  });
});

describe('audit trail', () => {
  it('records every command run with its outcome, redacts secret-looking options, and is for admins', async () => {
    await t.run('stats', VIEWER);
    await t.run('delete all', VIEWER);
    await t.run('list colour:red', OPERATOR);
    await t.run('export all token=abc123 password="x y"', OPERATOR);
    const entries = t.app.store.audit();
    expect(entries.map((e) => [e.actor, e.platform, e.command, e.outcome])).toEqual([
      ['slack:UVIEW', 'slack', 'stats', 'ok'],
      ['slack:UVIEW', 'slack', 'delete', 'denied'],
      ['slack:UOPER', 'slack', 'list', 'invalid'],
      ['slack:UOPER', 'slack', 'export', 'invalid'],
    ]);
    expect(entries[1]!.detail).toBe('needs admin, has viewer');
    expect(entries[3]!.args).toBe('export all token=[redacted] password=[redacted]');
    expect((await t.run('audit', OPERATOR)).kind).toBe('denied');
    t.port.clear();
    await t.run('audit outcome=denied', ADMIN);
    const text = t.port.publicText();
    expect(text).toMatch(/slack:UVIEW\s+delete all\s+denied/);
    expect(text).toMatch(/slack:UOPER\s+audit\s+denied/);
    expect(text).not.toContain('stats');
  });
});

describe('audit trail size', () => {
  it('keeps at most a capped command word from anyone, with a marker saying how long it was', async () => {
    const word = 'x'.repeat(200_000);
    await t.run(`${word} now`, { platform: 'slack', id: 'UNOBODY', name: 'nobody', roleIds: [] });
    await t.run(`stats${'y'.repeat(100_000)}`, VIEWER);
    const entries = t.app.store.audit();
    expect(entries.map((e) => e.outcome)).toEqual(['invalid', 'invalid']);
    for (const e of entries) {
      expect(e.command.length).toBeLessThan(120);
      expect(e.args.length).toBeLessThanOrEqual(500);
    }
    expect(entries[0]!.command).toBe(`${'x'.repeat(64)}…[200000 characters]`);
    expect(entries[1]!.command).toBe(`stats${'y'.repeat(59)}…[100005 characters]`);
  });
});

describe('uploads and paths', () => {
  it('reads an upload message the same for every platform: mentions dropped, key=value options, a declared word', async () => {
    const cases: Array<[string, string]> = [
      ['', 'import'],
      ['<@U0BOT> ping', 'import test=ping'],
      ['<@123456789012345678> speed', 'import test=speed'],
      ['<@!123456789012345678> here is the list test=none', 'import test=none'],
      ['import test=ping', 'import test=ping'],
      ['here is the ping list', 'import'],
    ];
    for (const [message, line] of cases) expect(t.dispatcher.uploadLine(message), message).toBe(line);
    const none = await t.dispatcher.upload(t.port, { text: '<@123> ping', files: [], actor: OPERATOR, where: { key: 'C1' } });
    expect(none).toMatchObject([{ kind: 'failed', command: 'import' }]);
    // Two lists in one message are two imports, the same on every platform.
    const two = await t.dispatcher.upload(t.port, { text: 'test=none', files: [fileOf('a.txt', '203.0.113.5:a:b\n'), fileOf('b.txt', '203.0.113.6:c:d\n')], actor: OPERATOR, where: { key: 'C1' } });
    expect(two).toEqual([{ kind: 'ok', command: 'import' }, { kind: 'ok', command: 'import' }]);
    expect(t.app.store.jobs()).toEqual([]);
    expect(t.app.store.nodes().map((n) => n.ip).sort()).toEqual(['203.0.113.5', '203.0.113.6']);
  });

  it('names the path argument of a command that takes a file, and only that', () => {
    expect(t.dispatcher.pathArgument('import "my servers.txt" test=ping')).toBe('my servers.txt');
    expect(t.dispatcher.pathArgument('/connexa import list.txt')).toBe('list.txt');
    expect(t.dispatcher.pathArgument('import test=ping')).toBeNull();
    expect(t.dispatcher.pathArgument('show n1')).toBeNull();
    expect(t.dispatcher.pathArgument('import "unclosed')).toBeNull();
  });

  it('checks declared preconditions after the role and before a confirmation, and renders them once', async () => {
    t.app.store.addNodes([{ ip: '203.0.113.5', login: 'a', password: 'b' }], null);
    expect(await t.run('delete', ADMIN)).toMatchObject({ kind: 'failed', command: 'delete' });
    expect(t.port.privateText()).toBe('❌ delete needs a filter (e.g. `delete status:ping_failed`), or `all` to mean every node');
    expect(t.port.privateText()).not.toContain('confirm=');
    expect((await t.run('stop', VIEWER)).kind).toBe('denied');
  });
});
