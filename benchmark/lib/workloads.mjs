// The socket workloads: which measurements each one makes, how the receiving side's counts and
// checksums are checked against the sender's, which metrics come out and which rows compare
// zerosock with node:net.
//
// A measurement is { workload, tag, impl, variant, params }; its key is
// `${workload}:${tag}:${impl}:${variant}`. A row compares one node:net variant with one zerosock
// variant on every zerosock backend.

import { SAMPLE_STRIDE } from './payload.mjs';

export const keyOf = (m) => `${m.workload}:${m.tag}:${m.impl}:${m.variant}`;

const KB = 1024;
const sizeLabel = (n) => (n >= 1 << 20 ? `${n >> 20} MB` : n >= KB ? `${n / KB} KB` : `${n} B`);

/**
 * The stream measurements: [tag, write size, receiver check]. 'sampled' (payload.mjs
 * SampledChecker) measures the transport; 'crc' has the receiver read every byte (CRC-32).
 */
const STREAMS = [
  [64 * KB, 64 * KB, 'sampled'],
  [1 << 20, 1 << 20, 'sampled'],
  ['1MB-crc', 1 << 20, 'crc'],
];

/**
 * The checks of a 64 B echo over many connections (`echo`, `paced`): every connection there,
 * `inWindow` replies measured, each reply its request, nothing unanswered or extra, the server
 * echoed what the client sent.
 */
function echoChecks(m, r, inWindow) {
  const p = [];
  if (r.client.conns !== m.params.conns) p.push(`only ${r.client.conns} connections`);
  if (!(inWindow > 0)) p.push('no replies in the window');
  if (r.client.bad !== 0) p.push(`${r.client.bad} replies differ from their request`);
  if (r.client.replies !== r.client.requests)
    p.push(`${r.client.requests - r.client.replies} requests unanswered`);
  if (r.client.extraBytes !== 0) p.push(`${r.client.extraBytes} unexpected bytes`);
  if (r.server.echoedBytes !== r.client.requests * 64)
    p.push(`server echoed ${r.server.echoedBytes} B, client sent ${r.client.requests * 64} B`);
  return p;
}

