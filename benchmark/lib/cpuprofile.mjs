// Self-time shares of a V8 .cpuprofile (what `node --cpu-prof` writes): per function and per
// area (zerosock's JS, node's own JS, a framework, GC, native/program, idle), from the samples.
import { readFileSync } from 'node:fs';

/** Where a frame's code lives. */
function area(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)' || url === '') return 'native / (program)';
  if (url.startsWith('node:')) return 'node internals (node:*)';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m !== null) return m[1];
  if (url.includes('/dist/cjs/')) return 'zerosock (dist)';
  return 'other';
}

/** `{ totalMs, areas: [[area, share]], top: [[function, share]] }` of a profile file. */
export function summarizeProfile(file, topN = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  let total = 0;
  const fns = new Map();
  const areas = new Map();
  for (const [id, us] of self) {
    const { callFrame: f } = byId.get(id);
    if (f.functionName === '(idle)') continue; // the loop waiting: not CPU
    total += us;
    const file = f.url.replace(/^.*\/(node_modules\/|dist\/cjs\/)/, '$1');
    const key = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = area(f.url, f.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const shares = (m) =>
    [...m].sort((x, y) => y[1] - x[1]).map(([k, us]) => [k, +((100 * us) / total).toFixed(1)]);
  return {
    totalMs: Math.round(total / 1000),
    areas: shares(areas),
    top: shares(fns).slice(0, topN),
  };
}
