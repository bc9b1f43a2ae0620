import type { CommandDef } from './command.ts';

// Commands of any option shape share one list; their own types are checked where they are defined.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandDef<any, any>;

export class CommandRegistry {
  private readonly byName = new Map<string, AnyCommand>();
  readonly list: readonly AnyCommand[];
  constructor(list: readonly AnyCommand[]) {
    this.list = list;
    for (const c of list) {
      if (this.byName.has(c.name)) throw new Error(`two commands are named ${c.name}`);
      this.byName.set(c.name, c);
    }
  }

  get(name: string): AnyCommand | undefined {
    return this.byName.get(name);
  }

  /** The closest command names (for "did you mean"). */
  suggest(name: string): string[] {
    return this.list.map((c) => c.name).filter((n) => n.startsWith(name.slice(0, 2)) || editDistance(n, name) <= 2);
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}
