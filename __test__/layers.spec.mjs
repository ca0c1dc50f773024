// The import rule of ts/ (scripts/check-layers.mjs): it passes on the real tree, and fails on a
// tree with a planted upward import, a cycle, a file outside the layers or an import of the entry.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLayers } from '../scripts/check-layers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'scripts', 'check-layers.mjs');

/** A temporary source tree from `{ 'core/a.ts': source, … }`, removed after the test. */
function tree(t, files) {
  const dir = mkdtempSync(join(os.tmpdir(), 'zerosock-layers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

/** A small tree that keeps the rule: each layer uses the one below, the entry uses all. */
const good = {
  'index.ts':
    "export { a } from './core/a';\nexport { b } from './mem/b';\nexport { serve } from './adapters/d';\n",
  'core/a.ts': 'export const a = 1;\n',
  'mem/b.ts': "import { a } from '../core/a';\nexport const b = a + 1;\n",
  'net/c.ts':
    "import { b } from '../mem/b';\nimport type { D } from './d-view';\nexport const c = (d: D) => b + d.n;\n",
  'net/d-view.ts':
    "import { c } from './c';\nexport interface D { n: number }\nexport const g = c;\n",
  'adapters/d.ts': "import { c } from '../net/c';\nexport const serve = c;\n",
};

/** The problems checkLayers finds in {@link good} with `changes` applied. */
const problemsWith = (t, changes) => checkLayers(tree(t, { ...good, ...changes })).problems;

/** Asserts that one of `problems` starts with `prefix`. */
const hasProblem = (t, problems, prefix) =>
  t.true(
    problems.some((p) => p.startsWith(prefix)),
    problems.join('\n'),
  );

test('the real ts/ tree keeps the layer rule (CLI exits 0)', (t) => {
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
  t.regex(out, /layers core <- mem <- net <- adapters hold, no cycles/);
});

test('a copy of ts/ with the old wrong-way arrow planted back (mem -> net) fails', (t) => {
  const dir = tree(t, {});
  cpSync(join(root, 'ts'), dir, { recursive: true });
  const pool = join(dir, 'mem', 'buffer-pool.ts');
  writeFileSync(pool, `import '../net/socket/zerocopy';\n${readFileSync(pool, 'utf8')}`);
  hasProblem(
    t,
    checkLayers(dir).problems,
    "mem/buffer-pool.ts:1: layer mem imports '../net/socket/zerocopy'",
  );
});

test('a tree that keeps the rule passes; a type-only import back into a sibling is no cycle', (t) => {
  t.deepEqual(problemsWith(t, {}), []);
});

test('a planted import from a lower layer into a higher one fails, naming file, line and layers', (t) => {
  const planted = {
    'mem/b.ts':
      "import { a } from '../core/a';\nimport { c } from '../net/c';\nexport const b = a + c.length;\n",
  };
  hasProblem(
    t,
    problemsWith(t, planted),
    "mem/b.ts:2: layer mem imports '../net/c' from the higher layer net",
  );
  // The CLI fails on it too.
  const dir = tree(t, { ...good, ...planted });
  const err = t.throws(() => execFileSync(process.execPath, [script, dir], { stdio: 'pipe' }));
  t.is(err.status, 1);
  t.regex(err.stderr.toString(), /mem\/b\.ts:2: layer mem imports/);
});

test('an upward import fails even when it is type-only, and also as a dynamic import()', (t) => {
  const typeOnly = "import type { D } from '../net/d-view';\nexport const a = 1 as D['n'];\n";
  hasProblem(t, problemsWith(t, { 'core/a.ts': typeOnly }), 'core/a.ts:1: layer core imports');
  const dynamic = "export const a = 1;\nexport const later = () => import('../adapters/d');\n";
  hasProblem(t, problemsWith(t, { 'core/a.ts': dynamic }), 'core/a.ts:2: layer core imports');
});

test('a runtime import cycle inside one layer fails, with its path', (t) => {
  const problems = problemsWith(t, {
    'net/c.ts':
      "import { b } from '../mem/b';\nimport { g } from './d-view';\nexport const c = () => b + g.length;\n",
  });
  t.true(
    problems.some(
      (p) =>
        p === 'import cycle: net/c.ts -> net/d-view.ts -> net/c.ts' ||
        p === 'import cycle: net/d-view.ts -> net/c.ts -> net/d-view.ts',
    ),
    problems.join('\n'),
  );
});

test('a file outside the layer folders, an import of the entry and a dangling import fail', (t) => {
  const problems = problemsWith(t, {
    'loose.ts': 'export const x = 1;\n',
    'adapters/d.ts':
      "import { c } from '../net/c';\nimport { a } from '../index';\nimport { z } from './nowhere';\nexport const serve = c + a + z;\n",
  });
  hasProblem(t, problems, 'loose.ts: not in a layer folder');
  hasProblem(t, problems, 'adapters/d.ts:2: imports the public entry');
  hasProblem(t, problems, "adapters/d.ts:3: './nowhere' names no file");
});
