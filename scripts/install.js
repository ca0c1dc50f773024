#!/usr/bin/env node
// npm install hook: use a prebuilt binary when one fits, otherwise build from source with cargo.
'use strict';
const { spawnSync } = require('node:child_process');
const { copyFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

function triple() {
  const { platform, arch } = process;
  if (platform !== 'linux') return `${platform}-${arch}`;
  const header = process.report && process.report.getReport().header;
  return `${platform}-${arch}-${header && header.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

function prebuiltFits() {
  try {
    require.resolve(`zerosock-${triple()}`);
    return `zerosock-${triple()}`;
  } catch {}
  try {
    return require('node-gyp-build').path(root);
  } catch {}
  return null;
}

const localOutput = join(root, `zerosock.${triple()}.node`);
const fromSource = process.env.ZEROSOCK_BUILD_FROM_SOURCE === '1';
const found = fromSource ? null : prebuiltFits();
if (found) {
  console.log(`zerosock: using prebuilt binary ${found}`);
  process.exit(0);
}
if (process.platform !== 'linux') {
  console.error(`zerosock: only Linux is supported (this is ${process.platform}).`);
  process.exit(1);
}
const cargo = process.env.CARGO || 'cargo';
if (spawnSync(cargo, ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error(
    `zerosock: no prebuilt binary for ${triple()} and Rust is not installed: install Rust 1.88+ from https://rustup.rs and run npm install again.`,
  );
  process.exit(1);
}
console.log(`zerosock: building the native addon from source (cargo build --release) …`);
const build = spawnSync(
  cargo,
  [
    'build',
    '--release',
    '--locked',
    '-p',
    'zerosock-node',
    '--manifest-path',
    join(root, 'Cargo.toml'),
  ],
  { stdio: 'inherit', cwd: root },
);
if (build.status !== 0) {
  console.error('zerosock: cargo build failed (see above).');
  process.exit(build.status || 1);
}
const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
const artifact = join(targetDir, 'release', 'libzerosock.so');
if (!existsSync(artifact)) {
  console.error(`zerosock: cargo build succeeded but ${artifact} is missing.`);
  process.exit(1);
}
copyFileSync(artifact, localOutput);
console.log(`zerosock: built ${localOutput}`);
