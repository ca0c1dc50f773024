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
    return (this.local ??= open ? this.ask('localAddress') : undefined);
  }

  /** The peer's address; asked only while `open`. */
  remoteAddress(open: boolean): Address | undefined {
    return (this.remote ??= open ? this.ask('remoteAddress') : undefined);
  }

  /** One lookup; undefined if the engine no longer knows the socket (asked again next time). */
  private ask(which: 'localAddress' | 'remoteAddress'): Address | undefined {
    try {
      return this.engine.native[which](this.id);
    } catch {
      return undefined;
    }
  }

  /** The peer's address if it was asked for already (an error report never asks). */
  get knownRemote(): Address | undefined {
    return this.remote;
  }
}
