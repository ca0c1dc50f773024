// The import rule of ts/: every file sits in a layer folder, a layer imports only its own or
// lower layers, and runtime imports form no cycle. Run by `npm run lint` and .ci/run.
//
//   node scripts/check-layers.mjs [dir]     (dir defaults to ts/; exits 1 on a violation)
//
// Layers, lowest first (a file in one may import from the same layer or any layer before it):
//   core      the native addon, its types, the engine (JS side of the records), errors, validation
//   mem       memory shared with native code or other threads: buffer pool, SPSC ring, lent memory
//   net       sockets (and their parts in net/socket/), servers, connect, the stream.Duplex view
//   adapters  integrations built on net: node:http, worker_threads clusters
// ts/index.ts is the public entry: it may import anything, and nothing imports it.
//
// Imports are read with the TypeScript parser (static, `export … from`, `import()`, `require()`
// with a literal path). An `import type` / `export type` (or one whose names all carry `type`)
// is erased by tsc: it still may not point into a higher layer, but it does not count for
// cycles — a socket and its Duplex view may name each other's types.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = ['core', 'mem', 'net', 'adapters'];
const ENTRY = 'index.ts';

const require = createRequire(import.meta.url);
const ts = require('typescript');

/** Every .ts file under `dir`, as paths relative to it with `/` separators. */
function listSources(dir) {
  const out = [];
  const walk = (sub) => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub === '' ? name : `${sub}/${name}`;
      if (statSync(join(dir, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts')) out.push(rel);
    }
  };
  walk('');
  return out.sort();
}

/** `{ spec, typeOnly, line }` for each import of `file`'s source. */
function readImports(file, source) {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (node, spec, typeOnly) =>
    found.push({
      spec,
      typeOnly,
      line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1,
    });
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTyped =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier.text, clause?.isTypeOnly === true || allNamedTyped);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const named = node.exportClause;
      const allNamedTyped =
        named !== undefined &&
        ts.isNamedExports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      add(node, node.moduleSpecifier.text, node.isTypeOnly || allNamedTyped);
    } else if (
      ts.isCallExpression(node) &&
      node.arguments.length === 1 &&
      ts.isStringLiteralLike(node.arguments[0]) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node, node.arguments[0].text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) add(node, lit.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The file (relative to the root) a relative specifier names, or null if none exists. */
function resolveSpec(root, from, spec) {
  const base = relative(root, resolve(root, dirname(from), spec))
    .split(sep)
    .join('/');
  for (const candidate of [`${base}.ts`, `${base}.d.ts`, `${base}/index.ts`, base]) {
    if (candidate.endsWith('.ts') && existsSync(join(root, candidate))) return candidate;
  }
  return null;
}

/** The layer index of a file (LAYERS.length for the entry), or -1 outside any layer. */
function layerOf(file) {
  if (file === ENTRY) return LAYERS.length;
  const top = file.split('/')[0];
  return file.includes('/') ? LAYERS.indexOf(top) : -1;
}

const layerName = (i) => (i === LAYERS.length ? 'the entry (index.ts)' : `layer ${LAYERS[i]}`);

/** Cycles among runtime edges: one representative path per strongly connected component. */
function findCycles(files, edges) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const strongConnect = (v) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    const self = (edges.get(v) ?? []).includes(v);
    if (component.length > 1 || self) cycles.push(cyclePath(new Set(component), edges, v));
  };
  for (const f of files) if (!index.has(f)) strongConnect(f);
  return cycles;
}

/** A closed path through `component` starting and ending at `start` (breadth-first). */
function cyclePath(component, edges, start) {
  const prev = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of edges.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = prev.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Checks the tree under `root`; returns `{ files, imports, problems }`. */
export function checkLayers(root) {
  const files = listSources(root);
  const problems = [];
  const runtimeEdges = new Map();
  let imports = 0;
  for (const file of files) {
    const from = layerOf(file);
    if (from < 0) {
      problems.push(`${file}: not in a layer folder (${LAYERS.join(', ')}) and not ${ENTRY}`);
    }
    const targets = [];
    for (const { spec, typeOnly, line } of readImports(
      file,
      readFileSync(join(root, file), 'utf8'),
    )) {
      if (!spec.startsWith('.')) continue; // node: builtins and packages
      imports++;
      const target = resolveSpec(root, file, spec);
      if (target === null) {
        problems.push(`${file}:${line}: '${spec}' names no file under ${root}`);
        continue;
      }
      const to = layerOf(target);
      if (target === ENTRY) {
        problems.push(
          `${file}:${line}: imports the public entry ${ENTRY}; import the module itself`,
        );
      } else if (from >= 0 && to > from) {
        problems.push(
          `${file}:${line}: ${layerName(from)} imports '${spec}' from the higher ${layerName(to)}` +
            ` (order: ${LAYERS.join(' <- ')})`,
        );
      }
      if (!typeOnly) targets.push(target);
    }
    runtimeEdges.set(file, targets);
  }
  for (const cycle of findCycles(files, runtimeEdges)) {
    problems.push(`import cycle: ${cycle.join(' -> ')}`);
  }
  return { files: files.length, imports, problems };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const root = resolve(process.argv[2] ?? join(repo, 'ts'));
  const { files, imports, problems } = checkLayers(root);
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} problem(s) in ${root}:`);
    for (const p of problems) console.error(`  ${p}`);
    process.exit(1);
  }
  console.log(
    `check-layers: ${files} files, ${imports} relative imports; layers ${LAYERS.join(' <- ')} hold, no cycles`,
  );
}
