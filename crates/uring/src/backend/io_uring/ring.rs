//! The ring itself: a checked SQE push that never drops an entry (flushes the SQ when full and
//! keeps a backlog if even that fails), `io_uring_enter` with counters, and CQE draining into a
//! local queue (which frees CQ space at once, so overflow stays rare).

use crate::error::SysError;
use ::io_uring::{cqueue, squeue, types, IoUring};
use std::collections::VecDeque;
use std::time::Duration;

/// A reaped completion: (user_data, result, flags).
pub(crate) type Cqe = (u64, i32, u32);

const ENTER_GETEVENTS: u32 = 1;

/// The io_uring instance plus what we need to never lose an SQE or a CQE.
pub(crate) struct Ring {
    pub ring: IoUring,
    backlog: VecDeque<squeue::Entry>,
    pub cqes: VecDeque<Cqe>,
    /// Completions are only posted by an enter with GETEVENTS (DEFER_TASKRUN).
    pub defer_taskrun: bool,
    /// The kernel raises IORING_SQ_TASKRUN when task work waits (TASKRUN_FLAG).
    pub taskrun_flag: bool,
    pub enters: u64,
    pub sqes: u64,
    pub sq_full: u64,
    pub cq_overflows: u64,
    pub cqe_count: u64,
}

impl Ring {
    /// Sets up a ring: SINGLE_ISSUER + DEFER_TASKRUN + TASKRUN_FLAG when the kernel takes it,
    /// else COOP_TASKRUN + TASKRUN_FLAG, else plain. The CQ is 4x the SQ.
    pub fn new(entries: u32) -> Result<Ring, SysError> {
        let entries = entries.clamp(8, 32768).next_power_of_two();
        let cq = entries * 4;
        let attempts: [(bool, bool); 3] = [(true, true), (false, true), (false, false)];
        // ZEROSOCK_URING_SETUP=coop skips DEFER_TASKRUN (for measuring the difference).
        let skip = usize::from(std::env::var("ZEROSOCK_URING_SETUP").as_deref() == Ok("coop"));
        let mut last = libc::ENOSYS;
        for (defer, flag) in attempts.into_iter().skip(skip) {
            let mut b = IoUring::<squeue::Entry, cqueue::Entry>::builder();
            b.setup_cqsize(cq);
            if defer {
                b.setup_single_issuer().setup_defer_taskrun();
            } else if flag {
                b.setup_coop_taskrun();
            }
            if flag {
                b.setup_taskrun_flag();
            }
            match b.build(entries) {
                Ok(ring) => {
                    return Ok(Ring {
                        ring,
                        backlog: VecDeque::new(),
                        cqes: VecDeque::new(),
                        defer_taskrun: defer,
                        taskrun_flag: flag,
                        enters: 0,
                        sqes: 0,
                        sq_full: 0,
                        cq_overflows: 0,
                        cqe_count: 0,
                    })
                }
                Err(e) => last = e.raw_os_error().unwrap_or(libc::EINVAL),
            }
        }
        Err(SysError::new(last, "io_uring_setup"))
    }

    /// Queues an SQE. Never drops it: a full SQ is submitted first; if that fails the entry
    /// waits in a backlog that the next enter drains (order is kept).
    pub fn push(&mut self, entry: squeue::Entry) {
        self.sqes += 1;
        if self.backlog.is_empty() && self.try_push(&entry) {
            return;
        }
        self.sq_full += 1;
        let _ = self.enter(0, None, false);
        if self.backlog.is_empty() && self.try_push(&entry) {
            return;
        }
        self.backlog.push_back(entry);
    }

    fn try_push(&mut self, entry: &squeue::Entry) -> bool {
        // SAFETY: every entry we build points only at memory that outlives the operation
        // (boxed iovecs/msghdr/sockaddr kept in the socket until its CQE, pool buffers held
        // by the socket's queue or the buffer ring).
        unsafe { self.ring.submission().push(entry).is_ok() }
    }

    fn move_backlog(&mut self) {
        while let Some(e) = self.backlog.front() {
            let e = e.clone();
            if !self.try_push(&e) {
                return;
            }
            self.backlog.pop_front();
        }
    }

    /// SQEs (and backlog) not yet submitted.
    pub fn unsubmitted(&mut self) -> usize {
        self.ring.submission().len() + self.backlog.len()
    }

