/**
 * TLS (rustls in the engine, crates/tls): node:tls's options for servers and clients, their
 * validation, the JSON the engine builds a config from (once per server, once per distinct
 * set of client options), and what a TLS socket reports (`authorized`, `alpnProtocol`,
 * `getPeerCertificate()`, …) in node:tls's shapes.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Engine } from '../core/engine';
import { InvalidArgumentError } from '../core/errors';
import { describeValue, validateBoolean, validateInt, validateOptions } from '../core/validate';

/** PEM text, as node:tls takes it: a string, bytes, or a list of either. */
export type Pem = string | Uint8Array | ReadonlyArray<string | Uint8Array>;

/** One name-based certificate of a server (node:tls's `server.addContext(name, …)`). */
export interface SniContext {
  /** A host name, or `*.example.com` for one label under it. */
  servername: string;
  key: Pem;
  cert: Pem;
}

/** `createServer({ tls })`: node:tls's server options zerosock implements. */
export interface TlsServerOptions {
  /** The private key of `cert` (PEM). */
  key?: Pem;
  /** The certificate chain, leaf first (PEM). */
  cert?: Pem;
  /** CAs client certificates are checked against (default: Mozilla's roots). */
  ca?: Pem;
  /** Ask clients for a certificate (mutual TLS). */
  requestCert?: boolean;
  /** With `requestCert`: refuse clients without a valid certificate (default true). */
  rejectUnauthorized?: boolean;
  /** ALPN protocols, in the server's preference order. */
  ALPNProtocols?: ReadonlyArray<string | Uint8Array>;
  /** Certificates picked by the name the client asks for (SNI); `key`/`cert` otherwise. */
  SNI?: ReadonlyArray<SniContext>;
  /** A handshake that takes longer fails with `ERR_TLS_HANDSHAKE_TIMEOUT` (ms, default 120000). */
  handshakeTimeout?: number;
}

/** `connect({ tls })`: node:tls's client options zerosock implements. */
export interface TlsConnectOptions {
  /** CAs the server's chain must reach (default: Mozilla's roots). */
  ca?: Pem;
  /** The name the certificate must carry, sent as SNI (default: `host`). */
  servername?: string;
  /** Refuse a server whose certificate does not verify (default true). */
  rejectUnauthorized?: boolean;
  /** ALPN protocols, in preference order. */
  ALPNProtocols?: ReadonlyArray<string | Uint8Array>;
  /** A client certificate chain (with `key`). */
  cert?: Pem;
  /** The client certificate's private key. */
  key?: Pem;
}

const SERVER_TLS_KEYS = [
  'key',
  'cert',
  'ca',
  'requestCert',
  'rejectUnauthorized',
  'ALPNProtocols',
  'SNI',
  'handshakeTimeout',
];
const CLIENT_TLS_KEYS = ['ca', 'servername', 'rejectUnauthorized', 'ALPNProtocols', 'cert', 'key'];
const SNI_KEYS = ['servername', 'key', 'cert'];

/** node:tls's default `handshakeTimeout`. */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 120_000;

function pemText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  const parts = Array.isArray(value) ? value : [value];
  return parts
    .map((p: unknown) => {
      if (typeof p === 'string') return p;
      if (p instanceof Uint8Array)
        return Buffer.from(p.buffer, p.byteOffset, p.length).toString('latin1');
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        `The "tls.${name}" option must be a string, a Buffer or an array of them. Received ${describeValue(p)}`,
      );
    })
    .join('\n');
}

