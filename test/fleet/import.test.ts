// The import parser, format by format, then mixed files and text encodings.
import { describe, expect, it } from 'vitest';
import { MAX_IMPORT_BYTES, parseImport } from '../../src/fleet/import/index.ts';
import { lines, parseOk, rec } from './fixtures/import-helpers.ts';

describe('format 1: key/value block', () => {
  it('reads every field', () => {
    const r = parseOk(lines(
      'Ip: 203.0.113.5', 'Login: u1', 'Pass: p1', 'State: Ohio', 'City: Akron', 'Zip: 44301',
      'Country: us', 'Provider: Northwind', 'Port: 1724', 'Comment: rack 4 <b>',
    ));
    expect(r.records).toStrictEqual([
      rec(1, {
        ip: '203.0.113.5', login: 'u1', password: 'p1', state: 'Ohio', city: 'Akron', zip: '44301',
        country: 'US', provider: 'Northwind', port: 1724, comment: 'rack 4 <b>',
      }),
    ]);
    expect(r.rejected).toEqual([]);
    expect(r.skipped).toBe(0);
    expect(r.lines).toBe(10);
  });

  it('accepts key aliases in any case and decorations before the key', () => {
    const r = parseOk(lines(
      'IP address: 203.0.113.5', 'USERNAME: u1', 'pwd: p1', '',
      'host: 203.0.113.6', 'User: u2', 'Password: p2', '',
      '• Ip: 203.0.113.7', '- user_name: u3', '🔑 PASS: a:b c', // the value is everything after the first colon
    ));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1' }),
      rec(5, { ip: '203.0.113.6', login: 'u2', password: 'p2' }),
      rec(9, { ip: '203.0.113.7', login: 'u3', password: 'a:b c' }),
    ]);
    expect(r.skipped).toBe(2);
  });

  it('ends a block at a blank line, a separator, or a new Ip: key; keys may come before Ip:', () => {
    const r = parseOk(lines(
      'Ip: 203.0.113.5', 'Login: u1', 'Pass: p1',
      'Ip: 203.0.113.6', 'Login: u2', 'Pass: p2',
      '-----',
      'Login: u3', 'Pass: p3', 'Ip: 203.0.113.7',
      '=====',
      'Ip: 203.0.113.8', 'Login: u4', 'Pass: p4',
    ));
    expect(r.records.map((x) => [x.line, x.ip, x.login, x.password])).toEqual([
      [1, '203.0.113.5', 'u1', 'p1'],
      [4, '203.0.113.6', 'u2', 'p2'],
      [8, '203.0.113.7', 'u3', 'p3'],
      [12, '203.0.113.8', 'u4', 'p4'],
    ]);
    expect(r.skipped).toBe(2);
  });

  it('takes a port from Ip: address:port or a Port: key', () => {
    const r = parseOk(lines('Ip: 203.0.113.5:1724', 'Login: u1', 'Pass: p1', '', 'Ip: 203.0.113.6', 'Port: 443', 'Login: u2', 'Pass: p2'));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', port: 1724, login: 'u1', password: 'p1' }),
      rec(5, { ip: '203.0.113.6', port: 443, login: 'u2', password: 'p2' }),
    ]);
  });

  it('rejects invalid ports, pointing at the Port line', () => {
    const r = parseOk(lines(
      'Ip: 203.0.113.5', 'Login: u1', 'Pass: p1', 'Port: 0', '',
      'Ip: 203.0.113.6', 'Login: u2', 'Pass: p2', 'Port: 65536', '',
      'Ip: 203.0.113.7:http', 'Login: u3', 'Pass: p3',
    ));
    expect(r.records).toEqual([]);
    expect(r.rejected).toEqual([
      { line: 4, reason: 'invalid port "0": must be between 1 and 65535 (record starting at line 1)', text: 'Port: 0' },
      { line: 9, reason: 'invalid port "65536": must be between 1 and 65535 (record starting at line 6)', text: 'Port: 65536' },
      { line: 11, reason: 'invalid port "http": not a number', text: 'Ip: 203.0.113.7:http' },
    ]);
  });

  it('rejects a block with a missing password or conflicting values', () => {
    const r = parseOk(lines(
      'Ip: 203.0.113.5', 'Login: u1', '',
      'Ip: 203.0.113.6', 'Login: u2', 'Pass: p2', 'Login: u3', '',
      'Ip: 203.0.113.7:1724', 'Port: 1723', 'Login: u4', 'Pass: p4', '',
      'Login: u5', 'Pass: p5',
    ));
    expect(r.records).toEqual([]);
    expect(r.rejected).toEqual([
      { line: 1, reason: 'missing password', text: 'Ip: 203.0.113.5' },
      { line: 7, reason: 'conflicting login values (lines 5 and 7) (record starting at line 4)', text: 'Login: u3' },
      { line: 10, reason: 'conflicting port values (lines 9 and 10) (record starting at line 9)', text: 'Port: 1723' },
      { line: 14, reason: 'missing IP address', text: 'Login: u5' },
    ]);
  });

  it('passes over unknown keys and header lines inside a block', () => {
    const r = parseOk(lines('Ip: 203.0.113.5', 'Speed: 10 Mbps', 'Login: u1', 'checked ✅', 'Pass: p1', '', 'Note: a fresh batch'));
    expect(r.records).toStrictEqual([rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1' })]);
    expect(r.rejected).toEqual([]);
    // Speed, checked, blank, and the lone Note block (prose, not a server).
    expect(r.skipped).toBe(4);
  });
});

