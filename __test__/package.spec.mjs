// Packaging: `npm pack`, install the tarball into a fresh consumer project, and load it from
// CommonJS, ESM and TypeScript. The first test builds the addon from source in the consumer
// (cargo, sharing this checkout's target directory so it is quick), then also loads it from
// prebuilds/; the second packs the way a release does (prepack puts the binary in prebuilds/)
// and installs on a machine that has no Rust at all. The tests run one at a time: a pack with
// its hooks writes prebuilds/ into this checkout for as long as it packs.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

test.serial(
  'the packed tarball installs into a fresh project and loads from CJS, ESM and TS',
  (t) => {
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
      [
        '--input-type=module',
        '-e',
        "import { probe } from 'zerosock'; console.log(probe().kernel)",
      ],
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
  },
);

test.serial('a missing native binary is one clear error listing every place tried', (t) => {
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

/** `env` with every PATH entry that holds cargo or rustc taken out, and Rust's homes nowhere. */
function withoutRust(env) {
  const rusty = (dir) => ['cargo', 'rustc', 'rustup'].some((b) => existsSync(join(dir, b)));
  const path = (env.PATH ?? '')
    .split(':')
    .filter((d) => d && !rusty(d))
    .join(':');
  const out = { ...env, PATH: path, CARGO_HOME: '/nonexistent', RUSTUP_HOME: '/nonexistent' };
  for (const k of ['CARGO', 'CARGO_TARGET_DIR', 'RUSTC', 'ZEROSOCK_BUILD_FROM_SOURCE'])
    delete out[k];
  return out;
}

/** An echo round trip through the installed package, from CommonJS or ESM. */
const echoScript = (esm) => `${
  esm
    ? "import { createServer, connect, nativePath } from 'zerosock';"
    : "const { createServer, connect, nativePath } = require('zerosock');"
}
const server = createServer((s) => s.on('data', (view) => s.send(view)));
(async () => {
  await server.listen({ port: 0, host: '127.0.0.1' });
  const c = await connect({ port: server.address().port, host: '127.0.0.1' });
  const got = new Promise((resolve) => c.once('data', (view) => resolve(Buffer.from(view).toString())));
  c.send(Buffer.from('ping from ${esm ? 'esm' : 'cjs'}'));
  const timer = setTimeout(() => { console.error('no echo in 10 s'); process.exit(1); }, 10_000);
  console.log(JSON.stringify({ echo: await got, nativePath }));
  clearTimeout(timer);
  c.destroy();
  server.closeAllConnections();
  await server.close();
})();
`;

test.serial('npm pack gives a tarball that installs and runs with no Rust toolchain', (t) => {
  const tmp = mkdtempSync(join(os.tmpdir(), 'zerosock-norust-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const prebuilt = join(root, 'prebuilds', 'linux-x64', 'zerosock.napi.glibc.node');
  const hadPrebuilt = existsSync(prebuilt);
  const before = hadPrebuilt ? statSync(prebuilt).mtimeMs : 0;
  // With its hooks: prepack puts the binary into prebuilds/, postpack takes it out again.
  const packed = JSON.parse(
    run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, timeout: 600_000 }),
  );
  const files = packed[0].files.map((f) => f.path);
  t.true(files.includes('prebuilds/linux-x64/zerosock.napi.glibc.node'), files.join(', '));
  t.true(files.includes('dist/cjs/index.js'));
  t.true(files.includes('docs/DESIGN.md'));
  t.false(files.some((f) => f.endsWith('.node') && !f.startsWith('prebuilds/')));
  t.is(existsSync(prebuilt), hadPrebuilt, 'postpack leaves prebuilds/ as it was');
  if (hadPrebuilt) t.is(statSync(prebuilt).mtimeMs >= before, true);

  const env = withoutRust(process.env);
  const cargo = spawnSync('cargo', ['--version'], { env });
  t.truthy(cargo.error ?? cargo.status, 'cargo must not be reachable in the consumer');
  t.not(spawnSync('rustc', ['--version'], { env }).status, 0);

  const consumer = join(tmp, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true }),
  );
  const log = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--foreground-scripts',
      join(tmp, packed[0].filename),
    ],
    { cwd: consumer, env, timeout: 300_000 },
  );
  t.regex(log, /using prebuilt binary/, log);
  const installed = join(consumer, 'node_modules', 'zerosock');
  t.deepEqual(
    readdirSync(installed).filter((f) => f.endsWith('.node')),
    [],
    'no local build in the installed package',
  );

  writeFileSync(join(consumer, 'echo.cjs'), echoScript(false));
  writeFileSync(join(consumer, 'echo.mjs'), echoScript(true));
  for (const [file, tag] of [
    ['echo.cjs', 'cjs'],
    ['echo.mjs', 'esm'],
  ]) {
    const out = JSON.parse(run(process.execPath, [file], { cwd: consumer, env, timeout: 30_000 }));
    t.is(out.echo, `ping from ${tag}`);
    t.regex(out.nativePath, /prebuilds\/linux-x64\/zerosock\.napi\.glibc\.node$/);
  }
});
