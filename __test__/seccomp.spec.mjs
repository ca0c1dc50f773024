// io_uring blocked for real: tools/seccomp-exec installs a seccomp filter that makes the
// io_uring system calls fail with EPERM (as a container runtime's default profile does) and
// execs node. backend 'auto' must fall back to epoll with exactly one warning line and pass
// the echo and integrity checks; asking for 'io_uring' explicitly is a typed error.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MANIFEST = `${ROOT}tools/seccomp-exec/Cargo.toml`;
const SCRIPT = fileURLToPath(new URL('./seccomp-echo.mjs', import.meta.url));

/** Builds the launcher (a no-op when up to date) and returns its path. */
async function launcher() {
  const { stdout } = await run(
    'cargo',
    ['build', '--release', '--quiet', '--manifest-path', MANIFEST, '--message-format=json'],
    {
      cwd: ROOT,
      timeout: 240_000,
      maxBuffer: 64 << 20,
      // The same place .ci/seccomp.sh builds it (under the ignored target/).
      env: {
        ...process.env,
        CARGO_TARGET_DIR: `${process.env.CARGO_TARGET_DIR ?? `${ROOT}target`}/tools`,
      },
    },
  );
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line);
    if (m.reason === 'compiler-artifact' && m.executable) return m.executable;
  }
  throw new Error('cargo built no seccomp-exec executable');
}

test('auto falls back to epoll under a seccomp filter that blocks io_uring', async (t) => {
  const exe = await launcher();
  t.true(existsSync(exe));
  const env = { ...process.env };
  delete env.ZEROSOCK_BACKEND;
  delete env.NODE_OPTIONS;
  const { stdout, stderr } = await run(exe, ['--', process.execPath, SCRIPT], {
    cwd: ROOT,
    env,
    timeout: 60_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop());
  t.false(out.probe.available, 'probe() sees io_uring unavailable');
  t.regex(out.probe.error, /EPERM/);
  t.deepEqual([...new Set(out.backends)], ['epoll'], 'every auto connection runs on epoll');
  t.is(out.ok, 100, 'echo with checksums on 100 connections');
  t.true(out.streamOk, '16 MB stream intact');
  t.is(out.explicit, 'ERR_ZEROSOCK_BACKEND_UNAVAILABLE');
  t.deepEqual(out.engines, ['epoll']);
  const warnings = stderr
    .split('\n')
    .filter((l) => /ZerosockWarning|ZEROSOCK_EPOLL_FALLBACK/.test(l));
  t.is(warnings.length, 1, `exactly one warning line, got:\n${stderr}`);
  t.regex(warnings[0], /io_uring is not usable here \(EPERM.*\); using the epoll backend/);
  t.log(warnings[0]);
});

test('the filter really blocks io_uring: a plain probe inside it reports EPERM', async (t) => {
  const exe = await launcher();
  const { stdout } = await run(
    exe,
    ['--', process.execPath, '-p', "JSON.stringify(require('zerosock').probe())"],
    { cwd: ROOT, timeout: 30_000 },
  );
  const report = JSON.parse(stdout);
  t.is(report.backend, 'epoll');
  t.false(report.ioUring.available);
  // Outside the filter, on this machine, io_uring works (so the test above proves a fallback).
  const { stdout: outside } = await run(
    process.execPath,
    ['-p', "require('zerosock').probe().ioUring.available"],
    { cwd: ROOT, timeout: 30_000 },
  );
  t.log(`io_uring outside the filter: ${outside.trim()}`);
});