describe('format 2: spaces', () => {
  it('reads ip login password [state], with spaces or tabs', () => {
    const r = parseOk(lines('203.0.113.5 u1 p1 OH', '203.0.113.6\tu2\t p2', '  203.0.113.7   u3 p3   New York  ', '203.0.113.8 u4 p4 ontario'));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1', state: 'Ohio' }),
      rec(2, { ip: '203.0.113.6', login: 'u2', password: 'p2' }),
      rec(3, { ip: '203.0.113.7', login: 'u3', password: 'p3', state: 'New York' }),
      rec(4, { ip: '203.0.113.8', login: 'u4', password: 'p4', state: 'Ontario' }),
    ]);
  });

  it('does not guess extra words or a missing password', () => {
    const r = parseOk(lines('203.0.113.5 u1 p1 OH Akron 44301', '203.0.113.6 u2', '203.0.113.7'));
    expect(r.rejected).toEqual([
      { line: 1, reason: '6 space-separated fields: expected ip login password [state]', text: '203.0.113.5 u1 p1 OH Akron 44301' },
      { line: 2, reason: 'missing password (expected: ip login password [state])', text: '203.0.113.6 u2' },
      { line: 3, reason: 'an IP address without login and password', text: '203.0.113.7' },
    ]);
  });
});

describe('format 3: dash and pipe', () => {
  it('reads ip - login:password - State/City ZIP | timestamp (the timestamp becomes the comment)', () => {
    const r = parseOk(lines(
      '203.0.113.5 - u1:p1 - Ohio/Akron 44301 | 2025-09-03 10:00:00',
      '203.0.113.6 - u2:p2 - OH/Akron',
      '203.0.113.7 - u3:p3 - ON/Toronto M5V 3L9',
      '203.0.113.8 - u4:p4',
      '203.0.113.9 - u5:p5 | 2025-09-04 11:00:00',
    ));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1', state: 'Ohio', city: 'Akron', zip: '44301', comment: '2025-09-03 10:00:00' }),
      rec(2, { ip: '203.0.113.6', login: 'u2', password: 'p2', state: 'Ohio', city: 'Akron' }),
      rec(3, { ip: '203.0.113.7', login: 'u3', password: 'p3', state: 'Ontario', city: 'Toronto', zip: 'M5V 3L9' }),
      rec(4, { ip: '203.0.113.8', login: 'u4', password: 'p4' }),
      rec(5, { ip: '203.0.113.9', login: 'u5', password: 'p5', comment: '2025-09-04 11:00:00' }),
    ]);
  });

  it('rejects credentials without exactly one colon and unknown locations', () => {
    const r = parseOk(lines('203.0.113.5 - u1 - Ohio', '203.0.113.6 - u:2:p2 - Ohio', '203.0.113.7 - u3:p3 - US/Ohio/Akron 44301'));
    expect(r.rejected).toEqual([
      { line: 1, reason: 'credentials have no ":" between login and password', text: '203.0.113.5 - u1 - Ohio' },
      {
        line: 2,
        reason: "credentials contain 2 ':' characters: ambiguous (a login or password containing ':'?); use the key/value or CSV format",
        text: '203.0.113.6 - u:2:p2 - Ohio',
      },
      { line: 3, reason: 'unrecognized location "US/Ohio/Akron": expected State/City ZIP', text: '203.0.113.7 - u3:p3 - US/Ohio/Akron 44301' },
    ]);
  });
});

