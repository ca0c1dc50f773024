// Generated from crates/wire/src by `npm run gen:records` (zerosock_wire::ts::render).
// Do not edit: `cargo test -p zerosock-wire` fails while this file is stale. Record
// layouts are documented in crates/wire/src/records.rs.

/** The numbers of the record layout (inlined by tsc where they are used). */
export const enum Layout {
  /** Ints per record, in both directions. */
  RecordInts = 8,
  /** Reply ints before the first submission record. */
  ReplyInts = 8,
  /** Reply int that is 1 while native holds work only a flush hands to the kernel. */
  OwesSubmitInt = 7,
  /** Event records per dispatch. */
  EventRecords = 1024,
  /** Submission records per flush. */
  SubmitRecords = 4096,
  /** Ints before the first `[index, generation]` pair of a pool's cache block. */
  CacheHead = 4,
  /** Most `[index, generation]` pairs a pool's cache block holds. */
  CachePairs = 256,
}

/** Event kinds (native → JS). */
export const enum Ev {
  Accepted = 1,
  Connected = 2,
  Data = 3,
  Sent = 4,
  Eof = 5,
  Error = 6,
  Closed = 7,
  ZcDone = 8,
  Mapped = 9,
  TlsReady = 10,
  TlsFailed = 11,
  FileSent = 12,
}

/** Where the fields of a `Accepted` event record are (int offsets). */
export const enum AcceptedAt {
  Socket = 2,
}

/** Where the fields of a `Data` event record are (int offsets). */
export const enum DataAt {
  Region = 2,
  ByteOffset = 3,
  Len = 4,
  HandleLo = 5,
  HandleHi = 6,
}

/** Where the fields of a `Sent` event record are (int offsets). */
export const enum SentAt {
  BytesLo = 2,
  BytesHi = 3,
}

/** Where the fields of a `Error` event record are (int offsets). */
export const enum ErrorAt {
  Errno = 2,
  Syscall = 3,
}

/** Where the fields of a `ZcDone` event record are (int offsets). */
export const enum ZcDoneAt {
  First = 2,
  Last = 3,
  Copied = 4,
}

/** Where the fields of a `Mapped` event record are (int offsets). */
export const enum MappedAt {
  Window = 2,
  Chunk = 3,
  Len = 4,
  Token = 5,
}

/** Where the fields of a `FileSent` event record are (int offsets). */
export const enum FileSentAt {
  BytesLo = 2,
  BytesHi = 3,
  Errno = 4,
}

/** Submission kinds (JS → native). */
export const enum Sub {
  Send = 1,
  Release = 2,
  Shutdown = 3,
  Close = 4,
  Pause = 5,
  Resume = 6,
  Drop = 7,
  SendZc = 8,
  ZcRecv = 9,
  SendFile = 10,
  SendZcPool = 11,
}

/** System call names of error records, by index. */
export const SYSCALL_NAMES: readonly string[] = [
  'unknown',
  'accept',
  'connect',
  'read',
  'write',
  'shutdown',
  'listen',
  'bind',
  'socket',
  'setsockopt',
  'getsockopt',
  'getsockname',
  'getpeername',
  'eventfd',
  'mmap',
  'epoll_create1',
  'epoll_ctl',
  'epoll_wait',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'chmod',
];

