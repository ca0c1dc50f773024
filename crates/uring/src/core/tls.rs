//! TLS on a connection (crates/tls's [`TlsSession`]), written once for both backends. The
//! backends move ciphertext as for any socket; plaintext meets ciphertext at two places only:
//!
//! - **out**: a send on a TLS socket ([`Core::tls_send`]) is encrypted at once into pool
//!   buffers, one record per 16 KiB of what the call carries (a flush's corked batch is one
//!   call, so many small messages make one record), and those buffers are queued like any
//!   send. During the handshake the session keeps the plaintext and sends it right after.
//! - **in**: the events a poll hands out pass [`Core::tls_events`]: `Data` is decrypted in
//!   place in its pool buffer and handed on as plaintext in another; handshake replies are
//!   queued (and submitted at once); the handshake's end is reported as `TlsReady`, a failure
//!   as `TlsFailed`; `Sent` counts plaintext bytes (a record counts once all of it is sent),
//!   so JS's accounting of what is still queued stays in the bytes it gave (a `Sent` of 0
//!   bytes: only TLS's own bytes left, and the queue is empty now).
//!
//! A listener holds a server config; each connection it accepts gets a session from it. A
//! client's session starts when TLS is set on the connecting socket: its ClientHello waits in
//! the send queue for the connection.

use super::buffers::{LARGE, SMALL};
use super::tls_file::TlsBacklog;
use super::{sock_mut, writable, Backend, Core, Kind, WriteShut};
use crate::core::slab::SocketId;
use crate::error::EngineError;
use crate::event::Event;
use std::collections::VecDeque;
use zerosock_pool::BufHandle;
use zerosock_tls::{ClientConfig, ServerConfig, TlsSession};

/// What a socket has of TLS.
pub(crate) enum SockTls {
    /// A listener: every accepted connection gets a server session from this config.
    Listener(ServerConfig),
    /// A connection's session.
    Conn(Box<TlsConn>),
}

/// One connection's session and the bookkeeping that maps sent ciphertext to plaintext.
pub(crate) struct TlsConn {
    pub session: TlsSession,
    /// Queued ciphertext not fully sent: (ciphertext end, plaintext end), both counted from
    /// the start of the connection.
    marks: VecDeque<(u64, u64)>,
    cipher_queued: u64,
    cipher_sent: u64,
    /// Plaintext the session took (encrypted, or kept during the handshake), and how much of
    /// it `Sent` has reported.
    pub(crate) plain_accepted: u64,
    plain_reported: u64,
    /// `TlsReady` / `TlsFailed` went out.
    ready_reported: bool,
    failed_reported: bool,
    /// `shutdown_write` came during the handshake: the FIN goes after it (and after what was
    /// sent meanwhile, and close_notify), not as soon as the ClientHello left.
    fin_after_handshake: bool,
    /// Files (`sendFile`) and the sends that wait behind them (core/tls_file.rs).
    pub(crate) backlog: TlsBacklog,
}

impl TlsConn {
    fn new(session: TlsSession) -> Box<Self> {
        Box::new(TlsConn {
            session,
            marks: VecDeque::new(),
            cipher_queued: 0,
            cipher_sent: 0,
            plain_accepted: 0,
            plain_reported: 0,
            ready_reported: false,
            failed_reported: false,
            fin_after_handshake: false,
            backlog: TlsBacklog::default(),
        })
    }

    /// `n` more ciphertext bytes are queued. Once the handshake is over every plaintext byte
    /// accepted so far is inside what is queued (the session encrypts a batch whole and sends
    /// what it kept during the handshake right after it).
    fn queued(&mut self, n: usize) {
        self.cipher_queued += n as u64;
        let plain_end = if self.session.is_handshaking() {
            self.marks
                .back()
                .map_or(0, |m| m.1)
                .max(self.plain_reported)
        } else {
            self.plain_accepted
        };
        self.marks.push_back((self.cipher_queued, plain_end));
    }

    /// Queued ciphertext the kernel has not taken yet.
    pub(crate) fn ahead(&self) -> u64 {
        self.cipher_queued - self.cipher_sent
    }

    /// Plaintext bytes whose ciphertext was sent.
    pub(crate) fn plain_sent(&self) -> u64 {
        self.plain_reported
    }