describe('formats 4 and 7: colon-separated', () => {
  it('reads ip:login:password:country:state:zip and ip:login:password', () => {
    const r = parseOk(lines('203.0.113.5:u1:p1:US:Ohio:44301', '203.0.113.6:u2:p2:us:OH:', '198.51.100.7:u3:p3', '198.51.100.8:u4:p4:CA:ON:K1A 0B1'));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1', country: 'US', state: 'Ohio', zip: '44301' }),
      rec(2, { ip: '203.0.113.6', login: 'u2', password: 'p2', country: 'US', state: 'Ohio' }),
      rec(3, { ip: '198.51.100.7', login: 'u3', password: 'p3' }),
      rec(4, { ip: '198.51.100.8', login: 'u4', password: 'p4', country: 'CA', state: 'Ontario', zip: 'K1A 0B1' }),
    ]);
  });

  it('refuses 4 or 5 fields (a colon in a login or password, or ip:port:...) instead of guessing', () => {
    const amb = (n: number) => `${n} colon-separated fields: ambiguous (a login or password containing ':'?); use the key/value or CSV format`;
    const r = parseOk(lines('1.2.3.4:us:er:pw', '203.0.113.5:1723:u1:p1', '203.0.113.6:u:s:e:r', '203.0.113.7:a:b:c:d:e:f', '203.0.113.8:u1', '203.0.113.9:1723 u1 p1'));
    expect(r.records).toEqual([]);
    expect(r.rejected).toEqual([
      { line: 1, reason: amb(4), text: '1.2.3.4:us:er:pw' },
      { line: 2, reason: amb(4), text: '203.0.113.5:1723:u1:p1' },
      { line: 3, reason: amb(5), text: '203.0.113.6:u:s:e:r' },
      { line: 4, reason: amb(7), text: '203.0.113.7:a:b:c:d:e:f' },
      { line: 5, reason: 'missing password (expected ip:login:password)', text: '203.0.113.8:u1' },
      {
        line: 6,
        reason: '"203.0.113.9:1723" is an address with a port; a port is only accepted in the key/value "Ip:" field or a port column',
        text: '203.0.113.9:1723 u1 p1',
      },
    ]);
  });

  it('rejects an empty login or password and whitespace inside them', () => {
    const r = parseOk(lines('203.0.113.5::p1', '203.0.113.6:u2:', '203.0.113.7:u3:p3 OH'));
    expect(r.rejected).toEqual([
      { line: 1, reason: 'missing login', text: '203.0.113.5::p1' },
      { line: 2, reason: 'missing password', text: '203.0.113.6:u2:' },
      { line: 3, reason: 'password contains whitespace', text: '203.0.113.7:u3:p3 OH' },
    ]);
  });
});

