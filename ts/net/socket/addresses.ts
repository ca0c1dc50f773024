/** The local and remote address of one socket, asked of the engine once and then kept. */
import type { Engine } from '../../core/engine';

/** An address as node:net gives it. */
export interface Address {
  address: string;
  family: string;
  port: number;
}

export class Addresses {
  private readonly engine: Engine;
  private readonly id: number;
  /** `null`: the socket has no IP address (a Unix socket); `undefined`: not asked yet. */
  private local?: Address | null;
  private remote?: Address | null;

  constructor(engine: Engine, id: number) {
    this.engine = engine;
    this.id = id;
  }

  /**
   * The local address; asked only while `open` (a closed id names nothing any more).
   * Undefined on a Unix socket, as in node:net.
   */
  localAddress(open: boolean): Address | undefined {
    if (this.local === undefined && open) this.local = this.ask('localAddress');
    return this.local ?? undefined;
  }

  /** The peer's address; asked only while `open`. Undefined on a Unix socket. */
  remoteAddress(open: boolean): Address | undefined {
    if (this.remote === undefined && open) this.remote = this.ask('remoteAddress');
    return this.remote ?? undefined;
  }

  /**
   * One lookup: null for a socket without an IP address, undefined if the engine no longer
   * knows the socket (asked again next time).
   */
  private ask(which: 'localAddress' | 'remoteAddress'): Address | null | undefined {
    try {
      return this.engine.native[which](this.id);
    } catch {
      return undefined;
    }
  }

  /** The peer's address if it was asked for already (an error report never asks). */
  get knownRemote(): Address | undefined {
    return this.remote ?? undefined;
  }
}
