/** Neutral markdown to terminal text: code fences dropped, **bold** in ANSI bold on a TTY. */
export function toTerminal(text: string, color: boolean): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('```'))
    .join('\n')
    .replace(/\*\*([^*]+)\*\*/g, (_, s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s));
}
