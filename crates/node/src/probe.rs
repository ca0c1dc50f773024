//! `probe()`: what the kernel offers, as a plain JS object.

use napi_derive::napi;

/// io_uring as the kernel reported it.
#[napi(object)]
pub struct IoUringProbe {
    /// `io_uring_setup` works in this process.
    pub available: bool,
    /// Why not (e.g. `EPERM: Operation not permitted` when seccomp blocks it).
    pub error: Option<String>,
    /// Supported opcodes (`IORING_OP_*` without the prefix), from `IORING_REGISTER_PROBE`.
    pub opcodes: Vec<String>,
}

/// Features zerosock uses, each answered by the kernel itself.
#[napi(object)]
pub struct ProbeFeatures {
    /// Multishot accept (Linux 5.19+).
    pub multishot_accept: bool,
    /// Multishot recv (Linux 6.0+).
    pub multishot_recv: bool,
    /// Ring-mapped provided buffers (a buffer ring was registered for real).
    pub ring_mapped_buffers: bool,
    /// `IORING_OP_SEND_ZC`.
    pub send_zc: bool,
    /// `IORING_OP_SENDMSG_ZC`.
    pub sendmsg_zc: bool,
    /// `IORING_SETUP_SINGLE_ISSUER`.
    pub single_issuer: bool,
    /// `IORING_SETUP_DEFER_TASKRUN`.
    pub defer_taskrun: bool,
    /// `SO_ZEROCOPY` on a TCP socket (MSG_ZEROCOPY).
    pub msg_zerocopy: bool,
    /// `TCP_ZEROCOPY_RECEIVE` is known to the kernel.
    pub tcp_zerocopy_receive: bool,
}

/// An invalid `ZEROSOCK_BACKEND`, reported instead of thrown.
#[napi(object)]
pub struct ProbeError {
    /// `ERR_ZEROSOCK_INVALID_BACKEND`.
    pub code: String,
    /// Names the variable, the value and the allowed values.
    pub message: String,
}

/// The result of `probe()`.
#[napi(object)]
pub struct ProbeResult {
    /// What `backend: 'auto'` picks here (honours `ZEROSOCK_BACKEND`).
    pub backend: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// io_uring details.
    pub io_uring: IoUringProbe,
    /// Feature flags.
    pub features: ProbeFeatures,
    /// Set when `ZEROSOCK_BACKEND` holds a value that is not allowed (then `backend` is `auto`'s pick).
    pub error: Option<ProbeError>,
}

/// Asks the running kernel what zerosock can use. Never throws.
#[napi]
pub fn probe() -> ProbeResult {
    let r = zerosock_uring::probe();
    let f = r.features;
    ProbeResult {
        backend: r.backend.as_str().to_string(),
        kernel: r.kernel,
        io_uring: IoUringProbe {
            available: r.io_uring.available,
            error: r.io_uring.error,
            opcodes: r.io_uring.opcodes,
        },
        features: ProbeFeatures {
            multishot_accept: f.multishot_accept,
            multishot_recv: f.multishot_recv,
            ring_mapped_buffers: f.ring_mapped_buffers,
            send_zc: f.send_zc,
            sendmsg_zc: f.sendmsg_zc,
            single_issuer: f.single_issuer,
            defer_taskrun: f.defer_taskrun,
            msg_zerocopy: f.msg_zerocopy,
            tcp_zerocopy_receive: f.tcp_zerocopy_receive,
        },
        error: r.env_error.map(|e| ProbeError {
            code: e.code().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Validates a backend name (`'auto' | 'io_uring' | 'epoll'`) against `ZEROSOCK_BACKEND` and
/// returns the backend that would run. Throws `ERR_ZEROSOCK_INVALID_BACKEND` for unknown names.
#[napi]
pub fn resolve_backend(option: Option<String>) -> crate::errors::Result<String> {
    let choice = zerosock_uring::BackendChoice::resolve(option.as_deref())
        .map_err(crate::errors::to_napi)?;
    let usable = zerosock_uring::probe().io_uring_usable();
    Ok(choice.pick(usable).as_str().to_string())
}
