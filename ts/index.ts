/**
 * zerosock: socket primitives for Node.js servers, faster than node:net.
 * See README.md for the API and DESIGN.md for how it works.
 */
export { probe } from './probe';
export type { Backend, ProbeReport } from './probe';
export { ZerosockError, InvalidArgumentError } from './errors';
export type { ZerosockErrorCode } from './errors';
export { nativePath } from './native';
