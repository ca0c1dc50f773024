//! Zerocopy send and receive pieces shared by the backends: the per-socket send tracker,
//! MSG_ZEROCOPY's error queue (epoll), and TCP_ZEROCOPY_RECEIVE windows (epoll).

pub(crate) mod errqueue;
pub(crate) mod recv;
pub(crate) mod tracker;

/// io_uring SEND_ZC flag (sqe `ioprio`): report in the notification whether data was copied.
pub(crate) const IORING_SEND_ZC_REPORT_USAGE: u16 = 1 << 3;
/// Bit of a SEND_ZC notification's `res`: the kernel copied the data.
pub(crate) const IORING_NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

/// A close waits this long for zerocopy notifications before it aborts the connection (which
/// purges unsent data, so the kernel lets go of its memory).
pub(crate) const ZC_CLOSE_ABORT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// epoll: a close gives up waiting after this long: the descriptor is closed and the memory the
/// kernel still held is leaked (never reused; counted in `zc_leaked_sends`). io_uring keeps
/// waiting after the abort: the descriptor can't be closed under an operation, and the purge
/// makes the kernel let go.
pub(crate) const ZC_CLOSE_GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Aborts a TCP connection but keeps the descriptor: connect(AF_UNSPEC) resets it and purges
/// its send queue, whose zerocopy notifications then arrive as usual.
pub(crate) fn disconnect(fd: std::os::fd::RawFd) {
    // SAFETY: sockaddr is plain old data; all-zero with AF_UNSPEC is what disconnect expects.
    let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
    sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: `sa` is a valid sockaddr of the length passed.
    unsafe {
        libc::connect(
            fd,
            &sa,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
}

/// Turns finished zerocopy ranges of socket `id` (from `ZcTracker::take_ranges`) into
/// `ZeroCopyDone` events and counts them.
pub(crate) fn report_done(
    id: crate::slab::SocketId,
    ranges: &[(u32, u32, bool, u64)],
    stats: &mut crate::event::EngineStats,
    out: &mut Vec<crate::event::Event>,
) {
    for &(first, last, copied, bytes) in ranges {
        let n = u64::from(last.wrapping_sub(first)) + 1;
        stats.zerocopy_done_sends += n;
        stats.zc_done_events += 1;
        if copied {
            stats.zerocopy_copied_sends += n;
            stats.zerocopy_copied_bytes += bytes;
        }
        out.push(crate::event::Event::ZeroCopyDone {
            socket: id,
            first,
            last,
            copied,
        });
    }
}
