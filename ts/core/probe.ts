import { native } from './native';
import type { ProbeResult } from './binding';

/** A backend zerosock can run on. */
export type Backend = 'io_uring' | 'epoll';

/** What {@link probe} reports. `backend` is what `backend: 'auto'` would pick. */
export interface ProbeReport extends Omit<ProbeResult, 'backend'> {
  backend: Backend;
}

/**
 * Asks the running kernel what zerosock can use: the kernel release, whether io_uring_setup
 * works (seccomp or `kernel.io_uring_disabled` make it fail), the supported io_uring opcodes
 * and the features zerosock relies on. Honours `ZEROSOCK_BACKEND`. Never throws: an invalid
 * `ZEROSOCK_BACKEND` is reported in `error`.
 */
export function probe(): ProbeReport {
  try {
    return native.probe() as ProbeReport;
  } catch (err) {
    return {
      backend: 'epoll',
      kernel: 'unknown',
      ioUring: { available: false, error: String((err as Error)?.message ?? err), opcodes: [] },
      features: {
        multishotAccept: false,
        multishotRecv: false,
        ringMappedBuffers: false,
        sendZc: false,
        sendmsgZc: false,
        singleIssuer: false,
        deferTaskrun: false,
        msgZerocopy: false,
        tcpZerocopyReceive: false,
      },
    };
  }
}
