import { describe, expect, it } from 'vitest';
import { bar, bold, clean, code, duration, plural, splitText, table } from '../../src/chat/render.ts';

describe('clean', () => {
  it('blanks control and direction characters, turns backticks into quotes, and caps the length', () => {
    expect(clean('a\u0000b\nc\u202ed\u200be')).toBe('a b c d e');
    expect(clean('```fence```')).toBe("'''fence'''");
    expect(clean(null)).toBe('');
    expect(clean(undefined)).toBe('');
    expect(clean(42)).toBe('42');
    expect(clean('x'.repeat(70))).toBe(`${'x'.repeat(63)}…`);
    expect(clean('abcdef', 4)).toBe('abc…');
    expect(clean('abcd', 4)).toBe('abcd');
  });

  it('code and bold wrap the text; code cleans it first', () => {
    expect(code('a`b')).toBe("`a'b`");
    expect(bold('x')).toBe('**x**');
  });
});

describe('table', () => {
  it('pads columns to the widest cell, right-aligns the numeric ones and fences the block', () => {
    const t = table(['ip', 'ms'], [['10.0.0.1', 5], ['10.0.0.22', 1234], ['10.0.0.3', null]], [1]);
    expect(t.split('\n')).toEqual(['```', 'ip           ms', '10.0.0.1      5', '10.0.0.22  1234', '10.0.0.3      –', '```']);
  });

  it('counts emoji and CJK as two cells, and cleans hostile cells', () => {
    const t = table(['c', 'n'], [['🚀', 'x'], ['日本', 'y'], ['a`\nb', 'z']]);
    expect(t.split('\n').slice(1, -1)).toEqual(['c     n', '🚀    x', '日本  y', "a' b  z"]);
  });

  it('caps a long cell at maxCell', () => {
    expect(table(['h'], [['y'.repeat(50)]], [], 10)).toContain(`${'y'.repeat(9)}…`);
  });
});

describe('bar, plural, duration', () => {
  it('draws a 20-cell bar that never overflows; an empty total counts as done', () => {
    expect(bar(7, 20)).toBe(`[${'#'.repeat(7)}${'.'.repeat(13)}] 35 %`);
    expect(bar(30, 20)).toBe(`[${'#'.repeat(20)}] 100 %`);
    expect(bar(0, 0)).toBe(`[${'#'.repeat(20)}] 100 %`);
    expect(bar(1, 3, 3)).toBe('[#..] 33 %');
  });

  it('plural groups thousands and picks the form', () => {
    expect(plural(1, 'node')).toBe('1 node');
    expect(plural(0, 'node')).toBe('0 nodes');
    expect(plural(12_345, 'entry', 'entries')).toBe('12,345 entries');
  });

  it('duration picks the unit', () => {
    expect(duration(12.4)).toBe('12 ms');
    expect(duration(1500)).toBe('1.5 s');
    expect(duration(125_000)).toBe('2 min 5 s');
    expect(duration(2 * 3_600_000 + 7 * 60_000)).toBe('2 h 7 min');
    expect(duration(Number.NaN)).toBe('?');
    expect(duration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});

describe('splitText', () => {
  it('keeps short text whole and splits long text at line breaks within the limit', () => {
    expect(splitText('short', 100)).toEqual(['short']);
    const lines = Array.from({ length: 30 }, (_, i) => `line ${String(i).padStart(2, '0')}`);
    const parts = splitText(lines.join('\n'), 50);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(50);
    expect(parts.join('\n')).toBe(lines.join('\n'));
  });

  it('closes a code block at a split and reopens it in the next piece', () => {
    const text = ['```', ...Array.from({ length: 20 }, (_, i) => `row ${i}`), '```'].join('\n');
    const parts = splitText(text, 40);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(40);
      expect(p.startsWith('```')).toBe(true);
      expect(p.endsWith('```')).toBe(true);
    }
  });

  it('shortens a single line longer than the limit', () => {
    const parts = splitText(`a\n${'z'.repeat(100)}`, 30);
    expect(parts).toEqual([`a\n${'z'.repeat(21)}…`]);
  });
});
