//! `seccomp-exec [--errno N] [--only-setup] -- COMMAND [ARGS...]`
//!
//! Installs a seccomp filter in which `io_uring_setup` (and, unless `--only-setup`,
//! `io_uring_enter` and `io_uring_register`) fail with `EPERM` (or errno `N`), checks that it
//! holds, then execs COMMAND. The filter is inherited by every thread and child of COMMAND and
//! cannot be removed: exactly what a container runtime's default profile does to io_uring.
//! Every other system call is allowed.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

mod filter;

fn usage() -> ExitCode {
    eprintln!("usage: seccomp-exec [--errno N] [--only-setup] -- COMMAND [ARGS...]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut errno = libc::EPERM;
    let mut only_setup = false;
    let mut command: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--errno" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if (1..4096).contains(&n) => errno = n,
                _ => return usage(),
            },
            "--only-setup" => only_setup = true,
            "--" => {
                command.extend(args.by_ref());
                break;
            }
            _ => return usage(),
        }
    }
    let Some((program, rest)) = command.split_first() else {
        return usage();
    };
    let blocked: &[libc::c_long] = if only_setup {
        &[libc::SYS_io_uring_setup]
    } else {
        &[
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
        ]
    };
    if let Err(e) = filter::install(blocked, errno) {
        eprintln!("seccomp-exec: could not install the filter: {e}");
        return ExitCode::from(125);
    }
    match filter::io_uring_setup_errno() {
        Some(got) if got == errno => {}
        other => {
            eprintln!("seccomp-exec: io_uring_setup still works or fails oddly: {other:?}");
            return ExitCode::from(125);
        }
    }
    let err = Command::new(program).args(rest).exec();
    eprintln!("seccomp-exec: could not run {program}: {err}");
    ExitCode::from(127)
}