function alpnList(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "tls.ALPNProtocols" option must be an array. Received ${describeValue(value)}`,
    );
  }
  return value.map((p: unknown) => {
    const name = p instanceof Uint8Array ? Buffer.from(p).toString('latin1') : p;
    if (typeof name !== 'string' || name.length === 0 || name.length > 255) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_VALUE',
        `Each of "tls.ALPNProtocols" must be a string of 1 to 255 bytes. Received ${describeValue(p)}`,
      );
    }
    return name;
  });
}

/** A native TLS failure (bad PEM, …) as node:tls throws it: an `Error` with node's `code`. */
function tlsError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** Builds (or finds) the engine's config for `json`. */
const configs = new WeakMap<Engine, Map<string, number>>();
function configId(engine: Engine, json: string, server: boolean): number {
  let known = configs.get(engine);
  if (known === undefined) configs.set(engine, (known = new Map()));
  const key = `${server ? 's' : 'c'}${json}`;
  let id = known.get(key);
  if (id === undefined) {
    try {
      id = engine.native.tlsConfig(json, server);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw tlsError(e.code ?? 'ERR_ZEROSOCK_INTERNAL', e.message ?? String(err));
    }
    known.set(key, id);
  }
  return id;
}

/** A server's TLS: the config it sets on its listener and its handshake timeout. */
export interface ServerTls {
  config: (engine: Engine) => number;
  handshakeTimeoutMs: number;
}

/** Validates `createServer({ tls })` and builds its config (throws node's codes for bad PEM). */
export function serverTls(options: unknown, engine: Engine): ServerTls {
  const o = validateOptions<TlsServerOptions>(options, SERVER_TLS_KEYS, 'tls');
  const sni = (Array.isArray(o.SNI) || o.SNI === undefined ? (o.SNI ?? []) : null) as
    unknown[] | null;
  if (sni === null) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "tls.SNI" option must be an array. Received ${describeValue(o.SNI)}`,
    );
  }
  const json = JSON.stringify({
    cert: pemText(o.cert, 'cert') ?? '',
    key: pemText(o.key, 'key') ?? '',
    ca: pemText(o.ca, 'ca'),
    requestCert: validateBoolean(o.requestCert, 'tls.requestCert') ?? false,
    rejectUnauthorized: validateBoolean(o.rejectUnauthorized, 'tls.rejectUnauthorized') ?? true,
    alpnProtocols: alpnList(o.ALPNProtocols),
    sni: sni.map((c) => {
      const ctx = validateOptions<SniContext>(c, SNI_KEYS, 'tls.SNI[]');
      if (typeof ctx.servername !== 'string' || ctx.servername.length === 0) {
        throw new InvalidArgumentError(
          'ERR_INVALID_ARG_TYPE',
          `The "tls.SNI[].servername" option must be a non-empty string. Received ${describeValue(ctx.servername)}`,
        );
      }
      return {
        servername: ctx.servername,
        cert: pemText(ctx.cert, 'SNI[].cert') ?? '',
        key: pemText(ctx.key, 'SNI[].key') ?? '',
      };
    }),
  });
  const handshakeTimeoutMs =
    validateInt(o.handshakeTimeout, 'tls.handshakeTimeout', 1, 2 ** 31 - 1) ??
    DEFAULT_HANDSHAKE_TIMEOUT_MS;
  configId(engine, json, true); // bad PEM throws now, as node:tls.createServer does
  return { config: (e) => configId(e, json, true), handshakeTimeoutMs };
}

/** A client's TLS: its config and the name to check. */
export interface ClientTls {
  json: string;
  servername: string;
}

