#!/usr/bin/env node
/*
 * Build medfl's native CPU kernels (src/backend/addon: addon.c + kernels.c)
 * into build/medfl_native.node, a Node-API addon, with the system's gcc (or
 * $CC). Run by npm's `install` (so `npm ci` on a fresh clone builds it) and
 * by `npm run build:addon`.
 *
 * kernels.c is compiled once per vector width / ISA: on x86-64 with
 * -march=x86-64-v4 (AVX-512, 16 floats), x86-64-v3 (AVX2 + FMA, 8 and 4
 * floats) and the baseline (4 floats); elsewhere the baseline only. The addon
 * picks one per call at run time (__builtin_cpu_supports). Headers come from
 * npm's node-api-headers, so nothing is downloaded outside the registry.
 *
 * Never fails the install: without a compiler, headers, or on any compile
 * error it prints one line and exits 0; medfl then runs its WebAssembly SIMD
 * kernels (src/backend/native). MEDFL_NATIVE_ADDON=0 skips the build.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const srcDir = path.join(root, 'src/backend/addon');
const outDir = path.join(root, 'build');
const out = path.join(outDir, 'medfl_native.node');

function skip(why) {
  console.log(`medfl: native addon not built (${why}); using the WebAssembly kernels`);
  process.exit(0);
}

function main() {
  if (process.env.MEDFL_NATIVE_ADDON === '0') skip('MEDFL_NATIVE_ADDON=0');
  let include;
  try {
    include = path.join(path.dirname(require.resolve('node-api-headers/package.json', { paths: [root] })), 'include');
  } catch {
    skip('node-api-headers is not installed');
  }
  const cc = process.env.CC || 'gcc';
  if (spawnSync(cc, ['--version']).status !== 0) skip(`no C compiler (${cc})`);
  // A build always matches the sources: drop the previous one first (a failed build leaves none).
  fs.rmSync(out, { force: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-addon-'));
  const common = ['-O3', '-fPIC', '-std=gnu11', '-Wall', '-Wno-unused-function', '-Werror=implicit-function-declaration', '-fno-strict-aliasing', '-ffp-contract=fast', '-fno-math-errno', `-I${srcDir}`];
  const x86 = process.arch === 'x64';
  // The baseline unit also holds the memory-bound channel kernels, compiled without
  // contraction so they match the wasm kernels bit for bit.
  const units = [{ suffix: '_g4', vw: 4, flags: ['-DMEDFL_BASE_UNIT', '-ffp-contract=off'] }];
  if (x86) {
    units.push({ suffix: '_v4', vw: 4, flags: ['-march=x86-64-v3'] });
    units.push({ suffix: '_v8', vw: 8, flags: ['-march=x86-64-v3'] });
    units.push({ suffix: '_v16', vw: 16, flags: ['-march=x86-64-v4'], optional: true });
  }
  const objs = [];
  const defs = [];
  try {
    for (const u of units) {
      const obj = path.join(tmp, `kernels${u.suffix}.o`);
      const r = spawnSync(cc, [...common, ...u.flags, `-DVW=${u.vw}`, `-DSUFFIX=${u.suffix}`, '-c', path.join(srcDir, 'kernels.c'), '-o', obj], { encoding: 'utf8' });
      if (r.status !== 0) {
        if (u.optional) continue;
        skip(`${cc} failed on kernels.c (${u.suffix}): ${(r.stderr || '').trim().split('\n')[0]}`);
      }
      objs.push(obj);
      if (u.suffix === '_v16') defs.push('-DHAVE_V16');
    }
    if (x86) defs.push('-DHAVE_X86');
    fs.mkdirSync(outDir, { recursive: true });
    const r = spawnSync(
      cc,
      [...common, ...defs, '-DNODE_GYP_MODULE_NAME=medfl_native', `-I${include}`, '-shared', '-o', out + '.tmp', path.join(srcDir, 'addon.c'), ...objs, '-lpthread'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) skip(`${cc} failed on addon.c: ${(r.stderr || '').trim().split('\n')[0]}`);
    fs.renameSync(out + '.tmp', out);
    console.log(`medfl: native addon built (${path.relative(root, out)}, ${objs.length} kernel units)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  skip(e instanceof Error ? e.message.split('\n')[0] : String(e));
}