describe('formats 5 and 6: multi-line with Credentials and Location', () => {
  it('reads IP / Credentials / Location / ZIP', () => {
    const r = parseOk(lines(
      'IP: 203.0.113.5', 'Credentials: u1:p1', 'Location: US (Ohio, Akron)', 'ZIP: 44301', '',
      'IP: 203.0.113.6', 'Credentials: u2:p2', 'Location: CA (ON)', '',
      'IP: 203.0.113.7', 'Credentials: u3:p3', 'Location: Ohio', '',
      'IP: 203.0.113.8', 'Credentials: u4:p4', 'Location: United States (New York, Buffalo)',
    ));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1', country: 'US', state: 'Ohio', city: 'Akron', zip: '44301' }),
      rec(6, { ip: '203.0.113.6', login: 'u2', password: 'p2', country: 'CA', state: 'Ontario' }),
      rec(10, { ip: '203.0.113.7', login: 'u3', password: 'p3', state: 'Ohio' }),
      rec(14, { ip: '203.0.113.8', login: 'u4', password: 'p4', country: 'United States', state: 'New York', city: 'Buffalo' }),
    ]);
  });

  it('rejects ambiguous credentials and unreadable locations', () => {
    const r = parseOk(lines('IP: 203.0.113.5', 'Credentials: u:1:p1', '', 'IP: 203.0.113.6', 'Credentials: u2:p2', 'Location: Ohio, Akron'));
    expect(r.rejected).toEqual([
      {
        line: 2,
        reason: "credentials contain 2 ':' characters: ambiguous (a login or password containing ':'?); use the key/value or CSV format (record starting at line 1)",
        text: 'Credentials: u:1:p1',
      },
      {
        line: 6,
        reason: 'unrecognized Location "Ohio, Akron": expected "Country (State, City)" (record starting at line 4)',
        text: 'Location: Ohio, Akron',
      },
    ]);
  });

  it('format 6: skips the header lines and takes the provider from "> NAME:" until the next blank line', () => {
    const r = parseOk(lines(
      '> PPTP_SVOIM_VPN:',
      '🚨 PPTP Connection',
      '🌐 IP: 203.0.113.5',
      '🔑 Credentials: u1:p1',
      '📍 Location: US (Ohio, Akron)',
      'ZIP: 44301',
      'IP: 203.0.113.6',
      'Credentials: u2:p2',
      'Provider: Own',
      '',
      '🚨 PPTP Connection',
      'IP: 203.0.113.7',
      'Credentials: u3:p3',
    ));
    expect(r.records).toStrictEqual([
      rec(3, { ip: '203.0.113.5', login: 'u1', password: 'p1', country: 'US', state: 'Ohio', city: 'Akron', zip: '44301', provider: 'PPTP_SVOIM_VPN' }),
      rec(7, { ip: '203.0.113.6', login: 'u2', password: 'p2', provider: 'Own' }),
      rec(12, { ip: '203.0.113.7', login: 'u3', password: 'p3' }),
    ]);
    expect(r.skipped).toBe(4);
  });

  it('reads lines quoted in chat ("> ...")', () => {
    const r = parseOk(lines('> IP: 203.0.113.5', '> Credentials: u1:p1', '>', '> 203.0.113.6:u2:p2'));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1' }),
      rec(4, { ip: '203.0.113.6', login: 'u2', password: 'p2' }),
    ]);
  });
});