/** Each workload: measurements(cfg, zsImpls), verify(m, r), metrics(m, r), rows. */
export const WORKLOADS = {
  msgs: {
    title: 'one-way messages, one send()/write() per message',
    measurements(cfg, zs) {
      const out = [];
      for (const size of [64, 1024]) {
        const params = { ...cfg.msgs, size };
        for (const impl of zs) {
          out.push({ impl, variant: 'cork', tag: size, params });
          out.push({ impl, variant: 'nocork', tag: size, params });
          if (size === 64) out.push({ impl, variant: 'nobusy', tag: size, params });
        }
        out.push({ impl: 'net', variant: 'write', tag: size, params });
        out.push({ impl: 'net', variant: 'cork', tag: size, params });
      }
      return out;
    },
    verify(m, r) {
      const p = [];
      if (!(r.client.messages > 0)) p.push('no messages sent');
      if (r.server.messages !== r.client.messages)
        p.push(`receiver counted ${r.server.messages} messages, sender sent ${r.client.messages}`);
      if (r.server.bytes !== r.client.bytes)
        p.push(`receiver got ${r.server.bytes} B, sender sent ${r.client.bytes} B`);
      if (r.server.crc !== r.client.crc) p.push('CRC-32 differs');
      if (r.server.badSeq !== 0) p.push(`${r.server.badSeq} sequence numbers out of order`);
      if (!r.server.clean) p.push('stream did not end on a message boundary');
      return p;
    },
    metrics(m, r) {
      const w = r.server.window;
      return {
        msgsPerSec: w.count / (w.ms / 1000),
        bytesPerFlush: r.client.socket.bytesPerFlush,
        bytesPerRead: r.server.bytes / Math.max(1, r.server.dataEvents),
        cpuSeconds: r.client.cpuSeconds + r.server.cpuSeconds,
        messages: r.server.messages,
      };
    },
    rows: [64, 1024].flatMap((size) => [
      {
        tag: size,
        label: `${sizeLabel(size)} msgs: defaults (auto-cork vs write()/msg)`,
        net: 'write',
        zs: 'cork',
        metric: 'msgsPerSec',
      },
      {
        tag: size,
        label: `${sizeLabel(size)} msgs: corked (auto-cork vs cork()/uncork() per tick)`,
        net: 'cork',
        zs: 'cork',
        metric: 'msgsPerSec',
      },
      {
        tag: size,
        label: `${sizeLabel(size)} msgs: uncorked (cork:false vs write()/msg)`,
        net: 'write',
        zs: 'nocork',
        metric: 'msgsPerSec',
      },
      ...(size === 64
        ? [
            {
              tag: size,
              label: '64 B msgs: auto-cork, busyPollUs: 0 vs write()/msg',
              net: 'write',
              zs: 'nobusy',
              metric: 'msgsPerSec',
            },
          ]
        : []),
    ]),
  },

  stream: {
    title: 'one-way stream of large writes',
    measurements(cfg, zs) {
      const out = [];
      for (const [tag, size, verify] of STREAMS) {
        const params = { ...cfg.stream, size, verify };
        for (const impl of zs) out.push({ impl, variant: 'cork', tag, params });
        out.push({ impl: 'net', variant: 'write', tag, params });
      }
      return out;
    },
    verify(m, r) {
      const p = [];
      if (!(r.client.bytes > 0)) p.push('nothing sent');
      if (r.server.bytes !== r.client.bytes)
        p.push(`receiver got ${r.server.bytes} B, sender sent ${r.client.bytes} B`);
      if (m.params.verify === 'crc') {
        if (r.server.crc !== r.client.crc) p.push('CRC-32 differs');
      } else {
        if (r.server.mismatches !== 0) p.push(`${r.server.mismatches} sampled bytes differ`);
        if (!(r.server.samples >= Math.floor((r.server.bytes - 1) / SAMPLE_STRIDE)))
          p.push(`only ${r.server.samples} bytes sampled`);
      }
      return p;
    },
    metrics(m, r) {
      const w = r.server.window;
      const cpu = r.client.cpuSeconds + r.server.cpuSeconds;
      return {
        gbitPerSec: (w.count * 8) / (w.ms / 1000) / 1e9,
        cpuSecPerGB: cpu / (r.server.bytes / 1e9),
        bytesPerRead: r.server.bytes / Math.max(1, r.server.dataEvents),
        bytes: r.server.bytes,
      };
    },
    rows: STREAMS.map(([tag, size, verify]) => [
      tag,
      `${sizeLabel(size)} writes${verify === 'crc' ? ', CRC-32 receiver' : ''}`,
    ]).flatMap(([tag, what]) => [
      {
        tag,
        label: `${what}: throughput`,
        net: 'write',
        zs: 'cork',
        metric: 'gbitPerSec',
      },
      {
        tag,
        label: `${what}: CPU (both processes)`,
        net: 'write',
        zs: 'cork',
        metric: 'cpuSecPerGB',
      },
    ]),
  },

  latency: {
    title: '64 B ping-pong on one connection',
    measurements(cfg, zs) {
      const params = { ...cfg.latency, conns: 1 };
      const out = [];
      for (const impl of zs) {
        out.push({ impl, variant: 'cork', tag: 64, params });
        out.push({ impl, variant: 'nocork', tag: 64, params });
        out.push({ impl, variant: 'nobusy', tag: 64, params });
      }
      out.push({ impl: 'net', variant: 'write', tag: 64, params });
      return out;
    },
    verify(m, r) {
      const p = [];
      if (!(r.client.samples > 0)) p.push('no round trips measured');
      if (r.client.bad !== 0) p.push(`${r.client.bad} replies differ from their request`);
      if (r.client.extraBytes !== 0) p.push(`${r.client.extraBytes} unexpected bytes`);
      if (r.server.echoedBytes !== r.client.sentBytes)
        p.push(`server echoed ${r.server.echoedBytes} B, client sent ${r.client.sentBytes} B`);
      return p;
    },
    metrics(m, r) {
      return {
        p50Us: r.client.p50Us,
        p99Us: r.client.p99Us,
        meanUs: r.client.meanUs,
        rounds: r.client.rounds,
        cpuUsPerRound: ((r.client.cpuSeconds + r.server.cpuSeconds) * 1e6) / r.client.rounds,
      };
    },
    rows: [
      {
        tag: 64,
        label: 'ping-pong 64 B, p50 (defaults)',
        net: 'write',
        zs: 'cork',
        metric: 'p50Us',
      },
      {
        tag: 64,
        label: 'ping-pong 64 B, p99 (defaults)',
        net: 'write',
        zs: 'cork',
        metric: 'p99Us',
      },
      {
        tag: 64,
        label: 'ping-pong 64 B, p50 (cork:false)',
        net: 'write',
        zs: 'nocork',
        metric: 'p50Us',
      },
      {
        tag: 64,
        label: 'ping-pong 64 B, p99 (cork:false)',
        net: 'write',
        zs: 'nocork',
        metric: 'p99Us',
      },
      {
        tag: 64,
        label: 'ping-pong 64 B, CPU per round trip, both processes (defaults)',
        net: 'write',
        zs: 'cork',
        metric: 'cpuUsPerRound',
      },
      ...['p50Us', 'p99Us', 'cpuUsPerRound'].map((metric) => ({
        tag: 64,
        label: `ping-pong 64 B, ${{ p50Us: 'p50', p99Us: 'p99', cpuUsPerRound: 'CPU per round trip' }[metric]} (busyPollUs: 0: no busy polling)`,
        net: 'write',
        zs: 'nobusy',
        metric,
      })),
    ],
  },

  echo: {
    title: 'echo, 64 B requests, 1 outstanding per connection',
    measurements(cfg, zs) {
      const params = cfg.echo;
      return [
        ...zs.map((impl) => ({ impl, variant: 'cork', tag: params.conns, params })),
        { impl: 'net', variant: 'write', tag: params.conns, params },
      ];
    },
    verify: (m, r) => echoChecks(m, r, r.client.windowReplies),
    metrics(m, r) {
      return {
        reqPerSec: r.client.windowReplies / (r.client.windowMs / 1000),
        cpuSeconds: r.client.cpuSeconds + r.server.cpuSeconds,
        replies: r.client.replies,
      };
    },
    rows: [
      {
        tag: null,
        label: 'echo, {conns} connections',
        net: 'write',
        zs: 'cork',
        metric: 'reqPerSec',
      },
    ],
  },

  paced: {
    title: 'paced load: 64 B echo, node:net clients sending at a fixed rate (open loop)',
    measurements(cfg, zs) {
      const params = cfg.paced;
      return params.rates.flatMap((rate) => [
        ...zs.map((impl) => ({ impl, variant: 'cork', tag: rate, params: { ...params, rate } })),
        { impl: 'net', variant: 'write', tag: rate, params: { ...params, rate } },
      ]);
    },
    verify(m, r) {
      const p = echoChecks(m, r, r.client.samples);
      if (!(r.server.window.requests > 0)) p.push('the server counted no request in its window');
      // A paced row is only about the server if the client kept its pace.
      if (r.client.achievedRate < 0.9 * m.tag)
        p.push(`client reached ${r.client.achievedRate.toFixed(0)} req/s of ${m.tag}`);
      return p;
    },
    metrics(m, r) {
      return {
        cpuUsPerReq: (r.server.window.cpuSeconds * 1e6) / Math.max(1, r.server.window.requests),
        p50Us: r.client.p50Us,
        p99Us: r.client.p99Us,
        replies: r.client.replies,
      };
    },
    rows: [200, 2000, 20000].flatMap((rate) =>
      [
        ['cpuUsPerReq', 'server CPU per request'],
        ['p50Us', 'reply p50'],
        ['p99Us', 'reply p99'],
      ].map(([metric, what]) => ({
        tag: rate,
        label: `paced ${rate.toLocaleString('en-US')} req/s, {conns} node:net clients, 64 B echo: ${what} (defaults)`,
        net: 'write',
        zs: 'cork',
        metric,
      })),
    ),
  },

  idle: {
    title: 'idle connections: RSS growth per connection',
    measurements(cfg, zs) {
      const params = cfg.idle;
      return [
        ...zs.map((impl) => ({ impl, variant: 'cork', tag: params.conns, params })),
        { impl: 'net', variant: 'write', tag: params.conns, params },
      ];
    },
    verify(m, r) {
      const p = [];
      if (r.server.conns !== m.params.conns) p.push(`server holds ${r.server.conns} connections`);
      if (r.client.conns !== m.params.conns) p.push(`client holds ${r.client.conns} connections`);
      return p;
    },
    metrics(m, r) {
      return {
        serverBytesPerConn: r.server.bytesPerConn,
        clientBytesPerConn: r.client.bytesPerConn,
      };
    },
    rows: [
      {
        tag: null,
        label: '{conns} idle conns: server RSS per connection',
        net: 'write',
        zs: 'cork',
        metric: 'serverBytesPerConn',
      },
      {
        tag: null,
        label: '{conns} idle conns: client RSS per connection',
        net: 'write',
        zs: 'cork',
        metric: 'clientBytesPerConn',
      },
    ],
  },
};

