// Sizes, counts and time bounds of each workload per mode. Every workload stops at whichever
// comes first, its count or its time; `timeoutMs` is the hard stop of one measurement.

export const WORKLOAD_NAMES = [
  'msgs',
  'stream',
  'latency',
  'echo',
  'paced',
  'idle',
  'uds',
  'ring',
  'pool',
];

export const MODES = {
  /** Tiny sizes for the test suite: checks that everything runs and moves the bytes. */
  smoke: {
    repeats: 1,
    msgs: { durationMs: 400, warmupMs: 0, maxMessages: 3000, batch: 64, timeoutMs: 15_000 },
    stream: { durationMs: 400, warmupMs: 0, maxBytes: 4 << 20, timeoutMs: 15_000 },
    latency: { rounds: 200, warmupRounds: 20, maxMs: 3000, timeoutMs: 15_000 },
    echo: { conns: 20, durationMs: 200, warmupMs: 50, timeoutMs: 15_000 },
    paced: {
      conns: 10,
      rates: [200, 2000, 20000],
      durationMs: 300,
      warmupMs: 50,
      timeoutMs: 15_000,
    },
    idle: { conns: 50, timeoutMs: 15_000 },
    ring: { counts: { 64: 20_000, 1024: 10_000 } },
    pool: { loop: 10_000 },
  },
  /** The default `npm run bench`: about a minute. */
  short: {
    repeats: 1,
    msgs: { durationMs: 1500, warmupMs: 300, maxMessages: 50e6, batch: 64, timeoutMs: 60_000 },
    stream: { durationMs: 2500, warmupMs: 500, maxBytes: 64 * 2 ** 30, timeoutMs: 60_000 },
    latency: { rounds: 10_000, warmupRounds: 1000, maxMs: 5000, timeoutMs: 30_000 },
    echo: { conns: 1000, durationMs: 2500, warmupMs: 500, timeoutMs: 60_000 },
    paced: {
      conns: 100,
      rates: [200, 2000, 20000],
      durationMs: 3000,
      warmupMs: 500,
      timeoutMs: 60_000,
    },
    idle: { conns: 10_000, timeoutMs: 60_000 },
    ring: { counts: { 64: 1_000_000, 1024: 300_000 } },
    pool: { loop: 300_000 },
  },
  /** `--full`: longer runs, repeated (median of N and spread). */
  full: {
    repeats: 5,
    msgs: { durationMs: 2500, warmupMs: 500, maxMessages: 200e6, batch: 64, timeoutMs: 120_000 },
    stream: { durationMs: 3000, warmupMs: 500, maxBytes: 256 * 2 ** 30, timeoutMs: 120_000 },
    latency: { rounds: 20_000, warmupRounds: 2000, maxMs: 10_000, timeoutMs: 60_000 },
    echo: { conns: 1000, durationMs: 3000, warmupMs: 500, timeoutMs: 120_000 },
    paced: {
      conns: 100,
      rates: [200, 2000, 20000],
      durationMs: 5000,
      warmupMs: 500,
      timeoutMs: 120_000,
    },
    idle: { conns: 10_000, timeoutMs: 120_000 },
    ring: { counts: { 64: 3_000_000, 1024: 1_000_000 } },
    pool: { loop: 2_000_000 },
  },
};

// `uds`: the 64 B messages and the ping-pong over a Unix domain socket, with the sizes and time
// bounds of the TCP `msgs` and `latency` workloads of the same mode, so the rows compare.
for (const mode of Object.values(MODES)) mode.uds = { msgs: mode.msgs, latency: mode.latency };