    /// Whether an enter is needed to see new completions or to submit.
    pub fn needs_enter(&mut self) -> bool {
        let sq = self.ring.submission();
        if !sq.is_empty() || sq.cq_overflow() {
            return true;
        }
        drop(sq);
        if !self.backlog.is_empty() {
            return true;
        }
        if !self.taskrun_flag {
            return self.defer_taskrun;
        }
        self.ring.submission().taskrun()
    }

    /// One io_uring_enter: submits what is queued, runs deferred task work when `getevents`,
    /// and waits for `min_complete` CQEs up to `timeout`. Returns SQEs submitted.
    /// EINTR / ETIME are not errors (0 is returned); EBUSY drains the CQ and retries.
    pub fn enter(
        &mut self,
        min_complete: u32,
        timeout: Option<Duration>,
        getevents: bool,
    ) -> Result<usize, SysError> {
        self.move_backlog();
        let mut submitted = 0;
        for _ in 0..64 {
            let to_submit = self.ring.submission().len() as u32;
            self.enters += 1;
            let rc = match timeout {
                Some(t) => {
                    let ts = types::Timespec::new()
                        .sec(t.as_secs())
                        .nsec(t.subsec_nanos());
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.ring
                        .submitter()
                        .submit_with_args(min_complete as usize, &args)
                }
                None => {
                    let flags =
                        if getevents || min_complete > 0 || self.ring.submission().cq_overflow() {
                            ENTER_GETEVENTS
                        } else {
                            0
                        };
                    // SAFETY: no argument pointer is passed; the SQEs in the ring are valid
                    // (see `try_push`).
                    unsafe {
                        self.ring.submitter().enter::<libc::sigset_t>(
                            to_submit,
                            min_complete,
                            flags,
                            None,
                        )
                    }
                }
            };
            match rc {
                Ok(n) => {
                    submitted += n;
                    if self.backlog.is_empty() {
                        return Ok(submitted);
                    }
                    self.move_backlog();
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) | Some(libc::ETIME) => return Ok(submitted),
                    Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                        self.cq_overflows += 1;
                        self.drain_cq();
                    }
                    Some(errno) => return Err(SysError::new(errno, "io_uring_enter")),
                    None => return Err(SysError::new(libc::EIO, "io_uring_enter")),
                },
            }
        }
        Ok(submitted)
    }

    /// Moves every posted CQE into `cqes`; flushes a kernel-side overflow list when flagged.
    pub fn drain_cq(&mut self) -> usize {
        let mut n = 0;
        {
            let mut cq = self.ring.completion();
            cq.sync();
            for cqe in &mut cq {
                self.cqes
                    .push_back((cqe.user_data(), cqe.result(), cqe.flags()));
                n += 1;
            }
        }
        if self.ring.submission().cq_overflow() {
            self.cq_overflows += 1;
            // GETEVENTS makes the kernel move its overflow list into the (now empty) CQ.
            let _ = self.enter(0, None, true);
            let mut cq = self.ring.completion();
            for cqe in &mut cq {
                self.cqes
                    .push_back((cqe.user_data(), cqe.result(), cqe.flags()));
                n += 1;
            }
        }
        self.cqe_count += n as u64;
        n
    }

    /// Whether CQEs are posted and not yet drained.
    pub fn cq_nonempty(&mut self) -> bool {
        !self.ring.completion().is_empty()
    }

    /// Whether the kernel has something for us, read from ring memory without a system call:
    /// posted CQEs, deferred task work (IORING_SQ_TASKRUN) or an overflowed CQ.
    pub fn work_visible(&mut self) -> bool {
        if self.cq_nonempty() {
            return true;
        }
        let sq = self.ring.submission();
        sq.cq_overflow() || (self.taskrun_flag && sq.taskrun())
    }

    /// Stops the kernel signalling the registered eventfd (IORING_CQ_EVENTFD_DISABLED, see
    /// io_uring_register(2) IORING_REGISTER_EVENTFD): while the engine reaps, completions it
    /// posts itself would only wake the event loop for an empty poll.
    pub fn mute_eventfd(&mut self) {
        self.ring.completion().disable_eventfd();
    }

    /// Lets the kernel signal the eventfd again. Work the kernel queued while muted did not
    /// signal it: the caller checks [`needs_enter`](Ring::needs_enter) and
    /// [`cq_nonempty`](Ring::cq_nonempty) afterwards. The fence orders this store before
    /// those loads (the kernel sets IORING_SQ_TASKRUN with a full barrier before it reads the
    /// flag), so either the kernel signals or the caller sees the work.
    pub fn unmute_eventfd(&mut self) {
        self.ring.completion().enable_eventfd();
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}
