// Compiles ts/ to dist/cjs (CommonJS + .d.ts) and writes the ESM entry dist/esm/index.mjs,
// which re-exports the CommonJS build so both module systems share one engine per thread.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// Build into a fresh folder and swap it in, so a test run importing dist/ meanwhile never
// sees it half-written or missing for longer than two renames.
const out = join(root, `.dist-build-${process.pid}`);
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    require.resolve('typescript/bin/tsc'),
    '-p',
    join(root, 'tsconfig.json'),
    '--outDir',
    join(out, 'cjs'),
  ],
  { stdio: 'inherit' },
);
// tsc does not emit declaration files it was given: copy the binding's types next to native.d.ts.
copyFileSync(join(root, 'ts', 'core', 'binding.d.ts'), join(out, 'cjs', 'core', 'binding.d.ts'));

// The ESM entry lists the export names statically: loading the module to enumerate them would
// need the native binary, so they come from a scan of ts/index.ts.
const names = scanExports(join(root, 'ts', 'index.ts'));
mkdirSync(join(out, 'esm'), { recursive: true });
writeFileSync(
  join(out, 'esm', 'index.mjs'),
  `import cjs from '../cjs/index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
);
writeFileSync(
  join(out, 'esm', 'index.d.mts'),
  `export * from '../cjs/index.js';\nimport * as cjs from '../cjs/index.js';\nexport default cjs;\n`,
);
const dist = join(root, 'dist');
const old = join(root, `.dist-old-${process.pid}`);
if (existsSync(dist)) renameSync(dist, old);
renameSync(out, dist);
rmSync(old, { recursive: true, force: true });

function scanExports(file) {
  const src = readFileSync(file, 'utf8');
  const out = new Set();
  for (const m of src.matchAll(
    /^export\s+(?:async\s+)?(?:function|class|const|let)\s+([A-Za-z_$][\w$]*)/gm,
  )) {
    out.add(m[1]);
  }
  for (const m of src.matchAll(/^export\s+\{([^}]*)\}\s+from/gm)) {
    for (const part of m[1].split(',')) {
      const p = part.trim();
      if (!p || p.startsWith('type ')) continue;
      out.add(
        p
          .split(/\s+as\s+/)
          .pop()
          .trim(),
      );
    }
  }
  return [...out].sort();
}
