// Copies the built addon into prebuilds/<platform>-<arch>/ in the prebuildify naming
// (zerosock.napi.<libc>.node), where node-gyp-build and zerosock's loader find it.
//
//   node scripts/prebuild.mjs [DIR]   (default DIR: prebuilds/ of this checkout)
//
// Also the one place that names both files (`binaryPaths`), for scripts/pack-prebuilds.mjs.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The local build of the addon, and where its prebuild goes below `dir`. */
export function binaryPaths(dir = join(root, 'prebuilds')) {
  const glibc = Boolean(process.report.getReport().header.glibcVersionRuntime);
  const triple = `${process.platform}-${process.arch}`;
  return {
    addon: join(root, `zerosock.${triple}-${glibc ? 'gnu' : 'musl'}.node`),
    prebuilt: join(dir, triple, `zerosock.napi.${glibc ? 'glibc' : 'musl'}.node`),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { addon, prebuilt } = binaryPaths(process.argv[2]);
  if (!existsSync(addon)) {
    console.error(`prebuild: ${addon} is missing; run npm run build:native first`);
    process.exit(1);
  }
  mkdirSync(dirname(prebuilt), { recursive: true });
  copyFileSync(addon, prebuilt);
  console.log(`prebuild: wrote ${prebuilt}`);
}
