/** BENCHMARKS.md is written by several scripts, each owning the text between its own markers. */
import * as fs from 'fs';

/**
 * Replaces the text between `<!-- marker -->` and `<!-- /marker -->` in `file` with `body`, or
 * appends the marked block when it is not there yet (starting the file with `newFile` if missing).
 */
export function writeSection(file: string, marker: string, body: string, newFile = '# Benchmarks\n'): void {
  const start = `<!-- ${marker} -->`;
  const end = `<!-- /${marker} -->`;
  const section = `${start}\n${body}\n${end}`;
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const old = text || newFile;
  const a = old.indexOf(start);
  const b = old.indexOf(end);
  const next = a >= 0 && b > a ? old.slice(0, a) + section + old.slice(b + end.length) : `${old.replace(/\n*$/, '\n\n')}${section}\n`;
  fs.writeFileSync(file, next);
}
