/**
 * Reads the store's top-level JSON object from a stream of text chunks without ever holding the whole
 * text as one string: V8 caps a string at ~512 MB (a 584 MB store made every start die with
 * `RangeError: Invalid string length`). Each top-level value, and each element of a top-level array
 * (one node, one audit entry), is cut out and handed to JSON.parse on its own, so the largest string
 * built is one element. Any layout (whitespace, key order) that JSON.parse accepts is accepted.
 */
export class JsonSyntaxError extends Error {}

type Mode = 'start' | 'key' | 'colon' | 'value' | 'afterValue' | 'item' | 'afterItem' | 'end';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Where a string may end (or an escape starts). */
const STRING_STOP = /["\\]/g;
/** What changes the nesting of a value being cut out, outside strings. */
const STRUCTURE_STOP = /["{}[\]]/g;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class JsonObjectReader {
  private mode: Mode = 'start';
  private readonly result: Record<string, unknown> = {};
  private key = '';
  private array: unknown[] = [];
  /** After a comma: the next token must be a key or an element, not a closing bracket. */
  private needNext = false;
  private offset = 0;
  // The value being cut out.
  private capturing = false;
  private parts: string[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  private primitive = false;

  feed(chunk: string): void {
    const n = chunk.length;
    let from = this.capturing ? 0 : -1;
    let i = 0;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      if (this.capturing) {
        // Inside a value, jump from one character that matters to the next with a native search:
        // a character-by-character loop made this reader ~5x slower than JSON.parse on a store.
        if (this.inString) {
          if (this.escaped) {
            this.escaped = false;
            i++;
            continue;
          }
          STRING_STOP.lastIndex = i;
          const m = STRING_STOP.exec(chunk);
          if (!m) break;
          i = m.index;
          if (chunk.charCodeAt(i) === BACKSLASH) {
            this.escaped = true;
            i++;
            continue;
          }
          this.inString = false;
          if (this.depth === 0) {
            this.finish(chunk.slice(from, i + 1));
            from = -1;
          }
          i++;
          continue;
        }
        if (this.primitive) {
          if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) {
            this.finish(chunk.slice(from, i)); // the delimiter is read again as structure
            from = -1;
            continue;
          }
          i++;
          continue;
        }
        STRUCTURE_STOP.lastIndex = i;
        const m = STRUCTURE_STOP.exec(chunk);
        if (!m) break;
        i = m.index;
        const d = chunk.charCodeAt(i);
        if (d === QUOTE) this.inString = true;
        else if (d === OPEN_BRACE || d === OPEN_BRACKET) this.depth++;
        else if (--this.depth === 0) {
          this.finish(chunk.slice(from, i + 1));
          from = -1;
        }
        i++;
        continue;
      }
      if (isSpace(c)) {
        i++;
        continue;
      }
      // The store writes one array element per line: try the rest of the line as that element with
      // one native JSON.parse. Anything else (another layout, a line cut by the chunk) falls through
      // to the scanner below, which accepts every layout JSON.parse does.
      if (this.mode === 'item' && c === OPEN_BRACE) {
        const next = this.wholeLineItem(chunk, i);
        if (next !== -1) {
          i = next;
          continue;
        }
      }
      switch (this.mode) {
        case 'start':
          if (c !== OPEN_BRACE) this.fail(i, 'the top level is not a JSON object');
          this.mode = 'key';
          break;
        case 'key':
          if (c === QUOTE) {
            this.begin(c);
            from = i;
          } else if (c === CLOSE_BRACE && !this.needNext) this.mode = 'end';
          else this.fail(i, 'expected a property name');
          break;
        case 'colon':
          if (c !== COLON) this.fail(i, "expected ':'");
          this.mode = 'value';
          break;
        case 'value':
          if (c === OPEN_BRACKET) {
            this.array = [];
            this.set(this.key, this.array);
            this.mode = 'item';
            this.needNext = false;
          } else {
            this.begin(c, i);
            from = i;
          }
          break;
        case 'afterValue':
          if (c === COMMA) {
            this.mode = 'key';
            this.needNext = true;
          } else if (c === CLOSE_BRACE) this.mode = 'end';
          else this.fail(i, "expected ',' or '}'");
          break;
        case 'item':
          if (c === CLOSE_BRACKET && !this.needNext) this.mode = 'afterValue';
          else {
            this.begin(c, i);
            from = i;
          }
          break;
        case 'afterItem':
          if (c === COMMA) {
            this.mode = 'item';
            this.needNext = true;
          } else if (c === CLOSE_BRACKET) this.mode = 'afterValue';
          else this.fail(i, "expected ',' or ']'");
          break;
        case 'end':
          this.fail(i, 'unexpected text after the end');
      }
      i++;
    }
    if (this.capturing && from !== -1) this.parts.push(chunk.slice(from));
    this.offset += n;
  }

  /**
   * Parses `chunk` from `at` to the end of its line as one array element (dropping a trailing
   * comma, which then asks for a next element). Returns where reading goes on, or -1 when the line
   * is not exactly one element.
   */
  private wholeLineItem(chunk: string, at: number): number {
    const nl = chunk.indexOf('\n', at);
    if (nl === -1) return -1;
    let end = nl;
    while (end > at && isSpace(chunk.charCodeAt(end - 1))) end--;
    const comma = chunk.charCodeAt(end - 1) === COMMA;
    if (comma) end--;
    let value: unknown;
    try {
      value = JSON.parse(chunk.slice(at, end));
    } catch {
      return -1;
    }
    this.array.push(value);
    this.needNext = comma;
    this.mode = comma ? 'item' : 'afterItem';
    return comma ? end + 1 : end;
  }

  /** The object, once the whole text was fed. */
  end(): Record<string, unknown> {
    if (this.mode !== 'end') throw new JsonSyntaxError(this.mode === 'start' ? 'the file is empty' : 'the file ends in the middle of the data');
    return this.result;
  }

  private begin(c: number, at = 0): void {
    this.capturing = true;
    this.parts = [];
    this.depth = 0;
    this.escaped = false;
    this.inString = c === QUOTE;
    this.primitive = false;
    if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth = 1;
    else if (c !== QUOTE) {
      if (!/[-0-9tfn]/.test(String.fromCharCode(c))) this.fail(at, `unexpected ${JSON.stringify(String.fromCharCode(c))}`);
      this.primitive = true;
    }
  }

  private finish(last: string): void {
    this.capturing = false;
    this.needNext = false;
    let value: unknown;
    try {
      value = JSON.parse(this.parts.length ? this.parts.join('') + last : last);
    } catch (err) {
      throw new JsonSyntaxError(err instanceof RangeError ? 'one value in it is too large to read' : (err as Error).message);
    }
    this.parts = [];
    if (this.mode === 'key') {
      if (typeof value !== 'string') throw new JsonSyntaxError('expected a property name');
      this.key = value;
      this.mode = 'colon';
    } else if (this.mode === 'value') {
      this.set(this.key, value);
      this.mode = 'afterValue';
    } else {
      this.array.push(value);
      this.mode = 'afterItem';
    }
  }

  /** Like JSON.parse: a `__proto__` key is an own property, never the prototype. */
  private set(key: string, value: unknown): void {
    Object.defineProperty(this.result, key, { value, enumerable: true, writable: true, configurable: true });
  }

  private fail(at: number, what: string): never {
    throw new JsonSyntaxError(`${what} at character ${this.offset + at}`);
  }
}
