//! Zerocopy sends on the epoll backend: MSG_ZEROCOPY notifications read from the error queue
//! (EPOLLERR wakes us), and the timerfd that brings closes waiting for them to their
//! deadlines.

use super::{errqueue, EpollBackend, TIMER_TOKEN};
use crate::core::slab::SocketId;
use crate::core::{Core, State};
use crate::sys;
use std::time::Instant;

impl Core<EpollBackend> {
    /// Reads the socket's zerocopy notifications; true if there was at least one.
    pub(super) fn drain_errqueue(&mut self, id: SocketId) -> bool {
        let Some(s) = self.socks.get_mut(id) else {
            return false;
        };
        let mut notes = Vec::new();
        self.stats.other_syscalls += errqueue::drain(s.fd, &mut notes);
        if notes.is_empty() {
            return false;
        }
        self.stats.zc_notifications += notes.len() as u64;
        let Some(t) = s.zc.as_mut() else {
            return true;
        };
        for n in &notes {
            t.notify(n.lo, n.hi, n.copied, &mut self.bufs);
        }
        if t.blocked {
            // ENOBUFS waited for pinned memory to be freed: try again.
            t.blocked = false;
            if !s.sendq.is_empty() {
                self.mark_dirty(id);
            }
        }
        let s = self.socks.get_mut(id).expect("still there");
        if s.state != State::Closing {
            self.note_zc_done(id);
        } else if !s.zc.as_ref().is_some_and(|t| t.kernel_holds()) {
            self.finish_close(id);
            self.zc_closing.retain(|c| c.0 != id);
            self.arm_close_timer(Instant::now());
        }
        true
    }

    /// Arms the timer for the next zerocopy close deadline (a timerfd in the epoll set).
    pub(super) fn arm_close_timer(&mut self, now: Instant) {
        let Some(at) = self.next_zc_deadline() else {
            if self.be.zc_timer >= 0 {
                // Nothing waits: give the descriptor back (made again on the next such close).
                sys::close_fd(self.be.zc_timer);
                self.be.zc_timer = -1;
                self.stats.other_syscalls += 1;
            }
            return;
        };
        if self.be.zc_timer < 0 {
            // SAFETY: plain timerfd_create; the result is checked.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return;
            }
            if self.watch(fd, libc::EPOLLIN as u32, TIMER_TOKEN).is_err() {
                sys::close_fd(fd);
                return;
            }
            self.be.zc_timer = fd;
        }
        let left = at
            .saturating_duration_since(now)
            .max(std::time::Duration::from_millis(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
            },
        };
        // SAFETY: `spec` is a valid itimerspec; our timerfd.
        unsafe { libc::timerfd_settime(self.be.zc_timer, 0, &spec, std::ptr::null_mut()) };
        self.stats.other_syscalls += 1;
    }

    /// The zerocopy timer fired.
    pub(super) fn on_zc_timer(&mut self) {
        let mut ticks = 0u64;
        // SAFETY: reads 8 bytes into a valid u64 (clears the timerfd).
        unsafe { libc::read(self.be.zc_timer, (&mut ticks as *mut u64).cast(), 8) };
        self.stats.other_syscalls += 1;
        self.check_zc_closing();
    }
}
