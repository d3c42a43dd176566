import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');

/** Run `script` in a fresh node process at the repository root; returns its stdout. */
function node(script: string): string {
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `child node failed: ${r.stderr}`);
  return r.stdout.trim();
}

test('requiring the built package does not load danfojs-node; asking for a DataFrame does', () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist/index.js')), 'dist/index.js is missing: run `npm run build` (npm test does)');
  const count = "Object.keys(require.cache).filter((k) => k.includes('danfojs')).length";
  assert.is(node(`require('./dist'); process.stdout.write(String(${count}));`), '0');
  const after = node(
    `const m = require('./dist'); const r = m.partitionReport([[0, 1], [2, 3]], [0, 1, 0, 1], { classNames: ['a', 'b'] });` +
      ` const df = m.reportDataFrame(r); process.stdout.write(JSON.stringify([df.columns.slice(0, 2), ${count} > 0]));`,
  );
  assert.equal(JSON.parse(after), [['site', 'size'], true]);
});

test.run();
