import test from 'ava';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { probe, ZerosockError } from 'zerosock';

const childProbe = (env) =>
  JSON.parse(
    execFileSync(
      process.execPath,
      ['-e', "process.stdout.write(JSON.stringify(require('zerosock').probe()))"],
      { env: { ...process.env, ...env } },
    ).toString(),
  );

test('probe() reports the real kernel release', (t) => {
  const p = probe();
  t.is(p.kernel, os.release());
});

test('probe() finds io_uring and the features zerosock uses on this machine', (t) => {
  const p = probe();
  if (!p.ioUring.available) {
    t.log(`io_uring unavailable here: ${p.ioUring.error}; checking the fallback instead`);
    t.is(p.backend, 'epoll');
    return;
  }
  t.true(p.ioUring.opcodes.includes('NOP'));
  t.true(p.ioUring.opcodes.includes('ACCEPT'));
  t.true(p.features.multishotAccept);
  t.true(p.features.multishotRecv);
  t.true(p.features.ringMappedBuffers);
  t.is(p.backend, 'io_uring');
  t.is(typeof p.features.sendZc, 'boolean');
  t.is(typeof p.features.msgZerocopy, 'boolean');
  t.is(typeof p.features.tcpZerocopyReceive, 'boolean');
});

test('ZEROSOCK_BACKEND=epoll makes probe() report epoll', (t) => {
  const p = childProbe({ ZEROSOCK_BACKEND: 'epoll' });
  t.is(p.backend, 'epoll');
  t.is(p.error, undefined);
});

test('an unknown ZEROSOCK_BACKEND is reported by probe() without throwing', (t) => {
  const p = childProbe({ ZEROSOCK_BACKEND: 'kqueue' });
  t.is(p.error.code, 'ERR_ZEROSOCK_INVALID_BACKEND');
  t.regex(p.error.message, /kqueue/);
  t.regex(p.error.message, /'auto', 'io_uring' or 'epoll'/);
  t.true(p.backend === 'io_uring' || p.backend === 'epoll');
});

test('ZerosockError carries a stable code', (t) => {
  const e = new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'closed');
  t.true(e instanceof Error);
  t.is(e.code, 'ERR_ZEROSOCK_SOCKET_CLOSED');
  t.is(e.name, 'ZerosockError');
});