    /// The kernel took `n` more ciphertext bytes: the plaintext bytes newly covered.
    fn sent(&mut self, n: u64) -> u64 {
        self.cipher_sent += n;
        let mut covered = self.plain_reported;
        while let Some(&(cipher_end, plain_end)) = self.marks.front() {
            if cipher_end > self.cipher_sent {
                break;
            }
            covered = covered.max(plain_end);
            self.marks.pop_front();
        }
        let new = covered - self.plain_reported;
        self.plain_reported = covered;
        new
    }
}

/// The mutable bytes of a pool buffer's range. The caller owns the buffer.
pub(crate) fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
    // SAFETY: callers pass a pool buffer they own (a `Data` event's, or one just acquired) of
    // at least `len` bytes; nothing else reads or writes it while the slice lives.
    unsafe { std::slice::from_raw_parts_mut(ptr, len) }
}

impl<B: Backend> Core<B> {
    /// Connections accepted by listener `id` from now on speak TLS as servers with `config`.
    pub fn set_tls_server(
        &mut self,
        id: SocketId,
        config: ServerConfig,
    ) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if s.kind != Kind::Listener {
            return Err(EngineError::WrongSocketKind);
        }
        s.tls = Some(SockTls::Listener(config));
        self.tls_on = true;
        Ok(())
    }

    /// Stream `id` speaks TLS as a client of `servername` (checked against its certificate;
    /// sent as SNI unless it is an IP address). Set it right after `connect()`: the
    /// ClientHello is queued ahead of anything sent later.
    pub fn set_tls_client(
        &mut self,
        id: SocketId,
        config: &ClientConfig,
        servername: &str,
    ) -> Result<(), EngineError> {
        let s = writable(&mut self.socks, id)?;
        if s.tls.is_some() || !s.sendq.is_empty() {
            return Err(EngineError::InvalidArgument(
                "TLS is set on a socket before anything is sent, once",
            ));
        }
        s.tls = Some(SockTls::Conn(TlsConn::new(TlsSession::client(
            config, servername,
        )?)));
        self.tls_on = true;
        self.queue_tls_output(id);
        Ok(())
    }

    /// The TLS session of connection `id`, if it has one.
    pub fn tls_session(&self, id: SocketId) -> Option<&TlsSession> {
        match self.socks.get(id)?.tls.as_ref()? {
            SockTls::Conn(c) => Some(&c.session),
            SockTls::Listener(_) => None,
        }
    }

    pub(crate) fn tls_conn(&mut self, id: SocketId) -> Option<&mut TlsConn> {
        match self.socks.get_mut(id)?.tls.as_mut()? {
            SockTls::Conn(c) => Some(c),
            SockTls::Listener(_) => None,
        }
    }

    /// Whether sends on `id` go through [`tls_send`](Self::tls_send).
    pub fn is_tls(&self, id: SocketId) -> bool {
        self.tls_on && self.tls_session(id).is_some()
    }

    /// Queues what the session has for the peer (handshake, alerts, close_notify); returns
    /// whether there was anything.
    pub(crate) fn queue_tls_output(&mut self, id: SocketId) -> bool {
        let Some(s) = self.socks.get_mut(id) else {
            return false;
        };
        let Some(SockTls::Conn(c)) = s.tls.as_mut() else {
            return false;
        };
        if !c.session.wants_write() || s.failed {
            return false;
        }
        let mut bytes = Vec::new();
        c.session.write_tls_vec(&mut bytes);
        c.queued(bytes.len());
        if s.sendq.push_copy(&mut self.bufs, &bytes).is_err() {
            self.stats.tls_failures += 1;
        }
        self.mark_dirty(id);
        true
    }

    /// A send on a TLS socket: encrypted now ([`tls_encrypt`](Self::tls_encrypt)), or kept
    /// behind a file that is still being sent (core/tls_file.rs).
    pub fn tls_send(&mut self, id: SocketId, data: &[u8]) -> Result<(), EngineError> {
        let s = writable(&mut self.socks, id)?;
        let Some(SockTls::Conn(c)) = s.tls.as_mut() else {
            return Err(EngineError::WrongSocketKind);
        };
        if data.is_empty() {
            return Ok(());
        }
        if c.backlog.holds() {
            c.backlog.hold(data);
            return Ok(());
        }
        self.tls_encrypt(id, data)
    }

    /// Encrypts `data` into pool buffers and queues them: one record per 16 KiB of it (a
    /// flush's corked batch is one call), each buffer holding as many records as fit. Errors:
    /// `Tls` (the session failed or was ended), `Pool` (no buffer; what was encrypted stays
    /// queued and counted).
    pub(crate) fn tls_encrypt(&mut self, id: SocketId, mut data: &[u8]) -> Result<(), EngineError> {
        let large = self.bufs.large_size;
        let small = self.bufs.small_size;
        // TLS bytes the session holds go first, copied: the bound below then covers this
        // call's records alone, so some plaintext always fits a large buffer.
        self.queue_tls_output(id);
        let s = writable(&mut self.socks, id)?;
        let Some(SockTls::Conn(c)) = s.tls.as_mut() else {
            return Err(EngineError::WrongSocketKind);
        };
        loop {
            let take = data.len().min(c.plain_fitting(large));
            let bound = c.session.ciphertext_len_bound(take);
            if take == 0 || bound > large {
                // (cannot happen with the session's output queued above; never loop or
                // write past a buffer if it did)
                return Err(EngineError::InvalidArgument(
                    "TLS records do not fit a large pool buffer",
                ));
            }
            let class = if bound <= small { SMALL } else { LARGE };
            let (h, ptr) = self.bufs.acquire(class)?;
            match c
                .session
                .write_plaintext(&[&data[..take]], bytes_mut(ptr, bound))
            {
                // (0: the handshake runs; the session keeps the plaintext)
                Ok(0) => {
                    c.plain_accepted += take as u64;
                    self.stats.tls_plain_out += take as u64;
                    self.bufs.release(h);
                }
                Ok(n) => {
                    c.plain_accepted += take as u64;
                    self.stats.tls_plain_out += take as u64;
                    c.queued(n);
                    s.sendq.push(h, ptr, n as u32);
                }
                Err(e) => {
                    self.bufs.release(h);
                    return Err(EngineError::Tls(e));
                }
            }
            data = &data[take..];
            if data.is_empty() {
                break;
            }
        }
        self.mark_dirty(id);
        Ok(())
    }

    /// `send` of a pool buffer's range on a TLS socket: encrypted from it, then the buffer is
    /// given back.
    pub fn tls_send_buf(
        &mut self,
        id: SocketId,
        h: BufHandle,
        data: &[u8],
    ) -> Result<(), EngineError> {
        let r = self.tls_send(id, data);
        if r.is_ok() {
            self.bufs.release(h);
        }
        r
    }

    /// `shutdown_write` on a TLS socket: close_notify goes ahead of the FIN. Returns true when
    /// the handshake is still running: then the FIN waits for its end.
    pub fn tls_end(&mut self, id: SocketId) -> bool {
        let Some(c) = self.tls_conn(id) else {
            return false;
        };
        if c.backlog.end_after() {
            return true; // after the files (core/tls_file.rs)
        }
        let _ = c.session.end();
        let wait = c.session.is_handshaking();
        c.fin_after_handshake = wait;
        self.queue_tls_output(id);
        wait
    }

    /// Rewrites the events `out[start..]` of TLS sockets (see the module's doc); returns
    /// whether TLS bytes were queued that a submit must send now.
    pub fn tls_events(&mut self, out: &mut Vec<Event>, start: usize) -> bool {
        if !self.tls_on || out.len() == start {
            return false;
        }
        let evs: Vec<Event> = out.drain(start..).collect();
        let mut flush = false;
        for ev in evs {
            match ev {
                Event::Accepted { listener, socket } => {
                    self.tls_accepted(listener, socket);
                    out.push(ev);
                }
                Event::Data {
                    socket,
                    buf,
                    offset,
                    len,
                } if self.tls_conn(socket).is_some() => {
                    flush |= self.tls_received(socket, buf, offset, len, out);
                }
                Event::Sent { socket, bytes } => match self.tls_conn(socket) {
                    Some(c) => {
                        let plain = c.sent(bytes);
                        flush |= self.tls_pump(socket);
                        // TLS-only bytes (handshake, alerts, close_notify) count 0; a `Sent`
                        // of 0 still says when the queue ran empty
                        let drained = self.socks.get(socket).is_some_and(|s| s.sendq.is_empty());
                        if plain > 0 || drained {
                            out.push(Event::Sent {
                                socket,
                                bytes: plain,
                            });
                        }
                        out.extend(self.tls_files_sent(socket));
                    }
                    None => out.push(ev),
                },
                ev => out.push(ev),
            }
        }
        flush
    }

    /// A connection of a TLS listener gets its server session.
    fn tls_accepted(&mut self, listener: SocketId, socket: SocketId) {
        let Some(Some(SockTls::Listener(cfg))) = self.socks.get(listener).map(|l| l.tls.as_ref())
        else {
            return;
        };
        let session = TlsSession::server(cfg);
        if let Some(s) = self.socks.get_mut(socket) {
            match session {
                Ok(session) => s.tls = Some(SockTls::Conn(TlsConn::new(session))),
                // (building a server session from a built config does not fail in rustls)
                Err(_) => self.stats.tls_failures += 1,
            }
        }
    }

    /// Ciphertext arrived in `buf`: decrypts it and pushes the plaintext (and `TlsReady` /
    /// `TlsFailed`) to `out`. The ciphertext buffer goes back to the pool.
    fn tls_received(
        &mut self,
        id: SocketId,
        buf: BufHandle,
        offset: u32,
        len: u32,
        out: &mut Vec<Event>,
    ) -> bool {
        let small = self.bufs.small_size;
        let ptr = match self.bufs.ptr(buf) {
            // SAFETY: `offset` is inside the buffer (the backend received `len` bytes there).
            Ok(p) => unsafe { p.add(offset as usize) },
            Err(_) => return false,
        };
        let c = self.tls_conn(id).expect("caller checked");
        if c.failed_reported {
            self.bufs.release(buf);
            return false;
        }
        let want = len as usize + c.session.plaintext_len();
        let class = if want <= small { SMALL } else { LARGE };
        let Ok((plain, plain_ptr)) = self.bufs.acquire(class) else {
            // No buffer for the plaintext: the bytes cannot be kept. Fail the session rather
            // than lose bytes silently.
            self.bufs.release(buf);
            self.stats.tls_failures += 1;
            let c = self.tls_conn(id).expect("checked above");
            c.failed_reported = true;
            out.push(Event::TlsFailed { socket: id });
            return false;
        };
        let cap = self.bufs.size_of_class(class);
        let c = self.tls_conn(id).expect("checked above");
        let r = c
            .session
            .read_tls(bytes_mut(ptr, len as usize), bytes_mut(plain_ptr, cap));
        self.bufs.release(buf);
        let mut flush = self.queue_tls_output(id);
        let c = self.tls_conn(id).expect("checked above");
        match r {
            Ok(o) => {
                if o.handshake_done && !c.ready_reported {
                    c.ready_reported = true;
                    let fin = std::mem::take(&mut c.fin_after_handshake);
                    self.stats.tls_handshakes += 1;
                    out.push(Event::TlsReady { socket: id });
                    flush |= self.tls_pump(id); // files sent during the handshake
                    if fin {
                        if let Some(s) = self.socks.get_mut(id) {
                            s.shut = WriteShut::Wanted;
                        }
                        self.mark_dirty(id);
                    }
                }
                self.stats.tls_plain_in += o.plaintext as u64;
                self.push_plain(id, plain, o.plaintext, out);
                while let Some(c) = self.tls_conn(id).filter(|c| c.session.plaintext_len() > 0) {
                    let n = c.session.plaintext_len().min(self.bufs.large_size);
                    let Ok((more, more_ptr)) = self.bufs.acquire(LARGE) else {
                        break;
                    };
                    let c = self.tls_conn(id).expect("checked above");
                    let got = c.session.read_plaintext(bytes_mut(more_ptr, n));
                    self.stats.tls_plain_in += got as u64;
                    self.push_plain(id, more, got, out);
                }
            }
            Err(_) => {
                c.failed_reported = true;
                self.bufs.release(plain);
                self.stats.tls_failures += 1;
                out.push(Event::TlsFailed { socket: id });
            }
        }
        flush
    }

    /// Hands out `n` plaintext bytes at the start of `buf` (or gives `buf` back when empty).
    fn push_plain(&mut self, id: SocketId, buf: BufHandle, n: usize, out: &mut Vec<Event>) {
        if n == 0 {
            self.bufs.release(buf);
            return;
        }
        out.push(Event::Data {
            socket: id,
            buf,
            offset: 0,
            len: n as u32,
        });
    }
}
