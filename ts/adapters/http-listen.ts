/**
 * node:net's `listen()` arguments, read the way node:net reads them, turned into zerosock's
 * listen options (zerosock's listener reports bind failures the way node:net's listen does).
 *
 * Forms: `listen()`, `listen(cb)`, `listen(port[, host][, backlog][, cb])`,
 * `listen(path[, backlog][, cb])`, `listen(options[, cb])`. Every option key is checked: the
 * ones zerosock cannot honour are refused by name instead of being dropped.
 */
import { InvalidArgumentError } from '../core/errors';
import { validateHost, validateOptions, validatePort } from '../core/validate';

/** What zerosock's listener is given (`path` goes through as is: zerosock decides). */
export interface NodeListenOptions {
  port?: number | string;
  host?: string;
  backlog?: number;
  signal?: AbortSignal;
  reusePort?: boolean;
  path?: string;
  readableAll?: boolean;
  writableAll?: boolean;
}

/** Keys zerosock uses. */
const USED = ['port', 'host', 'backlog', 'signal', 'reusePort', 'path'];
/** node:net keys with nothing to do here for their default value: any other value is refused. */
const NET_DEFAULTS: Record<string, unknown> = {
  exclusive: undefined, // zerosock listeners are never shared through node:cluster: any value
  ipv6Only: false,
  readableAll: false,
  writableAll: false,
};
/** node:net keys naming a node handle or fd: zerosock never adopts one. */
const NET_HANDLES = ['fd', 'handle', '_handle'];
/**
 * Keys frameworks leave on the options object they pass to `listen()` for themselves
 * (fastify: its callback and its log line); node:net ignores them, and so does zerosock.
 */
const FRAMEWORK_KEYS = ['cb', 'listenTextResolver'];
const KNOWN = [...USED, ...Object.keys(NET_DEFAULTS), ...NET_HANDLES, ...FRAMEWORK_KEYS];

/** node:net's `isPipeName`: a string that is not a number names a path. */
const isPath = (v: unknown): v is string => typeof v === 'string' && !(Number(v) >= 0);
const toBacklog = (v: unknown): number | undefined => {
  if (typeof v === 'function' || v === null || v === undefined || v === false) return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
};

/** Reads `listen()`'s arguments like node:net's `normalizeArgs`; throws on a bad option. */
export function parseListenArgs(args: readonly unknown[]): {
  options: NodeListenOptions;
  callback: (() => void) | undefined;
} {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as () => void) : undefined;
  const first = args[0];
  let options: NodeListenOptions;
  if (args.length === 0 || typeof first === 'function') {
    options = { port: 0 };
  } else if (typeof first === 'object' && first !== null) {
    options = checkOptions(first as Record<string, unknown>);
  } else if (isPath(first)) {
    options = { path: first, backlog: toBacklog(args[1]) };
  } else {
    options = { port: (first as number | string | null | undefined) ?? 0 };
    if (typeof args[1] === 'string') options.host = args[1];
    options.backlog = toBacklog(args[1]) ?? toBacklog(args[2]);
  }
  if (options.backlog === undefined) delete options.backlog;
  // Like node:net, a bad port or host throws here; what the kernel refuses comes as 'error'.
  if (options.port !== undefined) options.port = validatePort(options.port);
  if (options.host !== undefined) validateHost(options.host);
  return { options, callback };
}

function checkOptions(raw: Record<string, unknown>): NodeListenOptions {
  validateOptions(raw, KNOWN);
  for (const key of NET_HANDLES) {
    if (raw[key] !== undefined) refuse(key, 'zerosock opens its own listener, it adopts no handle');
  }
  const out: NodeListenOptions = {};
  for (const [key, value] of Object.entries(NET_DEFAULTS)) {
    if (value === undefined || raw[key] === undefined || raw[key] === value) continue;
    // readableAll / writableAll belong to a Unix socket: zerosock's listener decides on them.
    if ((key === 'readableAll' || key === 'writableAll') && raw.path != null) {
      out[key] = raw[key] as boolean;
      continue;
    }
    refuse(key, `zerosock supports only ${key}: ${String(value)}`);
  }
  for (const key of USED) {
    if (raw[key] !== undefined && raw[key] !== null)
      (out as Record<string, unknown>)[key] = raw[key];
  }
  if (out.path === undefined && !('port' in raw)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_VALUE',
      'The "options" argument must have the property "port" or "path"',
    );
  }
  if (out.path === undefined) out.port ??= 0;
  return out;
}

function refuse(key: string, why: string): never {
  throw new InvalidArgumentError(
    'ERR_INVALID_ARG_VALUE',
    `The "options.${key}" listen option is not supported: ${why}`,
  );
}