describe('CSV with a header row', () => {
  it('maps columns in any order, with aliases, and handles RFC 4180 quoting', () => {
    const r = parseOk(lines(
      'Username,Host,"Pass",State,zip,comment',
      'u1,203.0.113.5,p1,OH,44301,plain',
      'u2,203.0.113.6,"p,2 ""x""",ON,,"has, comma"',
      '"u3",203.0.113.7,p3,,,"first line',
      'second line"',
      ' u4 , 198.51.100.4 , p4 ,,,',
    ));
    expect(r.records).toStrictEqual([
      rec(2, { ip: '203.0.113.5', login: 'u1', password: 'p1', state: 'Ohio', zip: '44301', comment: 'plain' }),
      rec(3, { ip: '203.0.113.6', login: 'u2', password: 'p,2 "x"', state: 'Ontario', comment: 'has, comma' }),
      rec(4, { ip: '203.0.113.7', login: 'u3', password: 'p3', comment: 'first line\nsecond line' }),
      rec(6, { ip: '198.51.100.4', login: 'u4', password: 'p4' }),
    ]);
    expect(r.skipped).toBe(1);
    expect(r.lines).toBe(6);
  });

  it("imports the app's own export (node field names as header, unknown columns ignored)", () => {
    const r = parseOk(lines(
      'id,ip,port,login,password,provider,country,state,city,zip,comment,status,createdAt,updatedAt,importedFrom',
      'n1,203.0.113.5,1723,u1,p1,ACME,US,Ohio,Akron,44301,,speed_ok,2025-09-01T00:00:00Z,2025-09-02T00:00:00Z,list.txt',
      'n2,203.0.113.6,1724,u2,"p""2",,,,,,"note, with comma",not_tested,x,y,',
    ));
    expect(r.records).toStrictEqual([
      rec(2, { ip: '203.0.113.5', port: 1723, login: 'u1', password: 'p1', provider: 'ACME', country: 'US', state: 'Ohio', city: 'Akron', zip: '44301' }),
      rec(3, { ip: '203.0.113.6', port: 1724, login: 'u2', password: 'p"2', comment: 'note, with comma' }),
    ]);
  });

  it('accepts semicolon and tab delimiters', () => {
    const r = parseOk(lines('ip;login;password', '203.0.113.5;u1;p1', '', 'ip\tuser\tpwd', '203.0.113.6\tu2\tp2'));
    expect(r.records).toStrictEqual([
      rec(2, { ip: '203.0.113.5', login: 'u1', password: 'p1' }),
      rec(5, { ip: '203.0.113.6', login: 'u2', password: 'p2' }),
    ]);
  });

  it('ends the block at a blank line, a separator, or a line without a delimiter', () => {
    const r = parseOk(lines(
      'ip,login,password', '203.0.113.5,u1,p1', '', '203.0.113.6,u2,p2',
      'ip,login,password', '203.0.113.7,u3,p3', '---', '203.0.113.8 u4 p4',
      'ip,login,password', '203.0.113.9,u5,p5', 'IP: 198.51.100.1', 'Credentials: u6:p6',
    ));
    expect(r.records.map((x) => [x.line, x.ip])).toEqual([[2, '203.0.113.5'], [6, '203.0.113.7'], [8, '203.0.113.8'], [10, '203.0.113.9'], [11, '198.51.100.1']]);
    expect(r.rejected).toEqual([
      { line: 4, reason: 'a delimited line without a CSV header row; start the block with a header such as "ip,login,password"', text: '203.0.113.6,u2,p2' },
    ]);
  });

  it('rejects rows with the wrong number of fields, malformed quotes, and missing columns', () => {
    const r = parseOk(lines(
      'ip,login,password', '203.0.113.5,u1,p1,extra', '203.0.113.6,u2,"p2"x', '203.0.113.7,u3,"open', '203.0.113.8,u4,p4', '',
      'ip,login', '203.0.113.9,u5',
    ));
    expect(r.records).toStrictEqual([rec(5, { ip: '203.0.113.8', login: 'u4', password: 'p4' })]);
    expect(r.rejected).toEqual([
      { line: 2, reason: 'CSV row has 4 fields but the header (line 1) has 3', text: '203.0.113.5,u1,p1,extra' },
      { line: 3, reason: 'malformed CSV: unexpected "x" after a closing quote', text: '203.0.113.6,u2,"p2"x' },
      { line: 4, reason: 'malformed CSV: a quoted field is not closed before the end of the file', text: '203.0.113.7,u3,"open' },
      { line: 8, reason: 'missing password (the CSV header on line 7 has no password column)', text: '203.0.113.9,u5' },
    ]);
  });

  it('allows a line break only in the comment column', () => {
    const r = parseOk(lines('ip,login,password', '203.0.113.5,u1,"p', '1"'));
    expect(r.rejected).toEqual([{ line: 2, reason: 'password contains a line break', text: '203.0.113.5,u1,"p' }]);
  });
});

describe('states and countries', () => {
  it('expands US and CA codes, keeps other countries as given, never invents a country', () => {
    const r = parseOk(lines(
      '203.0.113.1 u p oh',
      '203.0.113.3:u:p:CA:ON:',
      '203.0.113.4:u:p:AU:WA:',
      '203.0.113.5:u:p:de:BY:',
      '203.0.113.6 u p WASHINGTON',
      '203.0.113.8:u:p:Germany:Bavaria:80331',
    ));
    expect(r.records.map((x) => [x.country, x.state])).toEqual([
      [null, 'Ohio'], ['CA', 'Ontario'], ['AU', 'WA'], ['DE', 'BY'], [null, 'Washington'], ['Germany', 'Bavaria'],
    ]);
    expect(r.rejected).toEqual([]);
  });
});

