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
  private local?: Address;
  private remote?: Address;

  constructor(engine: Engine, id: number) {
    this.engine = engine;
    this.id = id;
  }

  /** The local address; asked only while `open` (a closed id names nothing any more). */
  localAddress(open: boolean): Address | undefined {
    if (this.local === undefined && open) {
      try {
        this.local = this.engine.native.localAddress(this.id);
      } catch {
        return undefined;
      }
    }
    return this.local;
  }

  /** The peer's address; asked only while `open`. */
  remoteAddress(open: boolean): Address | undefined {
    if (this.remote === undefined && open) {
      try {
        this.remote = this.engine.native.remoteAddress(this.id);
      } catch {
        return undefined;
      }
    }
    return this.remote;
  }

  /** The peer's address if it was asked for already (an error report never asks). */
  get knownRemote(): Address | undefined {
    return this.remote;
  }
}
