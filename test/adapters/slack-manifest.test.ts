import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

type Yaml = string | boolean | Yaml[] | { [k: string]: Yaml };

/** Enough YAML for the manifest: nested maps, lists of scalars, comments, `>-` folded text. */
function parseYaml(text: string): Yaml {
  const lines = text.split('\n').map((l) => l.replace(/\s+#.*$|^\s*#.*$/, '')).filter((l) => l.trim());
  let i = 0;
  const scalar = (v: string): Yaml => (v === 'true' ? true : v === 'false' ? false : v.replace(/^"(.*)"$/, '$1'));
  const block = (indent: number): Yaml => {
    if (lines[i]!.trimStart().startsWith('- ')) {
      const list: Yaml[] = [];
      while (i < lines.length && lines[i]!.startsWith(`${' '.repeat(indent)}- `)) {
        const item = lines[i]!.slice(indent + 2);
        i++;
        if (/^[\w-]+:(\s|$)/.test(item)) {
          // A map inside a list (slash_commands): its first key is on the dash line.
          const obj: Record<string, Yaml> = {};
          const [k, ...v] = item.split(':');
          obj[k!] = scalar(v.join(':').trim());
          while (i < lines.length && lines[i]!.startsWith(' '.repeat(indent + 2)) && !lines[i]!.trimStart().startsWith('- ')) {
            const [k2, ...v2] = lines[i]!.trim().split(':');
            obj[k2!] = scalar(v2.join(':').trim());
            i++;
          }
          list.push(obj);
        } else list.push(scalar(item.trim()));
      }
      return list;
    }
    const map: Record<string, Yaml> = {};
    while (i < lines.length) {
      const line = lines[i]!;
      const ind = line.length - line.trimStart().length;
      if (ind < indent) break;
      const m = /^\s*([\w.-]+):\s*(.*)$/.exec(line)!;
      i++;
      if (m[2] === '' || m[2] === '>-') {
        if (m[2] === '>-') {
          while (i < lines.length && lines[i]!.length - lines[i]!.trimStart().length > ind) i++;
          map[m[1]!] = '';
        } else map[m[1]!] = block(lines[i]!.length - lines[i]!.trimStart().length);
      } else map[m[1]!] = scalar(m[2]!);
    }
    return map;
  };
  return block(0);
}

describe('the Slack app manifest', () => {
  const manifest = parseYaml(readFileSync('slack-manifest.yaml', 'utf8')) as Record<string, any>;

  it('opens the Messages tab, so people can DM the bot and upload lists there', () => {
    expect(manifest.features.app_home).toMatchObject({ messages_tab_enabled: true, messages_tab_read_only_enabled: false });
  });

  it('subscribes to the message events (DMs included) the upload listener handles, with their scopes', () => {
    const events = manifest.settings.event_subscriptions.bot_events as string[];
    expect(events).toEqual(expect.arrayContaining(['message.channels', 'message.groups', 'message.im']));
    const scopes = manifest.oauth_config.scopes.bot as string[];
    expect(scopes).toEqual(expect.arrayContaining(['channels:history', 'groups:history', 'im:history', 'files:read', 'chat:write', 'commands']));
  });

  it('turns interactivity on: the buttons send block_actions (Socket Mode delivers them)', () => {
    expect(manifest.settings.interactivity).toMatchObject({ is_enabled: true });
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });
});
