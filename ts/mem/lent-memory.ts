/**
 * Memory lent to the kernel: a zerocopy send (net/socket/zerocopy.ts) marks the bytes it hands
 * over, and every place that would recycle memory (`BufferPool.release()`/`transfer()`,
 * `sock.release()`) asks {@link assertNotInFlight} first, so a buffer the kernel may still read
 * is never given to someone else. Process-wide, keyed by the backing buffer.
 */
import { ZerosockError } from '../core/errors';

/** Memory lent to the kernel: backing buffer → in-flight byte ranges. */
const lentRanges = new WeakMap<ArrayBufferLike, number[]>();
let lentCount = 0;

/** Records that a zerocopy send lent `view`'s memory to the kernel. */
export function markInFlight(view: Uint8Array): void {
  const ab = view.buffer;
  let list = lentRanges.get(ab);
  if (list === undefined) {
    list = [];
    lentRanges.set(ab, list);
  }
  list.push(view.byteOffset, view.byteOffset + view.byteLength);
  lentCount++;
}

/** The kernel let go of `view` (one {@link markInFlight} undone). */
export function clearInFlight(view: Uint8Array): void {
  const list = lentRanges.get(view.buffer);
  if (list === undefined) return;
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === view.byteOffset && list[i + 1] === view.byteOffset + view.byteLength) {
      list.splice(i, 2);
      lentCount--;
      break;
    }
  }
  if (list.length === 0) lentRanges.delete(view.buffer);
}

/**
 * Throws `ERR_ZEROSOCK_BUFFER_IN_FLIGHT` when `view` overlaps memory a zerocopy send has lent to
 * the kernel. `BufferPool.release()` and `sock.release()` call it.
 */
export function assertNotInFlight(view: Uint8Array, what: string): void {
  if (lentCount === 0) return;
  const list = lentRanges.get(view.buffer);
  if (list === undefined) return;
  const start = view.byteOffset;
  const end = start + view.byteLength;
  for (let i = 0; i < list.length; i += 2) {
    if (start < list[i + 1] && list[i] < end) {
      throw new ZerosockError(
        'ERR_ZEROSOCK_BUFFER_IN_FLIGHT',
        `this buffer cannot be ${what}: a zerocopy send lent it to the kernel and has not completed`,
      );
    }
  }
}
