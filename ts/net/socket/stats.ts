/** The counters of one socket: the sender and the receiver add to them, `sock.stats()` reads them. */
import type { FlushReason } from './cork-policy';
import type { ZeroCopyStats } from './zerocopy';

/** Counters of one socket. */
export interface SocketStats {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  dataEvents: number;
  flushes: number;
  bytesPerFlush: number;
  flushReasons: Record<FlushReason, number>;
  largeSends: number;
  /**
   * Bytes sent straight from received pool memory (a 'data' view passed to `send()`), with no
   * copy by zerosock: forwarding.
   */
  forwardedBytes: number;
  pendingBytes: number;
  /** Zerocopy send / receive counters. */
  zerocopy: ZeroCopyStats;
}

/** The running counts behind {@link SocketStats} (plain fields: they are bumped per message). */
export class SocketCounters {
  bytesSent = 0;
  bytesReceived = 0;
  messagesSent = 0;
  dataEvents = 0;
  flushes = 0;
  flushedBytes = 0;
  largeSends = 0;
  forwardedBytes = 0;
  readonly flushReasons: Record<FlushReason, number> = {
    full: 0,
    endOfTick: 0,
    completion: 0,
    timer: 0,
    explicit: 0,
    largeSend: 0,
    end: 0,
  };

  /** A copy for `sock.stats()`, with what the counters do not hold themselves. */
  snapshot(pendingBytes: number, zerocopy: ZeroCopyStats): SocketStats {
    return {
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      messagesSent: this.messagesSent,
      dataEvents: this.dataEvents,
      flushes: this.flushes,
      bytesPerFlush: this.flushes === 0 ? 0 : this.flushedBytes / this.flushes,
      flushReasons: { ...this.flushReasons },
      largeSends: this.largeSends,
      forwardedBytes: this.forwardedBytes,
      pendingBytes,
      zerocopy,
    };
  }
}
