//! The seccomp-BPF program: allow everything except a list of system calls, which fail with a
//! chosen errno. Built by hand with libc (no seccomp library needed).

use std::io;

/// `AUDIT_ARCH_*` of the architecture this binary runs on (the filter refuses others).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// x32 system calls on x86_64 are numbered with this bit set: block those too.
const X32_BIT: u32 = 0x4000_0000;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The program: a wrong architecture is refused (EPERM for everything would be wrong too, so
/// it kills), a listed call returns `errno`, anything else is allowed.
fn program(blocked: &[libc::c_long], errno: i32) -> Vec<libc::sock_filter> {
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let numbers: Vec<u32> = blocked
        .iter()
        .flat_map(|&nr| [nr as u32, nr as u32 | X32_BIT])
        .collect();
    let mut p = vec![
        stmt(ld, OFF_ARCH),
        jump(jeq, AUDIT_ARCH, 1, 0),
        stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(ld, OFF_NR),
    ];
    let n = numbers.len();
    for (i, &nr) in numbers.iter().enumerate() {
        // Match: jump over the remaining compares and the ALLOW to the ERRNO return.
        let to_errno = (n - i) as u8;
        p.push(jump(jeq, nr, to_errno, 0));
    }
    p.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    p.push(stmt(
        ret,
        libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
    ));
    p
}

/// Installs the filter on this thread (inherited by what it execs). Sets no_new_privs first,
/// which an unprivileged process needs and a privileged one doesn't mind.
pub fn install(blocked: &[libc::c_long], errno: i32) -> io::Result<()> {
    let mut filter = program(blocked, errno);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `prog` points at `filter`, which lives until after the call; the kernel copies it.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What `io_uring_setup(1, &params)` fails with now (None if it succeeded).
pub fn io_uring_setup_errno() -> Option<i32> {
    // struct io_uring_params is 120 bytes.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes `params` (120 bytes, the struct's size).
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if fd >= 0 {
        // SAFETY: closing the descriptor we just got.
        unsafe { libc::close(fd as i32) };
        return None;
    }
    io::Error::last_os_error().raw_os_error()
}