/** Validates `connect({ tls })`; `host` is the default servername. */
export function clientTls(options: unknown, host: string): ClientTls {
  const o = validateOptions<TlsConnectOptions>(
    options === true ? {} : options,
    CLIENT_TLS_KEYS,
    'tls',
  );
  const servername = o.servername ?? host;
  if (typeof servername !== 'string' || servername.length === 0) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "tls.servername" option must be a non-empty string. Received ${describeValue(servername)}`,
    );
  }
  const json = JSON.stringify({
    ca: pemText(o.ca, 'ca'),
    rejectUnauthorized: validateBoolean(o.rejectUnauthorized, 'tls.rejectUnauthorized') ?? true,
    alpnProtocols: alpnList(o.ALPNProtocols),
    cert: pemText(o.cert, 'cert'),
    key: pemText(o.key, 'key'),
  });
  return {
    json,
    servername: isIP(servername) === 6 ? servername.replace(/^\[|\]$/g, '') : servername,
  };
}

/** Sets `tls` on the connecting socket `id` (its ClientHello is queued). */
export function startClientTls(engine: Engine, id: number, tls: ClientTls): void {
  const config = configId(engine, tls.json, false);
  try {
    engine.native.setTls(id, config, tls.servername);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw tlsError(e.code ?? 'ERR_ZEROSOCK_INTERNAL', e.message ?? String(err));
  }
}

/** What the engine reports of a session (crates/tls `TlsSession::info_json`). */
interface TlsInfo {
  authorized: boolean;
  authorizationError: { code: string; message: string } | null;
  alpnProtocol: string | false;
  servername: string | false;
  protocol: string | null;
  cipher: string | null;
  error: { code: string; message: string } | null;
}

/** node:tls's `getPeerCertificate()` object (the fields zerosock fills). */
export interface PeerCertificate {
  subject: Record<string, string>;
  issuer: Record<string, string>;
  subjectaltname?: string;
  valid_from: string;
  valid_to: string;
  fingerprint: string;
  fingerprint256: string;
  fingerprint512: string;
  serialNumber: string;
  ca: boolean;
  raw: Buffer;
}

/** `CN=a\nO=b` (X509Certificate's form) → `{ CN: 'a', O: 'b' }`, as node:tls reports names. */
function names(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

/** One TLS socket's view of its session: read once the handshake is over. */
export class TlsState {
  /** The handshake is over (TLS_READY arrived). */
  ready = false;
  private info: TlsInfo | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly id: number,
    /** A server-side socket (node:tls's `isServer`). */
    readonly isServer: boolean,
  ) {}

  /** Reads the session's state (after TLS_READY / TLS_FAILED). */
  refresh(): TlsInfo {
    const json = this.engine.native.tlsInfo(this.id);
    this.info = json === null ? null : (JSON.parse(json) as TlsInfo);
    return this.info ?? emptyInfo;
  }

  /** The error that ended the session, as node:tls reports it. */
  failure(): Error & { code: string } {
    const e = this.refresh().error;
    return tlsError(e?.code ?? 'ERR_SSL_PROTOCOL_ERROR', e?.message ?? 'TLS session failed');
  }

  get authorized(): boolean {
    return this.info?.authorized ?? false;
  }

  /** node:tls's `authorizationError`: the code (a string), or null. */
  get authorizationError(): string | null {
    return this.info?.authorizationError?.code ?? null;
  }

  get alpnProtocol(): string | false {
    return this.info?.alpnProtocol ?? false;
  }

  get protocol(): string | null {
    return this.info?.protocol ?? null;
  }

  get servername(): string | false {
    return this.info?.servername ?? false;
  }

  get cipher(): { name: string; standardName: string; version: string } | null {
    const name = this.info?.cipher;
    if (!name) return null;
    return { name, standardName: name, version: this.info?.protocol ?? 'unknown' };
  }

  /** node:tls's `getPeerCertificate()`: the leaf, or `{}` without one. */
  peerCertificate(): PeerCertificate | Record<string, never> {
    const chain = this.engine.native.peerCertificates(this.id);
    if (chain.length === 0) return {};
    const x = new X509Certificate(chain[0]);
    const cert: PeerCertificate = {
      subject: names(x.subject),
      issuer: names(x.issuer),
      valid_from: x.validFrom,
      valid_to: x.validTo,
      fingerprint: x.fingerprint,
      fingerprint256: x.fingerprint256,
      fingerprint512: x.fingerprint512,
      serialNumber: x.serialNumber,
      ca: x.ca,
      raw: x.raw,
    };
    if (x.subjectAltName !== undefined) cert.subjectaltname = x.subjectAltName;
    return cert;
  }
}

const emptyInfo: TlsInfo = {
  authorized: false,
  authorizationError: null,
  alpnProtocol: false,
  servername: false,
  protocol: null,
  cipher: null,
  error: null,
};

/** node:tls's handshake timeout error. */
export function handshakeTimeoutError(): Error & { code: string } {
  return tlsError('ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timeout');
}
