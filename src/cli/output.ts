/** Files the commands write: whole or not at all (the project's `writeFileAtomic`), parent folders created. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../fl/results';

/** Write `text` to `file` atomically, creating its folder. */
export function writeTextAtomic(file: string, text: string): void {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  writeFileAtomic(target, text);
}

/** Write `value` as indented JSON (trailing newline) to `file` atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeTextAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
