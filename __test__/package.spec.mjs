// Packaging: `npm pack`, install the tarball into a fresh consumer project, and load it from
// CommonJS, ESM and TypeScript. The consumer builds the addon from source (cargo, sharing this
// checkout's target directory so it is quick), then also loads it from prebuilds/.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

test('the packed tarball installs into a fresh project and loads from CJS, ESM and TS', (t) => {
  const tmp = mkdtempSync(join(os.tmpdir(), 'zerosock-consumer-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const packed = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: root }),
  );
  const files = packed[0].files.map((f) => f.path);
  t.true(files.includes('dist/cjs/index.js'));
  t.true(files.includes('dist/esm/index.mjs'));
  t.true(files.includes('dist/cjs/index.d.ts'));
  t.true(files.includes('scripts/install.js'));
  t.true(files.includes('crates/node/src/lib.rs'));
  t.false(files.some((f) => f.endsWith('.node') && !f.startsWith('prebuilds/')));

  const consumer = join(tmp, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true }),
  );
  const env = {
    ...process.env,
    CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? join(root, 'target'),
    ZEROSOCK_BUILD_FROM_SOURCE: '1',
  };
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, packed[0].filename)],
    {
      cwd: consumer,
      env,
      timeout: 600_000,
    },
  );

  const cjs = run(
    process.execPath,
    ['-e', "const z = require('zerosock'); console.log(z.probe().kernel, z.nativePath)"],
    {
      cwd: consumer,
    },
  );
  t.is(cjs.split(' ')[0], os.release());
  t.regex(cjs, /zerosock\.linux-x64-(gnu|musl)\.node/);

  const esm = run(
    process.execPath,
    ['--input-type=module', '-e', "import { probe } from 'zerosock'; console.log(probe().kernel)"],
    { cwd: consumer },
  );
  t.is(esm.trim(), os.release());

  writeFileSync(
    join(consumer, 'use.ts'),
    [
      "import { probe, ZerosockError, type ProbeReport, type Backend, type ConnectOptions } from 'zerosock';",
      'const r: ProbeReport = probe();',
      "const opts: ConnectOptions = { port: 1, host: '::1', busyPollUs: 50, cork: { maxDelayUs: 20 } };",
      'const b: Backend = r.backend;',
      'const multishot: boolean = r.features.multishotRecv;',
      "const e = new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'x');",
      'console.log(b, multishot, e.code, r.ioUring.opcodes.length, opts.busyPollUs);',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2022',
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['use.ts'],
    }),
  );
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer]);

  // prebuildify layout: with a binary in prebuilds/, the loader takes it before the local build.
  const installed = join(consumer, 'node_modules', 'zerosock');
  const local = readdirSync(installed).find((f) => f.endsWith('.node'));
  run(process.execPath, [join(root, 'scripts', 'prebuild.mjs'), join(installed, 'prebuilds')], {
    cwd: installed,
  });
  t.truthy(local);
  const fromPrebuild = run(
    process.execPath,
    ['-e', "console.log(require('zerosock').nativePath)"],
    {
      cwd: consumer,
    },
  );
  t.regex(fromPrebuild, /prebuilds\/linux-x64\/zerosock\.napi\.(glibc|musl)\.node/);
});

test('a missing native binary is one clear error listing every place tried', (t) => {
  const tmp = mkdtempSync(join(os.tmpdir(), 'zerosock-noaddon-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const pkg = join(tmp, 'node_modules', 'zerosock');
  mkdirSync(pkg, { recursive: true });
  run('cp', ['-r', join(root, 'dist'), join(root, 'package.json'), pkg]);
  mkdirSync(join(pkg, 'node_modules'));
  run('cp', ['-r', join(root, 'node_modules', 'node-gyp-build'), join(pkg, 'node_modules')]);
  const err = t.throws(() =>
    run(process.execPath, ['-e', "require('zerosock')"], {
      cwd: tmp,
      env: { ...process.env, ZEROSOCK_NATIVE_PATH: '' },
    }),
  );
  t.regex(err.stderr, /ERR_ZEROSOCK_NATIVE_LOAD|no native binary could be loaded/);
  t.regex(err.stderr, /platform package/);
  t.regex(err.stderr, /prebuilds/);
  t.regex(err.stderr, /local build/);
  t.regex(err.stderr, /rustup\.rs/);
});