/** An engine's `stats()`. */
export interface NativeEngineStats {
  /** io_uring_enter calls. */
  enters: number;
  /** epoll_wait calls. */
  epollWaits: number;
  /** read/recv calls (epoll backend). */
  readCalls: number;
  /** write/writev/send calls. */
  writeCalls: number;
  /** Writes (send completions / writev calls) that sent queued bytes. */
  sendOps: number;
  /** Other system calls on the hot path. */
  otherSyscalls: number;
  /** SQEs queued. */
  sqes: number;
  /** CQEs reaped. */
  cqes: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
  /** Data events. */
  recvEvents: number;
  /** Data events copied into a small buffer (copy-break). */
  copyBreaks: number;
  /** Times receiving stopped for want of a free buffer. */
  recvBufferExhausted: number;
  /** Accepted connections. */
  accepted: number;
  /** Sockets open now (listeners included). */
  openSockets: number;
  /** Pool buffers out now. */
  poolInUse: number;
  /** Most pool buffers out at once. */
  poolHighWater: number;
  /** Regions of small (copy-break) buffers mapped so far: 1, plus one per growth step. */
  poolSmallRegions: number;
  /** Regions of large (receive, cork) buffers mapped so far: 1, plus one per growth step. */
  poolLargeRegions: number;
  /** Pool acquires. */
  poolAcquired: number;
  /** Pool releases. */
  poolReleased: number;
  /** Submission records refused (socket gone, handle not held by JS, ...). */
  failedRecords: number;
  /** Turns that returned to the event loop with work only a submit hands to the kernel (the engine submitted it then); always 0 unless a path forgot to flush. */
  strandedSubmits: number;
  /** Times the event loop woke up for the engine (its notify fd was ready): what an idle connection must not cause. */
  loopWakeups: number;
  /** Busy-poll spins (`setBusyPoll`). */
  busyPolls: number;
  /** Busy-poll spins that saw work arrive in their budget. */
  busyPollHits: number;
  /** Busy-poll spins cut short because another handle of the loop was ready. */
  busyPollYields: number;
  /** Time spent spinning, µs. */
  busyPollSpunUs: number;
  /** The adaptive busy-poll budget now, µs. */
  busyPollBudgetUs: number;
  /** Zerocopy sends accepted. */
  zerocopySends: number;
  /** Bytes of accepted zerocopy sends. */
  zerocopyBytes: number;
  /** Bytes of finished zerocopy sends the kernel copied. */
  zerocopyCopiedBytes: number;
  /** Finished zerocopy sends the kernel copied. */
  zerocopyCopiedSends: number;
  /** Finished zerocopy sends. */
  zerocopyDoneSends: number;
  /** Zerocopy sends written as plain copies. */
  zerocopyFallbackSends: number;
  /** Kernel zerocopy writes (MSG_ZEROCOPY sendmsg calls / SEND_ZC SQEs). */
  zcWrites: number;
  /** Kernel zerocopy notifications received. */
  zcNotifications: number;
  /** ZC_DONE events reported (ranges). */
  zcDoneEvents: number;
  /** MSG_ZEROCOPY writes refused with ENOBUFS. */
  zcEnobufs: number;
  /** Zerocopy sends whose memory the kernel never gave back in time. */
  zcLeakedSends: number;
  /** Zerocopy receive: bytes mapped. */
  recvMappedBytes: number;
  /** Zerocopy receive: bytes that arrived by copy. */
  recvCopiedBytes: number;
  /** TCP_ZEROCOPY_RECEIVE getsockopt calls. */
  zcRecvCalls: number;
  /** Sockets that asked for zerocopy receive and got the plain path. */
  zcRecvFallbacks: number;
  /** TLS handshakes finished (the peer checked). */
  tlsHandshakes: number;
  /** TLS sessions that failed (refused certificate, alert, not TLS). */
  tlsFailures: number;
  /** Plaintext bytes encrypted for sending (TLS). */
  tlsPlainOut: number;
  /** Plaintext bytes decrypted from what was received (TLS). */
  tlsPlainIn: number;
  /** Zerocopy sends completed per kernel notification. */
  zerocopySendsPerNotification: number;
}

/** What an engine owes a submit (`submitDebt()`). */
export interface NativeSubmitDebt {
  /** Sockets whose queue (or FIN) waits to be written. */
  dirtySockets: number;
  /** Bytes queued on them. */
  queuedBytes: number;
  /** SQEs not yet submitted (io_uring). */
  sqes: number;
  /** Events waiting with no wake-up announcing them. */
  unannouncedEvents: number;
  /** Sockets with unreported zerocopy completions. */
  zerocopyDone: number;
}

/** A buffer pool's `stats()`. */
export interface NativeBufferPoolStats {
  /** Bytes per buffer. */
  size: number;
  /** Buffers mapped so far. */
  capacity: number;
  /** Buffers the pool may ever have. */
  limit: number;
  /** Regions mapped so far. */
  regions: number;
  /** Native acquires (all threads). */
  acquired: number;
  /** Native releases (all threads, every path). */
  released: number;
  /** Native acquires served from a thread's native cache. */
  recycledFromCache: number;
  /** Native acquires that went to the shared free list (or grew the pool). */
  misses: number;
  /** Releases on a non-owner thread pushed onto the owner's return ring. */
  returnedViaRing: number;
  /** Buffers owners took back from their return rings. */
  drainedFromRing: number;
  /** Non-owner releases that went to the shared free list instead. */
  returnedToShared: number;
  /** Growth steps. */
  grows: number;
  /** Acquires refused with `ERR_ZEROSOCK_POOL_EXHAUSTED`. */
  exhausted: number;
  /** Buffers acquired and not yet released. */
  inUse: number;
  /** Most buffers out at once. */
  highWater: number;
  /** Free buffers on the shared free list now. */
  sharedFree: number;
  /** Live pool handles with a return ring. */
  owners: number;
}
