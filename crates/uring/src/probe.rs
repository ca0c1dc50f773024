//! `probe()`: ask the running kernel what zerosock can use. Never panics, never fails: every
//! question that can't be answered is answered "no" with the reason kept.
//!
//! Wraps io_uring_setup(2), io_uring_register(2) `IORING_REGISTER_PROBE` and
//! `IORING_REGISTER_PBUF_RING` (io_uring_register_buf_ring(3)), setsockopt(2) `SO_ZEROCOPY`
//! and getsockopt(2) `TCP_ZEROCOPY_RECEIVE`.

use crate::backend_choice::{BackendChoice, BackendKind, InvalidBackend};
use io_uring::{opcode, IoUring, Probe};
use std::io;

/// What the probe found about io_uring itself.
#[derive(Clone, Debug, Default)]
pub struct IoUringInfo {
    /// `io_uring_setup` succeeded.
    pub available: bool,
    /// Why it is not available (e.g. "EPERM: Operation not permitted" under seccomp).
    pub error: Option<String>,
    /// Names of the supported opcodes (IORING_OP_* without the prefix), from IORING_REGISTER_PROBE.
    pub opcodes: Vec<String>,
}

/// The features zerosock uses, each answered by the kernel.
#[derive(Clone, Debug, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct Features {
    /// Multishot accept (IORING_ACCEPT_MULTISHOT, Linux 5.19).
    pub multishot_accept: bool,
    /// Multishot recv (IORING_RECV_MULTISHOT, Linux 6.0).
    pub multishot_recv: bool,
    /// Ring-mapped provided buffers (IORING_REGISTER_PBUF_RING), registered for real.
    pub ring_mapped_buffers: bool,
    /// IORING_OP_SEND_ZC.
    pub send_zc: bool,
    /// IORING_OP_SENDMSG_ZC.
    pub sendmsg_zc: bool,
    /// IORING_SETUP_SINGLE_ISSUER accepted by io_uring_setup.
    pub single_issuer: bool,
    /// IORING_SETUP_DEFER_TASKRUN accepted by io_uring_setup.
    pub defer_taskrun: bool,
    /// setsockopt(SO_ZEROCOPY) accepted on a TCP socket (MSG_ZEROCOPY).
    pub msg_zerocopy: bool,
    /// getsockopt(TCP_ZEROCOPY_RECEIVE) known to the kernel (anything but ENOPROTOOPT).
    pub tcp_zerocopy_receive: bool,
}

/// The full answer.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// What `backend: 'auto'` picks given `ZEROSOCK_BACKEND` (ignored when invalid).
    pub backend: BackendKind,
    /// `uname -r`.
    pub kernel: String,
    /// io_uring details.
    pub io_uring: IoUringInfo,
    /// Feature flags.
    pub features: Features,
    /// `ZEROSOCK_BACKEND` held a value that is not allowed.
    pub env_error: Option<InvalidBackend>,
}

impl ProbeReport {
    /// io_uring is usable by the engine: setup works and the features the io_uring backend
    /// needs (multishot accept and recv into ring-mapped provided buffers) are there.
    pub fn io_uring_usable(&self) -> bool {
        self.io_uring.available
            && self.features.multishot_accept
            && self.features.multishot_recv
            && self.features.ring_mapped_buffers
    }
}

/// IORING_OP_* names in opcode order (include/uapi/linux/io_uring.h).
const OPCODE_NAMES: &[&str] = &[
    "NOP",
    "READV",
    "WRITEV",
    "FSYNC",
    "READ_FIXED",
    "WRITE_FIXED",
    "POLL_ADD",
    "POLL_REMOVE",
    "SYNC_FILE_RANGE",
    "SENDMSG",
    "RECVMSG",
    "TIMEOUT",
    "TIMEOUT_REMOVE",
    "ACCEPT",
    "ASYNC_CANCEL",
    "LINK_TIMEOUT",
    "CONNECT",
    "FALLOCATE",
    "OPENAT",
    "CLOSE",
    "FILES_UPDATE",
    "STATX",
    "READ",
    "WRITE",
    "FADVISE",
    "MADVISE",
    "SEND",
    "RECV",
    "OPENAT2",
    "EPOLL_CTL",
    "SPLICE",
    "PROVIDE_BUFFERS",
    "REMOVE_BUFFERS",
    "TEE",
    "SHUTDOWN",
    "RENAMEAT",
    "UNLINKAT",
    "MKDIRAT",
    "SYMLINKAT",
    "LINKAT",
    "MSG_RING",
    "FSETXATTR",
    "SETXATTR",
    "FGETXATTR",
    "GETXATTR",
    "SOCKET",
    "URING_CMD",
    "SEND_ZC",
    "SENDMSG_ZC",
    "READ_MULTISHOT",
    "WAITID",
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_WAITV",
    "FIXED_FD_INSTALL",
    "FTRUNCATE",
    "BIND",
    "LISTEN",
];

fn opcode_name(code: u8) -> String {
    OPCODE_NAMES
        .get(code as usize)
        .map(|s| (*s).to_string())
        .unwrap_or_else(|| format!("OP_{code}"))
}

/// `uname -r` via uname(2).
pub fn kernel_release() -> String {
    // SAFETY: utsname is plain old data; all-zero is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return String::from("unknown");
    }
    // SAFETY: uname(2) NUL-terminates `release` within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    release.to_string_lossy().into_owned()
}

/// Parses "6.18.44-foo" into (6, 18).
pub fn kernel_version(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

fn describe(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EACCES) => "EACCES",
        _ => "error",
    };
    format!("{name}: {e}")
}

