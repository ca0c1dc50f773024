/**
 * Finds and loads the native addon. Order: `ZEROSOCK_NATIVE_PATH` (explicit override), the
 * per-platform npm package (`zerosock-linux-x64-gnu`), `prebuilds/<platform>-<arch>/` in the
 * prebuildify layout, then the local build output (`zerosock.<platform>-<arch>-<abi>.node`).
 * Every failed attempt is collected and reported together.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ZerosockError } from './errors';
import type * as Binding from './binding';

/** `linux-x64-gnu`, `linux-arm64-musl`, … (the napi-rs platform naming). */
export function platformTriple(): string {
  const { platform, arch } = process;
  if (platform !== 'linux') return `${platform}-${arch}`;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  const abi = report?.header?.glibcVersionRuntime ? 'gnu' : 'musl';
  return `${platform}-${arch}-${abi}`;
}

/** Root of the installed package (dist/cjs/core/ is three levels below it). */
export const packageRoot = join(__dirname, '..', '..', '..');

interface Attempt {
  from: string;
  error: string;
}

function tryRequire(from: string, id: string, attempts: Attempt[]): typeof Binding | null {
  try {
    return require(id) as typeof Binding;
  } catch (err) {
    attempts.push({ from: `${from} (${id})`, error: (err as Error).message.split('\n')[0] });
    return null;
  }
}

function load(): { binding: typeof Binding; path: string } {
  const triple = platformTriple();
  const attempts: Attempt[] = [];
  const override = process.env.ZEROSOCK_NATIVE_PATH;
  if (override) {
    const b = tryRequire('ZEROSOCK_NATIVE_PATH', override, attempts);
    if (b) return { binding: b, path: override };
  }
  const pkg = `zerosock-${triple}`;
  const fromPkg = tryRequire('platform package', pkg, attempts);
  if (fromPkg) return { binding: fromPkg, path: pkg };
  try {
    // node-gyp-build resolves prebuilds/<platform>-<arch>/*.node by its tags (napi, libc).
    const ngb = require('node-gyp-build') as { path(dir: string): string };
    const prebuilt = ngb.path(packageRoot);
    const b = tryRequire('prebuilds', prebuilt, attempts);
    if (b) return { binding: b, path: prebuilt };
  } catch (err) {
    attempts.push({ from: 'prebuilds', error: (err as Error).message.split('\n')[0] });
  }
  const local = join(packageRoot, `zerosock.${triple}.node`);
  if (existsSync(local)) {
    const b = tryRequire('local build', local, attempts);
    if (b) return { binding: b, path: local };
  } else {
    attempts.push({ from: 'local build', error: `${local} does not exist` });
  }
  const lines = attempts.map((a) => `  - ${a.from}: ${a.error}`).join('\n');
  throw new ZerosockError(
    'ERR_ZEROSOCK_NATIVE_LOAD',
    `zerosock: no native binary could be loaded for ${triple}. Tried:\n${lines}\n` +
      'Run `npm install` (builds from source; needs Rust from https://rustup.rs) or `npm run build`.',
  );
}

const loaded = load();

/** The loaded native binding. */
export const native: typeof Binding = loaded.binding;

/** Where the native binding was loaded from. */
export const nativePath: string = loaded.path;
