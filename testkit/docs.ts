/** The project's docs, read by tests that check them against the code. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(__dirname, '..');

/** A markdown file of the repository, or the part of it under one heading (to the next heading of that level or above). */
export function docText(file: string, heading?: string): string {
  const text = readFileSync(join(REPO, file), 'utf8');
  if (!heading) return text;
  const start = text.indexOf(heading);
  if (start < 0) throw new Error(`${file} has no heading ${heading}`);
  const level = /^#+/.exec(heading)![0].length;
  const rest = text.slice(start + heading.length);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return heading + (end < 0 ? rest : rest.slice(0, end));
}

/** The `temporal …` commands of a markdown text's code blocks, in order, as argument lists (without `temporal`). */
export function docCommands(markdown: string): string[][] {
  const commands: string[][] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.replace(/\\\n\s*/g, ' ').split('\n')) {
      if (line.trim().startsWith('temporal ')) commands.push(shellWords(line.trim()).slice(1));
    }
  }
  return commands;
}

/** Splits a command line as sh would for the quoting the docs use: '…', "…" and bare words. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}