/// Asks the kernel. Cheap enough to call at start-up (a few syscalls and two throwaway rings).
pub fn probe() -> ProbeReport {
    let kernel = kernel_release();
    let version = kernel_version(&kernel);
    let mut features = Features::default();
    let io_uring = probe_io_uring(version, &mut features);
    features.msg_zerocopy = probe_so_zerocopy();
    features.tcp_zerocopy_receive = probe_tcp_zerocopy_receive();
    let (choice, env_error) = match BackendChoice::from_env() {
        Ok(c) => (c, None),
        Err(e) => (BackendChoice::Auto, Some(e)),
    };
    let mut report = ProbeReport {
        backend: BackendKind::Epoll,
        kernel,
        io_uring,
        features,
        env_error,
    };
    report.backend = choice.pick(report.io_uring_usable());
    report
}

fn probe_io_uring(version: (u32, u32), features: &mut Features) -> IoUringInfo {
    let ring: IoUring = match IoUring::new(8) {
        Ok(r) => r,
        Err(e) => {
            return IoUringInfo {
                available: false,
                error: Some(describe(&e)),
                opcodes: Vec::new(),
            }
        }
    };
    let mut probe = Probe::new();
    let mut info = IoUringInfo {
        available: true,
        error: None,
        opcodes: Vec::new(),
    };
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        info.error = Some(format!("IORING_REGISTER_PROBE failed: {}", describe(&e)));
        return info;
    }
    info.opcodes = (0..=u8::MAX)
        .filter(|&c| probe.is_supported(c))
        .map(opcode_name)
        .collect();
    let at_least = |major: u32, minor: u32| version >= (major, minor);
    features.multishot_accept = probe.is_supported(opcode::AcceptMulti::CODE) && at_least(5, 19);
    features.multishot_recv = probe.is_supported(opcode::RecvMulti::CODE) && at_least(6, 0);
    features.send_zc = probe.is_supported(opcode::SendZc::CODE);
    features.sendmsg_zc = probe.is_supported(opcode::SendMsgZc::CODE);
    features.ring_mapped_buffers = probe_buf_ring(&ring);
    features.single_issuer = IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder()
        .setup_single_issuer()
        .build(8)
        .is_ok();
    features.defer_taskrun = IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(8)
        .is_ok();
    info
}

/// Registers (and unregisters) a real 8-entry provided-buffer ring.
fn probe_buf_ring(ring: &IoUring) -> bool {
    const PAGE: usize = 4096;
    // SAFETY: anonymous private mapping of one page; no existing memory is touched.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: `mem` is a page-aligned, zeroed page that outlives the registration (we unregister
    // before unmapping); 8 entries of 16 bytes fit in it.
    let ok = unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(mem as u64, 8, 0x7ff0, 0)
            .is_ok()
    };
    if ok {
        let _ = ring.submitter().unregister_buf_ring(0x7ff0);
    }
    // SAFETY: `mem` came from mmap above with the same length and is no longer registered.
    unsafe { libc::munmap(mem, PAGE) };
    ok
}

struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and close it once.
        unsafe { libc::close(self.0) };
    }
}

fn tcp_socket() -> Option<Fd> {
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    (fd >= 0).then_some(Fd(fd))
}

fn probe_so_zerocopy() -> bool {
    let Some(sock) = tcp_socket() else {
        return false;
    };
    let one: libc::c_int = 1;
    // SAFETY: `one` is a valid c_int for the option length we pass.
    let rc = unsafe {
        libc::setsockopt(
            sock.0,
            libc::SOL_SOCKET,
            libc::SO_ZEROCOPY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// TCP_ZEROCOPY_RECEIVE from linux/tcp.h (value 35).
pub const TCP_ZEROCOPY_RECEIVE: libc::c_int = 35;

fn probe_tcp_zerocopy_receive() -> bool {
    let Some(sock) = tcp_socket() else {
        return false;
    };
    // struct tcp_zerocopy_receive is 64 bytes in current kernels; zeroed means "no mapping".
    let mut buf = [0u8; 64];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes, `len` is a valid socklen_t.
    let rc = unsafe {
        libc::getsockopt(
            sock.0,
            libc::IPPROTO_TCP,
            TCP_ZEROCOPY_RECEIVE,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    // An unconnected socket answers ENOTCONN (or EINVAL) when the option exists;
    // ENOPROTOOPT means the kernel does not know it.
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ENOPROTOOPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_parses_releases() {
        assert_eq!(kernel_version("6.18.44-fc-v669"), (6, 18));
        assert_eq!(kernel_version("5.4.0"), (5, 4));
        assert_eq!(kernel_version("garbage"), (0, 0));
    }

    #[test]
    fn probe_reports_this_kernel() {
        let report = probe();
        assert_eq!(report.kernel, kernel_release());
        assert!(!report.kernel.is_empty());
        if report.io_uring.available {
            assert!(report.io_uring.opcodes.iter().any(|o| o == "NOP"));
        } else {
            eprintln!(
                "io_uring unavailable here ({:?}): only the epoll checks ran",
                report.io_uring.error
            );
            assert_eq!(report.backend, BackendKind::Epoll);
        }
    }

    #[test]
    fn opcode_names_match_the_io_uring_crate() {
        assert_eq!(opcode_name(opcode::Nop::CODE), "NOP");
        assert_eq!(opcode_name(opcode::Accept::CODE), "ACCEPT");
        assert_eq!(opcode_name(opcode::SendZc::CODE), "SEND_ZC");
        assert_eq!(opcode_name(opcode::SendMsgZc::CODE), "SENDMSG_ZC");
        assert_eq!(opcode_name(opcode::Shutdown::CODE), "SHUTDOWN");
        assert_eq!(opcode_name(200), "OP_200");
    }
}