// `uds`: the `msgs` and `latency` code (params.kind) over a Unix domain socket path (params.uds:
// lib/runner.mjs makes a fresh one per measurement), node:net over the same kind of path as the
// baseline. Its checks are theirs plus: the listener was a socket file at that path.
const UDS_MSGS = 'msgs-64';
const UDS_PING = 'pingpong-64';
const udsVerify = (m, r) => {
  const p = WORKLOADS[m.params.kind].verify(m, r);
  if (!r.address?.path) p.push('not run over a Unix socket path');
  else if (r.address.isSocket !== true) p.push(`${r.address.path} was not a socket`);
  return p;
};
WORKLOADS.uds = {
  title: '64 B messages and 64 B ping-pong over a Unix domain socket',
  transport: 'UDS',
  measurements(cfg, zs) {
    const msgs = { ...cfg.uds.msgs, size: 64, kind: 'msgs', uds: true };
    const ping = { ...cfg.uds.latency, conns: 1, kind: 'latency', uds: true };
    const out = [];
    for (const impl of zs) {
      out.push({ impl, variant: 'cork', tag: UDS_MSGS, params: msgs });
      out.push({ impl, variant: 'nocork', tag: UDS_MSGS, params: msgs });
    }
    out.push({ impl: 'net', variant: 'write', tag: UDS_MSGS, params: msgs });
    out.push({ impl: 'net', variant: 'cork', tag: UDS_MSGS, params: msgs });
    for (const impl of zs) {
      out.push({ impl, variant: 'cork', tag: UDS_PING, params: ping });
      out.push({ impl, variant: 'nobusy', tag: UDS_PING, params: ping });
    }
    out.push({ impl: 'net', variant: 'write', tag: UDS_PING, params: ping });
    return out;
  },
  verify: udsVerify,
  metrics: (m, r) => WORKLOADS[m.params.kind].metrics(m, r),
  rows: [
    {
      tag: UDS_MSGS,
      label:
        '64 B msgs over UDS: one send() per message (auto-cork) vs node:net over UDS (write() per message)',
      net: 'write',
      zs: 'cork',
      metric: 'msgsPerSec',
    },
    {
      tag: UDS_MSGS,
      label: '64 B msgs over UDS: auto-cork vs node:net over UDS (cork()/uncork() per tick)',
      net: 'cork',
      zs: 'cork',
      metric: 'msgsPerSec',
    },
    {
      tag: UDS_MSGS,
      label: '64 B msgs over UDS: cork:false vs node:net over UDS (write() per message)',
      net: 'write',
      zs: 'nocork',
      metric: 'msgsPerSec',
    },
    ...[
      ['cork', 'defaults'],
      ['nobusy', 'busyPollUs: 0'],
    ].flatMap(([zs, how]) =>
      [
        ['p50Us', 'p50'],
        ['p99Us', 'p99'],
        ['cpuUsPerRound', 'CPU per round trip, both processes'],
      ].map(([metric, what]) => ({
        tag: UDS_PING,
        label: `ping-pong 64 B over UDS, ${what} (${how}) vs node:net over UDS`,
        net: 'write',
        zs,
        metric,
      })),
    ),
  ],
};

/** Units and direction of each metric. */
export const METRICS = {
  msgsPerSec: { unit: 'msgs/s', better: 'higher' },
  gbitPerSec: { unit: 'Gbit/s', better: 'higher' },
  cpuSecPerGB: { unit: 'CPU-s/GB', better: 'lower' },
  p50Us: { unit: 'µs', better: 'lower' },
  p99Us: { unit: 'µs', better: 'lower' },
  cpuUsPerRound: { unit: 'µs CPU', better: 'lower' },
  reqPerSec: { unit: 'req/s', better: 'higher' },
  cpuUsPerReq: { unit: 'µs CPU/req', better: 'lower' },
  serverBytesPerConn: { unit: 'B/conn', better: 'lower' },
  clientBytesPerConn: { unit: 'B/conn', better: 'lower' },
  ringMsgsPerSec: { unit: 'msgs/s', better: 'higher' },
  poolOpsPerSec: { unit: 'ops/s', better: 'higher' },
  gcCycles: { unit: 'GC cycles', better: 'lower' },
};
