// What the benchmark workers send and how the receiving side checks it.
//
// Streams repeat one pseudo-random chunk. By default the receiver checks one byte every 4 099
// bytes of the stream (a prime stride, so over a stream every position of the chunk is
// sampled) against the byte the chunk has at that stream offset, and counts the bytes: a lost,
// duplicated or reordered range shifts every later offset and fails ~255 of 256 samples. That
// costs the receiver ~nothing, so the stream rows measure the transport; a receiver that reads
// every byte (CRC-32, the `crc` rows) turns the stream receiver-bound, which changes the
// sender's costs too (partial writes, more sleeps) — both are reported.
//
// Messages have a fixed size: bytes 0..3 hold the sequence number (u32 LE), the rest is a fixed
// pattern. The receiver walks message boundaries, checks every sequence number and keeps a CRC-32
// of the whole byte stream; the sender recomputes the CRC of what it sent after the timed window,
// so neither side pays for checksums of its own messages while it is being measured (the receiver
// does pay for its CRC, on every implementation alike: zlib.crc32 runs at several GB/s).
import { crc32 } from 'node:zlib';

/** Deterministic pseudo-random bytes (xorshift32). */
export function pattern(len, seed = 1) {
  const out = Buffer.allocUnsafe(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Makes message `seq` of `size` bytes (a fresh Buffer, as an application would). */
export function makeMessage(template, seq) {
  const m = Buffer.allocUnsafe(template.length);
  template.copy(m, 4, 4);
  m.writeUInt32LE(seq >>> 0, 0);
  return m;
}

/** The template all messages of one size share (its first 4 bytes are overwritten). */
export const messageTemplate = (size) => pattern(size, size);

/** CRC-32 of messages 0..count-1 of `template`'s size, built in 64 KiB blocks. */
export function messagesCrc(template, count) {
  const size = template.length;
  const perBlock = Math.max(1, Math.floor(65536 / size));
  const block = Buffer.allocUnsafe(perBlock * size);
  for (let i = 0; i < perBlock; i++) template.copy(block, i * size);
  let crc = 0;
  for (let seq = 0; seq < count; seq += perBlock) {
    const n = Math.min(perBlock, count - seq);
    for (let i = 0; i < n; i++) block.writeUInt32LE((seq + i) >>> 0, i * size);
    crc = crc32(block.subarray(0, n * size), crc);
  }
  return crc;
}

/** Seed of the chunk streams repeat. */
export const STREAM_SEED = 7;

/** Bytes between two sampled bytes of a stream (a prime). */
export const SAMPLE_STRIDE = 4099;

/** Checks a stream of `chunk` repeated: one byte every `stride` bytes, and the byte count. */
export class SampledChecker {
  constructor(chunk, stride = SAMPLE_STRIDE) {
    this.chunk = chunk;
    this.stride = stride;
    this.bytes = 0;
    this.next = 0; // stream offset of the next sampled byte
    this.samples = 0;
    this.mismatches = 0;
  }

  /** Feeds one received chunk (read synchronously; borrowed views are fine). */
  push(view) {
    const end = this.bytes + view.byteLength;
    const { chunk, stride } = this;
    const size = chunk.length;
    while (this.next < end) {
      if (view[this.next - this.bytes] !== chunk[this.next % size]) this.mismatches++;
      this.samples++;
      this.next += stride;
    }
    this.bytes = end;
  }
}

/** CRC-32 of `chunk` repeated `count` times. */
export function repeatedCrc(chunk, count) {
  let crc = 0;
  for (let i = 0; i < count; i++) crc = crc32(chunk, crc);
  return crc;
}

/**
 * Receiving side of a fixed-size message stream: counts messages, checks each sequence number
 * (the header may straddle two reads) and keeps a CRC-32 of every byte.
 */
export class MessageChecker {
  constructor(size) {
    this.size = size;
    this.bytes = 0;
    this.crc = 0;
    this.messages = 0;
    this.badSeq = 0;
    this.pos = 0; // offset inside the current message
    this.header = 0; // sequence bytes gathered so far (when straddling)
  }

  /** Feeds one received chunk (read synchronously; borrowed views are fine). */
  push(view) {
    const n = view.byteLength;
    this.bytes += n;
    this.crc = crc32(view, this.crc);
    const size = this.size;
    let i = 0;
    while (i < n) {
      if (this.pos < 4) {
        if (this.pos === 0 && i + 4 <= n) {
          const seq =
            (view[i] | (view[i + 1] << 8) | (view[i + 2] << 16) | (view[i + 3] << 24)) >>> 0;
          if (seq !== this.messages >>> 0) this.badSeq++;
          this.pos = 4;
          i += 4;
        } else {
          this.header |= view[i] << (8 * this.pos);
          this.pos++;
          i++;
          if (this.pos === 4) {
            if (this.header >>> 0 !== this.messages >>> 0) this.badSeq++;
            this.header = 0;
          }
        }
        if (this.pos === 4 && size === 4) {
          this.pos = 0;
          this.messages++;
        }
        continue;
      }
      const step = Math.min(size - this.pos, n - i);
      i += step;
      this.pos += step;
      if (this.pos === size) {
        this.pos = 0;
        this.messages++;
      }
    }
  }

  /** True when the stream ended on a message boundary with every sequence number in order. */
  get clean() {
    return this.pos === 0 && this.badSeq === 0;
  }
}
