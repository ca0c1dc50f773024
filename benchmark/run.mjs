// `npm run bench`: zerosock vs node:net side by side. Workloads are added as the engine grows;
// each one measures both sides in the same run and reports the ratio.
import { probe } from 'zerosock';

const p = probe();
console.log(`zerosock bench — kernel ${p.kernel}, node ${process.version}, backend ${p.backend}`);
console.log('no benchmarks yet: socket workloads land with the engine (see the issues).');
