//! zerosock engine: TCP sockets over io_uring (multishot accept/recv, provided buffers from the
//! pool, SEND_ZC) with an epoll fallback that keeps the same semantics.
//!
//! ```no_run
//! use zerosock_uring::{Engine, EngineConfig, BackendKind, Event};
//! use zerosock_pool::{Pool, PoolConfig};
//! let pool = Pool::new(PoolConfig::default()).unwrap();
//! let mut engine = Engine::new(EngineConfig::new(BackendKind::Epoll, pool)).unwrap();
//! let listener = engine.listen("127.0.0.1:0".parse().unwrap(), 128, false).unwrap();
//! let mut events = Vec::new();
//! engine.wait(std::time::Duration::from_millis(10), &mut events);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod addr;
mod backend;
pub mod backend_choice;
mod busy_poll;
mod config;
mod core;
mod debt;
mod engine;
mod error;
mod event;
pub mod probe;
mod sys;

pub use crate::core::buffers::{LARGE as LARGE_CLASS, SMALL as SMALL_CLASS};
pub use crate::core::slab::SocketId;
pub use addr::{SockAddr, UnixAddr, UNIX_PATH_MAX};
pub use backend::epoll::recv_window::MappedMemory;
pub use backend_choice::{BackendChoice, BackendKind};
pub use busy_poll::{BusyPoll, SpinEnd};
pub use config::EngineConfig;
pub use debt::SubmitDebt;
pub use engine::Engine;
pub use error::{errno_name, EngineError, SysError};
pub use event::{EngineStats, Event};
pub use probe::{probe, Features, IoUringInfo, ProbeReport};
pub use sys::open_fd_count;
pub use zerosock_pool::{BufHandle, Pool, PoolConfig};
/// TLS configs and sessions (crates/tls), as the engine uses them.
pub use zerosock_tls as tls;
