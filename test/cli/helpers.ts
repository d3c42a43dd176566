import { main } from '../../src/cli/index';

/** Run `medfl argv` with captured output: `out` = log lines, `err` = error lines, `text` = both in order. */
export async function medfl(argv: string[]): Promise<{ code: number; out: string; err: string; text: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const code = await main(argv, {
    log: (s) => {
      out.push(s);
      all.push(s);
    },
    error: (s) => {
      err.push(s);
      all.push(s);
    },
  });
  return { code, out: out.join('\n'), err: err.join('\n'), text: all.join('\n') };
}
