//! MSG_ZEROCOPY completions (epoll backend): SO_ZEROCOPY and the socket's error queue.
//!
//! Each successful `sendmsg(MSG_ZEROCOPY)` gets the next 32-bit id of the socket (from 0). The
//! kernel reports finished ids as ranges `ee_info..=ee_data` in `sock_extended_err` messages
//! with origin SO_EE_ORIGIN_ZEROCOPY, merging consecutive ones; `ee_code` carries
//! SO_EE_CODE_ZEROCOPY_COPIED when it copied the data after all (Documentation/networking/
//! msg_zerocopy.rst). A pending notification raises EPOLLERR.

use std::os::fd::RawFd;

/// setsockopt level/name of SO_ZEROCOPY (asm-generic/socket.h).
const SO_ZEROCOPY: libc::c_int = 60;
/// `sock_extended_err.ee_origin` of zerocopy notifications (linux/errqueue.h).
const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
/// `sock_extended_err.ee_code` bit: the kernel copied instead.
const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;
/// Control-message types carrying a `sock_extended_err` (linux/in.h, linux/in6.h).
const IP_RECVERR: libc::c_int = 11;
const IPV6_RECVERR: libc::c_int = 25;

/// One notification: send ids `lo..=hi` are done.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZcNote {
    pub lo: u32,
    pub hi: u32,
    pub copied: bool,
}

/// Turns SO_ZEROCOPY on. Errors: the errno (e.g. ENOPROTOOPT on kernels without it).
pub(crate) fn enable(fd: RawFd) -> Result<(), i32> {
    crate::sys::set_int_opt(fd, libc::SOL_SOCKET, SO_ZEROCOPY, 1).map_err(|e| e.errno)
}

/// Reads every queued zerocopy notification of `fd` into `out`. Returns the number of
/// `recvmsg` calls made. Other error-queue messages are skipped.
pub(crate) fn drain(fd: RawFd, out: &mut Vec<ZcNote>) -> u64 {
    let mut calls = 0;
    // u64 storage keeps the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    loop {
        // SAFETY: msghdr is plain old data; all-zero is a valid empty value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points at our control buffer of the given length; no iovecs.
        let rc = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        calls += 1;
        if rc < 0 {
            return calls;
        }
        // SAFETY: `msg` was filled by recvmsg; CMSG_FIRSTHDR only reads its control fields.
        let mut cm = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cm.is_null() {
            // SAFETY: `cm` is a header inside our control buffer (CMSG_* walk it in bounds).
            let hdr = unsafe { &*cm };
            let is_err = (hdr.cmsg_level == libc::SOL_IP && hdr.cmsg_type == IP_RECVERR)
                || (hdr.cmsg_level == libc::SOL_IPV6 && hdr.cmsg_type == IPV6_RECVERR);
            if is_err {
                // SAFETY: the data of a RECVERR message is a sock_extended_err; read unaligned
                // as cmsg data alignment is only guaranteed to 8 bytes in general.
                let ee: libc::sock_extended_err =
                    unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cm).cast()) };
                if ee.ee_errno == 0 && ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY {
                    out.push(ZcNote {
                        lo: ee.ee_info,
                        hi: ee.ee_data,
                        copied: ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0,
                    });
                }
            }
            // SAFETY: `cm` is a valid header of `msg`.
            cm = unsafe { libc::CMSG_NXTHDR(&msg, cm) };
        }
    }
}
