//! The system calls an error record can name, by index (`[ERROR, socket, errno, syscall]`).
//! One enum: its index is the record's int, its [`Syscall::name`] what JS reports as
//! `err.syscall`. `tests/syscalls.rs` checks that every name the engine crates use resolves.

/// A system call an engine error can come from; `Unknown` (index 0) for any other name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Syscall {
    /// A name not in this enum.
    Unknown,
    /// accept(2) / `IORING_OP_ACCEPT`.
    Accept,
    /// connect(2) / `IORING_OP_CONNECT`.
    Connect,
    /// read(2) / recv completions.
    Read,
    /// write(2) / send completions.
    Write,
    /// shutdown(2).
    Shutdown,
    /// listen(2).
    Listen,
    /// bind(2).
    Bind,
    /// socket(2).
    Socket,
    /// setsockopt(2).
    Setsockopt,
    /// getsockopt(2).
    Getsockopt,
    /// getsockname(2).
    Getsockname,
    /// getpeername(2).
    Getpeername,
    /// eventfd(2).
    Eventfd,
    /// mmap(2).
    Mmap,
    /// epoll_create1(2).
    EpollCreate1,
    /// epoll_ctl(2).
    EpollCtl,
    /// epoll_wait(2).
    EpollWait,
    /// io_uring_setup(2).
    IoUringSetup,
    /// io_uring_enter(2).
    IoUringEnter,
    /// io_uring_register(2).
    IoUringRegister,
    /// chmod(2) (a Unix socket file's `readableAll` / `writableAll`).
    Chmod,
}

impl Syscall {
    /// Every syscall, in index order (`ALL[i] as usize == i`).
    pub const ALL: [Syscall; 22] = [
        Syscall::Unknown,
        Syscall::Accept,
        Syscall::Connect,
        Syscall::Read,
        Syscall::Write,
        Syscall::Shutdown,
        Syscall::Listen,
        Syscall::Bind,
        Syscall::Socket,
        Syscall::Setsockopt,
        Syscall::Getsockopt,
        Syscall::Getsockname,
        Syscall::Getpeername,
        Syscall::Eventfd,
        Syscall::Mmap,
        Syscall::EpollCreate1,
        Syscall::EpollCtl,
        Syscall::EpollWait,
        Syscall::IoUringSetup,
        Syscall::IoUringEnter,
        Syscall::IoUringRegister,
        Syscall::Chmod,
    ];

    /// The name as Node reports it (`err.syscall`).
    pub fn name(self) -> &'static str {
        match self {
            Syscall::Unknown => "unknown",
            Syscall::Accept => "accept",
            Syscall::Connect => "connect",
            Syscall::Read => "read",
            Syscall::Write => "write",
            Syscall::Shutdown => "shutdown",
            Syscall::Listen => "listen",
            Syscall::Bind => "bind",
            Syscall::Socket => "socket",
            Syscall::Setsockopt => "setsockopt",
            Syscall::Getsockopt => "getsockopt",
            Syscall::Getsockname => "getsockname",
            Syscall::Getpeername => "getpeername",
            Syscall::Eventfd => "eventfd",
            Syscall::Mmap => "mmap",
            Syscall::EpollCreate1 => "epoll_create1",
            Syscall::EpollCtl => "epoll_ctl",
            Syscall::EpollWait => "epoll_wait",
            Syscall::IoUringSetup => "io_uring_setup",
            Syscall::IoUringEnter => "io_uring_enter",
            Syscall::IoUringRegister => "io_uring_register",
            Syscall::Chmod => "chmod",
        }
    }

    /// The syscall called `name` (`Unknown` if none is).
    pub fn from_name(name: &str) -> Syscall {
        Syscall::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .unwrap_or(Syscall::Unknown)
    }

    /// Every name, in index order (the table JS gets with `syscallNames()`).
    pub fn names() -> impl Iterator<Item = &'static str> {
        Syscall::ALL.into_iter().map(Syscall::name)
    }
}

#[cfg(test)]
mod tests {
    use super::Syscall;

    #[test]
    fn indices_follow_the_table() {
        for (i, s) in Syscall::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i, "{s:?}");
            assert_eq!(Syscall::from_name(s.name()), s);
        }
        assert_eq!(Syscall::from_name("nope"), Syscall::Unknown);
    }
}
