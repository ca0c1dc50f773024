// The `npm pack` / `npm publish` hooks (package.json prepack and postpack).
//
// `node scripts/pack-prebuilds.mjs build` (prepack) builds what goes into the tarball, so that
// it installs without a Rust toolchain on the platform it carries a binary for:
//  1. the native addon, unless a local build is already there (npm run build:native),
//  2. dist/, unless it is newer than every file of ts/ (npm run build:ts),
//  3. prebuilds/<platform>-<arch>/zerosock.napi.<libc>.node (scripts/prebuild.mjs), the
//     prebuildify layout that scripts/install.js and the loader find through node-gyp-build.
// The Rust sources stay in the tarball (crates/) for the source build everywhere else.
//
// `node scripts/pack-prebuilds.mjs clean` (postpack) removes the binary step 3 wrote, so this
// checkout goes on loading its own fresh build and never a copy left from packing (the loader
// prefers prebuilds/ over the local build). A binary that was there before is left alone.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPaths } from './prebuild.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { addon, prebuilt } = binaryPaths();
// Outside prebuilds/ (so it is not packed), in the checkout's git-ignored scratch folder.
const marker = join(root, '.zerosock-tmp', 'prebuild-written-by-pack');

const mode = process.argv[2];
if (mode === 'build') build();
else if (mode === 'clean') clean();
else {
  console.error('usage: node scripts/pack-prebuilds.mjs build|clean');
  process.exit(2);
}

function npmRun(script) {
  // Under npm, npm_execpath is npm's own CLI: run it with this node, as npm itself would.
  const [cmd, args] = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath, 'run', script]]
    : ['npm', ['run', script]];
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
}

function newestIn(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestIn(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function build() {
  if (!existsSync(addon)) {
    console.error(`pack: ${addon} is missing; building it`);
    npmRun('build:native');
  }
  const distEntry = join(root, 'dist', 'cjs', 'index.js');
  if (!existsSync(distEntry) || statSync(distEntry).mtimeMs < newestIn(join(root, 'ts'))) {
    npmRun('build:ts');
  }
  const existed = existsSync(prebuilt) && !existsSync(marker);
  execFileSync(process.execPath, [join(root, 'scripts', 'prebuild.mjs')], {
    cwd: root,
    stdio: ['ignore', 2, 2],
  });
  if (!existed) {
    mkdirSync(dirname(marker), { recursive: true });
    writeFileSync(marker, `${prebuilt}: written by npm pack, removed by postpack\n`);
  }
}

function clean() {
  if (!existsSync(marker)) return;
  rmSync(prebuilt, { force: true });
  rmSync(marker, { force: true });
  console.error(`pack: removed ${prebuilt} (written for the tarball only)`);
}
