// Generates a realistic mixed-format import file for benchmarks and scale tests: all seven formats,
// CSV blocks, comments, headers, separators and about 1 % invalid lines. Deterministic per seed.
// Addresses come from 10.0.0.0/8 and are only strings here: nothing is ever contacted.
//
//   node bench/import-gen.ts 100000 out.txt
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom as rng } from '../test/kit/random.ts';

export interface GeneratedImport {
  text: string;
  lines: number;
  /** What a correct parser returns for this file. */
  expected: { records: number; rejected: number };
}


const PLACES: [code: string, name: string, city: string, zip: string][] = [
  ['OH', 'Ohio', 'Akron', '44301'], ['NY', 'New York', 'Buffalo', '14201'], ['TX', 'Texas', 'Austin', '73301'],
  ['CA', 'California', 'Fresno', '93650'], ['FL', 'Florida', 'Tampa', '33601'], ['WA', 'Washington', 'Spokane', '99201'],
  ['IL', 'Illinois', 'Peoria', '61602'], ['GA', 'Georgia', 'Macon', '31201'], ['ON', 'Ontario', 'Ottawa', 'K1A 0B1'],
  ['QC', 'Quebec', 'Laval', 'H7N 1A1'],
];
const PROVIDERS = ['PPTP_SVOIM_VPN', 'NORTHWIND_NET', 'ACME_PPTP'];
const ALNUM = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const SYMBOLS = '!@#$%^&*+=?';

export function generateImportFileWithStats(lines: number, seed: number): GeneratedImport {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out: string[] = [];
  let records = 0;
  let rejected = 0;
  let n = 0; // record counter: each record gets its own address and login, so ip+login pairs are unique

  const ip = (k: number) => `10.${(k >>> 16) & 255}.${(k >>> 8) & 255}.${k & 255}`;
  const word = (len: number, extra = '') => {
    let s = '';
    for (let i = 0; i < len; i++) s += rand() < 0.1 && extra ? pick([...extra]) : ALNUM[Math.floor(rand() * ALNUM.length)];
    return s;
  };
  const next = () => {
    n++;
    const [code, name, city, zip] = pick(PLACES);
    const country = code === 'ON' || code === 'QC' ? 'CA' : 'US';
    return { ip: ip(n), login: `u${n.toString(36)}_${word(3)}`, pass: word(8 + Math.floor(rand() * 5), SYMBOLS), code, name, city, zip, country };
  };

  // One-line formats; used on their own and to fill the last few lines exactly.
  const single = (): string => {
    const r = next();
    records++;
    switch (Math.floor(rand() * 4)) {
      case 0: return `${r.ip} ${r.login} ${r.pass}${rand() < 0.7 ? ` ${r.code}` : ''}`;
      case 1: return `${r.ip} - ${r.login}:${r.pass} - ${r.name}/${r.city} ${r.zip} | 2025-09-0${1 + Math.floor(rand() * 9)} 10:00:00`;
      case 2: return `${r.ip}:${r.login}:${r.pass}:${r.country}:${r.name}:${r.zip}`;
      default: return `${r.ip}:${r.login}:${r.pass}`;
    }
  };
  const invalid = (): string => {
    rejected++;
    const k = n + 1;
    switch (Math.floor(rand() * 4)) {
      case 0: return `10.${256 + (k % 700)}.${k & 255}.1:bad${k}:pw${k}`;
      case 1: return `${ip(k)}:us:er${k}:pw`;
      case 2: return `${ip(k)} lonely${k}`;
      default: return `0${k % 9}.1.2.3 u${k} p${k}`;
    }
  };

  while (out.length < lines) {
    const left = lines - out.length;
    const roll = rand();
    if (roll < 0.01) {
      out.push(invalid());
    } else if (roll < 0.03) {
      out.push(pick(['# ---- batch ----', '// checked by hand', '-----', 'PPTP servers list', '']));
    } else if (roll < 0.1 && left >= 8) {
      // Format 1: key/value block.
      const r = next();
      records++;
      out.push(`Ip: ${r.ip}${rand() < 0.2 ? ':1724' : ''}`, `Login: ${r.login}`, `Pass: ${r.pass}`, `State: ${r.code}`, `City: ${r.city}`, `Zip: ${r.zip}`, '');
    } else if (roll < 0.15 && left >= 6) {
      // Format 5: multi-line with Credentials / Location.
      const r = next();
      records++;
      out.push(`IP: ${r.ip}`, `Credentials: ${r.login}:${r.pass}`, `Location: ${r.country} (${r.name}, ${r.city})`, `ZIP: ${r.zip}`, '');
    } else if (roll < 0.19 && left >= 8) {
      // Format 6: format 5 under a channel-post header.
      const r = next();
      records++;
      out.push(`> ${pick(PROVIDERS)}:`, '🚨 PPTP Connection', `IP: ${r.ip}`, `Credentials: ${r.login}:${r.pass}`, `Location: ${r.country} (${r.name}, ${r.city})`, `ZIP: ${r.zip}`, '');
    } else if (roll < 0.2 && left >= 30) {
      // A CSV block, some fields quoted (embedded commas, doubled quotes, a line break).
      const rows = 5 + Math.floor(rand() * Math.min(60, left - 25));
      out.push('ip,login,password,state,city,zip,comment');
      for (let k = 0; k < rows && out.length < lines - 3; k++) {
        const r = next();
        records++;
        const q = rand();
        if (q < 0.1) out.push(`${r.ip},${r.login},"${r.pass},x","${r.code}",${r.city},${r.zip},"said ""hi"""`);
        else if (q < 0.13) out.push(`${r.ip},${r.login},${r.pass},${r.code},${r.city},${r.zip},"two`, `lines"`);
        else out.push(`${r.ip},${r.login},${r.pass},${r.code},${r.city},${r.zip},`);
      }
      out.push('');
    } else {
      out.push(single());
    }
  }
  // A multi-line CSV row may overshoot by one line; trim with blank/complete lines only.
  while (out.length > lines) {
    const last = out.pop()!;
    if (last !== '') throw new Error('generator overshoot on a non-blank line');
  }
  return { text: `${out.join('\n')}\n`, lines: out.length, expected: { records, rejected } };
}

/** A mixed-format import file of exactly `lines` lines. */
export function generateImportFile(lines: number, seed: number): string {
  return generateImportFileWithStats(lines, seed).text;
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const count = Number(process.argv[2] ?? 100_000);
  const file = process.argv[3];
  const seed = Number(process.argv[4] ?? 1);
  if (!Number.isInteger(count) || count < 1 || !file) {
    console.error('usage: node bench/import-gen.ts <lines> <out.txt> [seed]');
    process.exit(2);
  }
  const g = generateImportFileWithStats(count, seed);
  writeFileSync(file, g.text);
  console.log(`wrote ${g.lines} lines (${Buffer.byteLength(g.text)} bytes) to ${file}: ${g.expected.records} records, ${g.expected.rejected} invalid lines`);
}