describe('credentials are never split into a location', () => {
  it('refuses a space-separated tail that is not a US state or Canadian province (a password with a space)', () => {
    const r = parseOk(lines('203.0.113.12 user8 correct horse', '203.0.113.13 user9 pw Bavaria', '203.0.113.14 user10 pw TX'));
    expect(r.records).toStrictEqual([rec(3, { ip: '203.0.113.14', login: 'user10', password: 'pw', state: 'Texas' })]);
    const why = 'the 4th space-separated field is not a US state or Canadian province (code or name): ambiguous (a password with a space?); use the key/value or CSV format';
    expect(r.rejected).toEqual([
      { line: 1, reason: why, text: '203.0.113.12 user8 correct horse' },
      { line: 2, reason: why, text: '203.0.113.13 user9 pw Bavaria' },
    ]);
    // The reason a public report shows never quotes the would-be password.
    expect(r.rejected[0]!.reason).not.toContain('horse');
  });

  it('refuses six colon fields whose tail is not a country, state and ZIP (a password with a colon)', () => {
    const r = parseOk(lines(
      '203.0.113.14:user10:Pa55:w0rd:TX:75001',
      '203.0.113.15:user11:Pa55:US:w0rd:75001',
      '203.0.113.16:user12:Pa55:US:TX:w0rd',
      '203.0.113.17:user13:Pa55:US:ON:',
      '203.0.113.18:user14:Pa55:US:TX:75001',
      '203.0.113.19:user15:Pa55:::',
    ));
    expect(r.records).toStrictEqual([
      rec(5, { ip: '203.0.113.18', login: 'user14', password: 'Pa55', country: 'US', state: 'Texas', zip: '75001' }),
      rec(6, { ip: '203.0.113.19', login: 'user15', password: 'Pa55' }),
    ]);
    const amb = (what: string) => `${what}: ambiguous (a login or password containing ':'?); use the key/value or CSV format`;
    expect(r.rejected.map((x) => [x.line, x.reason])).toEqual([
      [1, amb('the 4th of 6 colon-separated fields is not a country code or name')],
      [2, amb('the 5th of 6 colon-separated fields is not a US state or Canadian province')],
      [3, amb('the 6th of 6 colon-separated fields is not a ZIP or postal code')],
      [4, amb('the 5th of 6 colon-separated fields is not a US state or Canadian province')],
    ]);
    for (const x of r.rejected) expect(x.reason).not.toContain('w0rd');
  });

  it('refuses a dash-format location whose state is not recognisable', () => {
    const r = parseOk(lines('203.0.113.5 - u1:p1 - Narnia/Akron 44301', '203.0.113.6 - u2:p2 - /Akron'));
    expect(r.rejected).toEqual([
      {
        line: 1,
        reason: 'unrecognized location: the state is not a US state or Canadian province (code or name); expected State/City ZIP',
        text: '203.0.113.5 - u1:p1 - Narnia/Akron 44301',
      },
    ]);
    expect(r.records).toStrictEqual([rec(2, { ip: '203.0.113.6', login: 'u2', password: 'p2', city: 'Akron' })]);
  });
});

