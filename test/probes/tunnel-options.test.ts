import { describe, expect, it } from 'vitest';
import { pppdOptionsFile, quotePppdWord, readPppdWords, targetProblem } from '../../src/probes/tunnel/pppd-options.ts';

const words = (text: string) => readPppdWords(Buffer.from(text, 'utf8')).map((b) => b.toString('utf8'));
const target = { ip: '203.0.113.5', port: 1723, login: 'u1', password: 'p1' };

describe('quotePppdWord: pppd options-file quoting', () => {
  const nasty = [
    'plain',
    'with space',
    'double"quote',
    "single'quote",
    'hash#not-a-comment',
    '# leading hash',
    'back\\slash',
    'trailing backslash\\',
    '\\x41 is not an escape here',
    '\\"',
    'ünïcødé € 密码 🚀',
    'tab\there',
    'new\nline',
    '',
    '   ',
    '\\\\\\',
    `p a"s's#w\\\\ör d€ \\x41 # end`,
  ];
  for (const v of nasty) {
    it(`round-trips ${JSON.stringify(v)} through pppd's word syntax`, () => {
      const q = quotePppdWord(v);
      expect(words(`password ${q}\n`)).toEqual(['password', v]);
      // The quoted form is printable ASCII only: no raw byte can depend on pppd's locale.
      expect(q).toMatch(/^"[\x20-\x7e]*"$/);
    });
  }

  it('writes non-ASCII as \\xHH UTF-8 bytes with exactly two digits', () => {
    expect(quotePppdWord('ü1')).toBe('"\\xc3\\xbc1"');
    expect(quotePppdWord('\n0')).toBe('"\\x0a0"');
  });

  it('escapes only the double quote and the backslash among printable characters', () => {
    expect(quotePppdWord(`a"b\\c'd#e f`)).toBe(`"a\\"b\\\\c'd#e f"`);
  });

  it('the reader follows pppd: comments, both quotes, escapes, octal and hex', () => {
    expect(words('a b # comment "x"\n c')).toEqual(['a', 'b', 'c']);
    expect(words(`'x y' "p#q" r\\ s \\101\\x42 \\t`)).toEqual(['x y', 'p#q', 'r s', 'AB', '\t']);
  });
});

describe('pppdOptionsFile', () => {
  it('carries the credentials only as quoted words and every option vm-lab.md verified', () => {
    const text = pppdOptionsFile({ target: { ...target, login: 'bob "the" #1', password: 'a b#c\\d"e' }, pptpPath: '/usr/sbin/pptp' });
    const w = words(text);
    expect(w.slice(0, 2)).toEqual(['pty', '/usr/sbin/pptp 203.0.113.5 --nolaunchpppd --loglevel 1']);
    expect(w[w.indexOf('user') + 1]).toBe('bob "the" #1');
    expect(w[w.indexOf('password') + 1]).toBe('a b#c\\d"e');
    for (const o of ['require-mschap-v2', 'require-mppe-128', 'refuse-pap', 'refuse-chap', 'refuse-mschap', 'refuse-eap', 'noauth', 'nodefaultroute', 'noipdefault', 'nodetach', 'logfd', 'maxfail']) {
      expect(w).toContain(o);
    }
  });

  it('refuses what it must not write', () => {
    expect(() => pppdOptionsFile({ target: { ...target, ip: 'evil; rm -rf /' }, pptpPath: '/usr/sbin/pptp' })).toThrow(/not an IPv4 address/);
    expect(() => pppdOptionsFile({ target, pptpPath: '/usr/sbin/pptp; id' })).toThrow(/unexpected pptp path/);
  });
});

describe('targetProblem', () => {
  it('accepts an IPv4 literal on 1723 with sane credentials', () => {
    expect(targetProblem(target)).toBeNull();
  });
  it.each([
    [{ ip: 'vpn.example.com' }, /not an IPv4 address .*host names are not dialled/],
    [{ ip: '203.0.113.5 ; reboot' }, /not an IPv4 address/],
    [{ ip: '2001:db8::1' }, /not an IPv4 address/],
    [{ ip: '203.0.113.256' }, /not an IPv4 address/],
    [{ port: 1724 }, /port 1724: pptp can dial only port 1723/],
    [{ login: '' }, /login is empty/],
    [{ password: 'a\0b' }, /NUL/],
    [{ login: 'x'.repeat(256) }, /longer than pppd's 255 bytes/],
    [{ password: 'é'.repeat(128) }, /password is longer than pppd's 255 bytes/],
  ])('refuses %j', (patch, reason) => {
    expect(targetProblem({ ...target, ...patch })).toMatch(reason);
  });
});
