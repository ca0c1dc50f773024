//! Accept under descriptor exhaustion (EMFILE): the listener reports the error, does not spin,
//! and accepts the waiting connections once descriptors are free again. Own binary: it changes
//! the process's RLIMIT_NOFILE and fills the descriptor table.

mod common;

use common::*;
use std::fs::File;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use zerosock_uring::{BackendKind, Event};

fn set_nofile(soft: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit out-pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let old = lim.rlim_cur;
    lim.rlim_cur = soft;
    // SAFETY: valid rlimit; the soft limit stays below the hard one.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    old
}

fn lowest_free_fd() -> u64 {
    let f = File::open("/dev/null").unwrap();
    std::os::fd::AsRawFd::as_raw_fd(&f) as u64
}

fn emfile(kind: BackendKind) {
    // A small limit from the start (io_uring takes the limit when the accept is armed).
    let old = set_nofile(lowest_free_fd() + 64);
    let pool = pool(16, None);
    let mut e = engine(kind, &pool);
    let l = e.listen("127.0.0.1:0".parse().unwrap(), 64, false).unwrap();
    let at = e.local_addr(l).unwrap().ip().unwrap();
    // A connection we close later to free a descriptor.
    let spare = e.connect(at).unwrap();
    let mut accepted = 0;
    drive(&mut e, Duration::from_secs(10), |_, ev| {
        if matches!(ev, Event::Accepted { .. }) {
            accepted += 1;
        }
        accepted == 1
    });
    let clients: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(at).unwrap()).collect();
    let mut filler = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        filler.push(f);
    }
    let mut errors = 0;
    let mut polls = 0;
    let start = Instant::now();
    let mut out = Vec::new();
    while start.elapsed() < Duration::from_millis(300) {
        out.clear();
        e.submit().unwrap();
        e.wait(Duration::from_millis(20), &mut out);
        polls += 1;
        for ev in &out {
            match ev {
                Event::Error { socket, err } => {
                    assert_eq!(*socket, l);
                    assert_eq!(err.code(), "EMFILE", "{kind}");
                    assert_eq!(err.syscall, "accept");
                    errors += 1;
                }
                Event::Connected { .. } => {}
                other => {
                    drop(filler);
                    panic!("{kind}: {other:?} while out of descriptors");
                }
            }
        }
    }
    assert!(errors >= 1, "{kind}: EMFILE must be reported");
    assert!(
        errors <= polls,
        "{kind}: {errors} errors in {polls} polls: accept spins"
    );
    // Closing a socket frees a descriptor: one more connection gets accepted at once.
    e.close(spare).unwrap();
    drive(&mut e, Duration::from_secs(10), |_, ev| {
        if matches!(ev, Event::Accepted { .. }) {
            accepted += 1;
        }
        accepted == 2
    });
    // Descriptors freed behind the engine's back: picked up by the 100 ms retry.
    drop(filler);
    drive(&mut e, Duration::from_secs(10), |_, ev| {
        if matches!(ev, Event::Accepted { .. }) {
            accepted += 1;
        }
        accepted == 5
    });
    drop(clients);
    drop(e);
    set_nofile(old);
}

#[test]
fn emfile_is_reported_and_recovers() {
    emfile(BackendKind::Epoll);
    if backends().contains(&BackendKind::IoUring) {
        emfile(BackendKind::IoUring);
    }
}