describe('a mixed file', () => {
  const file = [
    'PPTP servers list', //                                       1 header
    '# exported by hand', //                                      2 comment
    'Ip: 203.0.113.1', //                                         3 format 1
    'Login: u1',
    'Pass: p1',
    'State: OH',
    '', //                                                        7
    '203.0.113.2 u2 p2 TX', //                                    8 format 2
    '203.0.113.3 - u3:p3 - Ohio/Akron 44301 | 2025-09-03 10:00:00', // 9 format 3
    '203.0.113.4:u4:p4:US:Ohio:44301', //                         10 format 4
    '-----', //                                                   11
    'IP: 203.0.113.5', //                                         12 format 5
    'Credentials: u5:p5',
    'Location: US (Ohio, Akron)',
    'ZIP: 44301',
    '', //                                                        16
    '> PPTP_SVOIM_VPN:', //                                       17 format 6
    '🚨 PPTP Connection',
    'IP: 203.0.113.6',
    'Credentials: u6:p6',
    'Location: US (Texas, Austin)',
    'ZIP: 73301',
    '', //                                                        23
    '// one-liners', //                                           24
    '203.0.113.7:u7:p7', //                                       25 format 7
    '999.1.1.1:u8:p8', //                                         26 rejected
    'ip,login,password,city', //                                  27 CSV
    '198.51.100.1,u9,"p,9",Akron',
    '203.0.113.7:u7:p7', //                                       29 a duplicate is returned, not dropped
  ];

  const expected = [
    rec(3, { ip: '203.0.113.1', login: 'u1', password: 'p1', state: 'Ohio' }),
    rec(8, { ip: '203.0.113.2', login: 'u2', password: 'p2', state: 'Texas' }),
    rec(9, { ip: '203.0.113.3', login: 'u3', password: 'p3', state: 'Ohio', city: 'Akron', zip: '44301', comment: '2025-09-03 10:00:00' }),
    rec(10, { ip: '203.0.113.4', login: 'u4', password: 'p4', country: 'US', state: 'Ohio', zip: '44301' }),
    rec(12, { ip: '203.0.113.5', login: 'u5', password: 'p5', country: 'US', state: 'Ohio', city: 'Akron', zip: '44301' }),
    rec(19, { ip: '203.0.113.6', login: 'u6', password: 'p6', country: 'US', state: 'Texas', city: 'Austin', zip: '73301', provider: 'PPTP_SVOIM_VPN' }),
    rec(25, { ip: '203.0.113.7', login: 'u7', password: 'p7' }),
    rec(28, { ip: '198.51.100.1', login: 'u9', password: 'p,9', city: 'Akron' }),
    rec(29, { ip: '203.0.113.7', login: 'u7', password: 'p7' }),
  ];

  it('detects each format per line or block', () => {
    const r = parseOk(file.join('\n'));
    expect(r.records).toStrictEqual(expected);
    expect(r.rejected).toEqual([{ line: 26, reason: 'invalid IP "999.1.1.1": octet 999 is out of range', text: '999.1.1.1:u8:p8' }]);
    // lines 1, 2, 7, 11, 16, 17, 18, 23, 24, 27
    expect(r.skipped).toBe(10);
    expect(r.lines).toBe(29);
  });

  it('gives the same result for CRLF, CR, a UTF-8 BOM, a Buffer and a trailing line break', () => {
    const base = parseOk(file.join('\n'));
    for (const input of [
      file.join('\r\n'),
      `${file.join('\r')}\r`,
      `\uFEFF${file.join('\n')}`,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(file.join('\r\n'))]),
      `${file.join('\n')}\n`,
    ]) {
      expect(parseOk(input)).toStrictEqual(base);
    }
  });

  it('treats tabs like spaces around separators and keys', () => {
    const r = parseOk(lines('203.0.113.5\t\tu1\tp1\tOH', 'Ip:\t203.0.113.6', 'Login:\tu2\t', 'Pass:\tp2', '203.0.113.7\t-\tu3:p3\t-\tOhio/Akron'));
    expect(r.records).toStrictEqual([
      rec(1, { ip: '203.0.113.5', login: 'u1', password: 'p1', state: 'Ohio' }),
      rec(2, { ip: '203.0.113.6', login: 'u2', password: 'p2' }),
      rec(5, { ip: '203.0.113.7', login: 'u3', password: 'p3', state: 'Ohio', city: 'Akron' }),
    ]);
  });
});

describe('comments, blanks and headers', () => {
  it('a file of only comments and blank lines is fine and has no records', () => {
    const r = parseOk(lines('# a', '', '// b', '   ', '-----', 'PPTP servers list', '03.09.2025 fresh servers', '2025.09.03:'));
    expect(r).toStrictEqual({ ok: true, records: [], rejected: [], skipped: 8, lines: 8 });
  });

  it('a line with an address that fits no format is rejected, not skipped as a header', () => {
    const r = parseOk(lines('Server 203.0.113.5 u1 p1', 'vpn.example.com:u1:p1', 'Host: vpn.example.com', 'User: u', 'Pass: p'));
    expect(r.rejected).toEqual([
      { line: 1, reason: 'unrecognized line: it contains an IP address but matches no known format', text: 'Server 203.0.113.5 u1 p1' },
      { line: 2, reason: '"vpn.example.com" is a hostname; only IPv4 addresses are accepted', text: 'vpn.example.com:u1:p1' },
      {
        line: 3,
        reason: 'invalid IP "vpn.example.com": a hostname, not an IPv4 address (only IPv4 addresses are accepted)',
        text: 'Host: vpn.example.com',
      },
    ]);
  });
});

describe('the exported API', () => {
  it('has a 20 MiB default cap', () => {
    expect(MAX_IMPORT_BYTES).toBe(20 * 1024 * 1024);
  });

  it('accepts a string or a Buffer and returns the same outcome', () => {
    const text = lines('203.0.113.5:u1:p1', 'Ip: 203.0.113.6', 'Login: ü', 'Pass: 密码');
    expect(parseImport(text)).toStrictEqual(parseImport(Buffer.from(text)));
  });
});
