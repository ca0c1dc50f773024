//! zerosock-wire: the protocol between JS and the engine, without napi, so it is tested (and
//! fuzzed) without Node. The binding (crates/node) only converts types around it.
//!
//! - [`records`]: the 8-int record layout (events native → JS, submissions JS → native);
//! - [`Session`]: one JS thread's engine — applies submission records (the ownership gate:
//!   handles JS holds, pinned memory by token), writes event records (with an overflow
//!   queue), publishes and settles submit debt, busy polling, counters;
//! - [`cache_block`]: a JS buffer pool's handle and its shared cache block;
//! - [`stats`]: every counter JS sees, named once in a table;
//! - [`tls`]: TLS configs built from JS's JSON, by id;
//! - [`Syscall`]: the syscall names error records carry, by index;
//! - [`ts`]: ts/core/records.generated.ts, written from all of the above;
//! - [`uv`]: hooks into Node's event loop (libuv, found with dlsym) that drive a session.
#![warn(missing_docs)]

pub mod cache_block;
pub mod lends;
pub mod pins;
pub mod records;
pub mod session;
pub mod shared_ints;
pub mod stats;
pub mod syscall;
pub mod tls;
pub mod ts;
pub mod uv;

pub use lends::{Lend, Views};
pub use session::{Session, SessionOptions};
pub use shared_ints::SharedInts;
pub use syscall::Syscall;
