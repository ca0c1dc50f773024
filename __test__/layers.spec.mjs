// The import rule of ts/ (scripts/check-layers.mjs): it passes on the real tree, and fails on a
// tree with a planted upward import, a cycle, a file outside the layers or an import of the entry.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

test('the real ts/ tree keeps the layer rule (CLI exits 0)', (t) => {
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
  t.regex(out, /layers core <- mem <- net <- adapters hold, no cycles/);
});

test('a tree that keeps the rule passes; a type-only import back into a sibling is no cycle', (t) => {
  t.deepEqual(checkLayers(tree(t, good)).problems, []);
});

test('a planted import from a lower layer into a higher one fails, naming file, line and layers', (t) => {
  const dir = tree(t, {
    ...good,
    'mem/b.ts':
      "import { a } from '../core/a';\nimport { c } from '../net/c';\nexport const b = a + c.length;\n",
  });
  const { problems } = checkLayers(dir);
  t.true(
    problems.some((p) =>
      p.startsWith("mem/b.ts:2: layer mem imports '../net/c' from the higher layer net"),
    ),
    problems.join('\n'),
  );
  // The CLI fails on it too.
  const err = t.throws(() => execFileSync(process.execPath, [script, dir], { stdio: 'pipe' }));
  t.is(err.status, 1);
  t.regex(err.stderr.toString(), /mem\/b\.ts:2: layer mem imports/);
});

test('an upward import fails even when it is type-only, and also as a dynamic import()', (t) => {
  const typeOnly = checkLayers(
    tree(t, {
      ...good,
      'core/a.ts': "import type { D } from '../net/d-view';\nexport const a = 1 as D['n'];\n",
    }),
  );
  t.true(
    typeOnly.problems.some((p) => p.startsWith('core/a.ts:1: layer core imports')),
    typeOnly.problems.join('\n'),
  );
  const dynamic = checkLayers(
    tree(t, {
      ...good,
      'core/a.ts': "export const a = 1;\nexport const later = () => import('../adapters/d');\n",
    }),
  );
  t.true(
    dynamic.problems.some((p) => p.startsWith('core/a.ts:2: layer core imports')),
    dynamic.problems.join('\n'),
  );
});

test('a runtime import cycle inside one layer fails, with its path', (t) => {
  const { problems } = checkLayers(
    tree(t, {
      ...good,
      'net/c.ts':
        "import { b } from '../mem/b';\nimport { g } from './d-view';\nexport const c = () => b + g.length;\n",
    }),
  );
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
  const { problems } = checkLayers(
    tree(t, {
      ...good,
      'loose.ts': 'export const x = 1;\n',
      'adapters/d.ts':
        "import { c } from '../net/c';\nimport { a } from '../index';\nimport { z } from './nowhere';\nexport const serve = c + a + z;\n",
    }),
  );
  t.true(
    problems.some((p) => p.startsWith('loose.ts: not in a layer folder')),
    problems.join('\n'),
  );
  t.true(
    problems.some((p) => p.startsWith('adapters/d.ts:2: imports the public entry')),
    problems.join('\n'),
  );
  t.true(
    problems.some((p) => p.startsWith("adapters/d.ts:3: './nowhere' names no file")),
    problems.join('\n'),
  );
});
