// Copies the built addon into prebuilds/<platform>-<arch>/ in the prebuildify naming
// (zerosock.napi.<libc>.node), where node-gyp-build and zerosock's loader find it.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
const abi = libc === 'glibc' ? 'gnu' : 'musl';
const source = join(root, `zerosock.${process.platform}-${process.arch}-${abi}.node`);
if (!existsSync(source)) {
  console.error(`prebuild: ${source} is missing; run npm run build:native first`);
  process.exit(1);
}
const outDir = join(
  process.argv[2] ?? join(root, 'prebuilds'),
  `${process.platform}-${process.arch}`,
);
mkdirSync(outDir, { recursive: true });
const out = join(outDir, `zerosock.napi.${libc}.node`);
copyFileSync(source, out);
console.log(`prebuild: wrote ${out}`);
