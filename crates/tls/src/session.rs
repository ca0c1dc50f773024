//! `TlsSession`: one TLS connection (client or server) over rustls's unbuffered state machine,
//! driven by the caller's I/O on the caller's buffers.
//!
//! - Received ciphertext is decrypted **in place** in the caller's buffer (`read_tls` takes
//!   `&mut [u8]`: the engine's pool buffer); the plaintext goes into the caller's output buffer.
//!   Only a record cut by the end of a receive is copied aside (into `carry`) until its rest
//!   arrives.
//! - A batch of plaintext (the corked messages of one flush) is encrypted **straight into the
//!   caller's output buffer** as one record per 16 KiB of the batch, not one per message: a
//!   record that lies inside one message is encrypted from it directly, and only a record that
//!   spans messages is gathered first (≤ 16 KiB into `scratch`).
//! - Handshake records, alerts and close_notify queue in `outgoing` (small), which the caller
//!   drains with `write_tls`; `write_plaintext` puts them ahead of the data it encrypts.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::hello::{client_hello_sni, HelloCapture};
use rustls::client::{ClientConnectionData, UnbufferedClientConnection, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, EncryptError, UnbufferedStatus, WriteTraffic,
};
use rustls::{CommonState, ProtocolVersion};

use crate::config::Anchors;
use crate::error::CertError;
use crate::records::{self, MAX_RECORD_OVERHEAD, MAX_RECORD_PLAINTEXT};
use crate::{verify, ClientConfig, PeerCertificate, ServerConfig, TlsError};

/// What one `read_tls` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Plaintext bytes written to the caller's buffer.
    pub plaintext: usize,
    /// Plaintext left inside the session because the caller's buffer was full
    /// (read it with [`TlsSession::read_plaintext`]).
    pub buffered: usize,
    /// The peer sent close_notify (edge: true once, on the read that saw it).
    pub peer_closed: bool,
    /// The handshake finished (and the peer was verified) during this read.
    pub handshake_done: bool,
}

enum Conn {
    Client(Box<UnbufferedClientConnection>),
    Server(Box<UnbufferedServerConnection>),
}

enum PeerCheck {
    Client {
        verifier: Arc<WebPkiServerVerifier>,
        name: ServerName<'static>,
        reject: bool,
        anchors: Anchors,
    },
    Server {
        verifier: Option<Arc<dyn ClientCertVerifier>>,
        reject: bool,
        anchors: Anchors,
    },
}

/// Decrypted plaintext the caller had no room for yet.
#[derive(Default)]
struct PlainQueue {
    chunks: VecDeque<Vec<u8>>,
    /// Read offset into the front chunk.
    head: usize,
    len: usize,
}

impl PlainQueue {
    fn push(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.chunks.push_back(data.to_vec());
            self.len += data.len();
        }
    }

    fn read_into(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let avail = &front[self.head..];
            let k = avail.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&avail[..k]);
            n += k;
            self.head += k;
            if self.head == front.len() {
                self.chunks.pop_front();
                self.head = 0;
            }
        }
        self.len -= n;
        n
    }

    fn drain_into_vec(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.len;
        while let Some(c) = self.chunks.pop_front() {
            out.extend_from_slice(&c[self.head..]);
            self.head = 0;
        }
        self.len = 0;
        n
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.head = 0;
        self.len = 0;
    }
}

/// Where decrypted records go: the caller's buffer first, the queue once it is full.
enum Sink<'a> {
    Slice {
        out: &'a mut [u8],
        written: usize,
        queue: &'a mut PlainQueue,
    },
    Vec {
        out: &'a mut Vec<u8>,
        written: usize,
    },
}

impl Sink<'_> {
    fn put(&mut self, data: &[u8]) {
        match self {
            Sink::Slice {
                out,
                written,
                queue,
            } => {
                let k = if queue.len == 0 {
                    data.len().min(out.len() - *written)
                } else {
                    0
                };
                out[*written..*written + k].copy_from_slice(&data[..k]);
                *written += k;
                queue.push(&data[k..]);
            }
            Sink::Vec { out, written } => {
                out.extend_from_slice(data);
                *written += data.len();
            }
        }
    }

    fn written(&self) -> usize {
        match self {
            Sink::Slice { written, .. } | Sink::Vec { written, .. } => *written,
        }
    }
}

/// Where the state machine stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Needs more bytes from the peer.
    Blocked,
    /// May send application data (the handshake is over).
    Writable,
    /// close_notify sent and received.
    Closed,
}

/// The two unbuffered connection types, behind one call.
trait Process {
    type Data;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Process for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Process for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

/// Flags the state machine reports while it runs.
#[derive(Default)]
struct Seen {
    peer_closed: bool,
}

/// Runs the state machine over `buf` until it needs more bytes or may send data. Returns how
/// many bytes of `buf` are done with (the rest must be presented again, with more after it).
fn pump<C: Process>(
    conn: &mut C,
    buf: &mut [u8],
    outgoing: &mut Vec<u8>,
    sink: &mut Sink<'_>,
    seen: &mut Seen,
) -> Result<(usize, Stop), (usize, rustls::Error)> {
    let mut off = 0;
    loop {
        let UnbufferedStatus { mut discard, state } = conn.process(&mut buf[off..]);
        let state = match state {
            Ok(s) => s,
            Err(e) => return Err((off + discard, e)),
        };
        let stop = match state {
            ConnectionState::ReadTraffic(mut r) => {
                while let Some(rec) = r.next_record() {
                    match rec {
                        Ok(rec) => {
                            discard += rec.discard;
                            sink.put(rec.payload);
                        }
                        Err(e) => return Err((off + discard, e)),
                    }
                }
                None
            }
            ConnectionState::EncodeTlsData(mut e) => {
                encode_into(&mut e, outgoing).map_err(|e| (off + discard, e))?;
                None
            }
            // The bytes are in `outgoing`, which the caller sends exactly once.
            ConnectionState::TransmitTlsData(t) => {
                t.done();
                None
            }
            ConnectionState::PeerClosed => {
                seen.peer_closed = true;
                None
            }
            ConnectionState::BlockedHandshake => Some(Stop::Blocked),
            ConnectionState::WriteTraffic(_) => Some(Stop::Writable),
            ConnectionState::Closed => Some(Stop::Closed),
            // Early data is never enabled (max_early_data_size stays 0): nothing to read.
            ConnectionState::ReadEarlyData(_) => Some(Stop::Blocked),
            _ => Some(Stop::Blocked),
        };
        off += discard;
        if let Some(s) = stop {
            return Ok((off, s));
        }
    }
}

/// Runs the state machine until it may send data, then runs `job` on the writable state
/// (with `outgoing` for anything that must go first). `buf` is the session's `carry`: rustls
/// may still point into the undiscarded bytes it was given, so it is always handed them again.
/// Returns the bytes of `buf` done with, and None when not writable (handshaking, closed).
fn with_write<C: Process, R>(
    conn: &mut C,
    buf: &mut [u8],
    outgoing: &mut Vec<u8>,
    queue: &mut PlainQueue,
    seen: &mut Seen,
    job: impl FnOnce(&mut WriteTraffic<'_, C::Data>, &mut Vec<u8>) -> R,
) -> Result<(usize, Option<R>), rustls::Error> {
    let mut off = 0;
    // bounded: each turn either encodes a pending record or stops
    for _ in 0..64 {
        let status = conn.process(&mut buf[off..]);
        let mut discard = status.discard;
        let stop = match status.state? {
            ConnectionState::WriteTraffic(mut wt) => {
                return Ok((off + discard, Some(job(&mut wt, outgoing))))
            }
            ConnectionState::EncodeTlsData(mut e) => {
                encode_into(&mut e, outgoing)?;
                false
            }
            ConnectionState::TransmitTlsData(t) => {
                t.done();
                false
            }
            ConnectionState::ReadTraffic(mut r) => {
                while let Some(rec) = r.next_record() {
                    let rec = rec?;
                    discard += rec.discard;
                    queue.push(rec.payload);
                }
                false
            }
            ConnectionState::PeerClosed => {
                seen.peer_closed = true;
                false
            }
            _ => true,
        };
        off += discard;
        if stop {
            break;
        }
    }
    Ok((off, None))
}

/// After a fatal error: encodes the alert rustls queued, touching no input (the state
/// machine is not run again).
fn drain_alerts<C: Process>(conn: &mut C, common: impl Fn(&C) -> bool, outgoing: &mut Vec<u8>) {
    for _ in 0..16 {
        if !common(conn) {
            break;
        }
        let status = conn.process(&mut []);
        match status.state {
            Ok(ConnectionState::EncodeTlsData(mut e)) => {
                if encode_into(&mut e, outgoing).is_err() {
                    break;
                }
            }
            Ok(ConnectionState::ReadTraffic(mut r)) => while r.next_record().is_some() {},
            _ => break,
        }
    }
}

fn encode_into<D>(e: &mut EncodeTlsData<'_, D>, out: &mut Vec<u8>) -> Result<(), rustls::Error> {
    let start = out.len();
    out.resize(start + 4096, 0);
    let n = match e.encode(&mut out[start..]) {
        Ok(n) => n,
        Err(EncodeError::InsufficientSize(s)) => {
            out.resize(start + s.required_size, 0);
            e.encode(&mut out[start..])
                .map_err(|e| rustls::Error::General(e.to_string()))?
        }
        Err(EncodeError::AlreadyEncoded) => 0,
    };
    out.truncate(start + n);
    Ok(())
}

/// Encrypts `batch` into `out` as ⌈total / 16 KiB⌉ records. Returns bytes written.
fn encrypt_batch<D>(
    wt: &mut WriteTraffic<'_, D>,
    batch: &[&[u8]],
    out: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<usize, EncryptError> {
    let mut remaining: usize = batch.iter().map(|s| s.len()).sum();
    let (mut i, mut off, mut w) = (0, 0, 0);
    while remaining > 0 {
        while off == batch[i].len() {
            i += 1;
            off = 0;
        }
        let rest = &batch[i][off..];
        if rest.len() >= MAX_RECORD_PLAINTEXT || rest.len() == remaining {
            // whole records inside this slice: encrypt from it directly
            let n = if rest.len() >= MAX_RECORD_PLAINTEXT {
                rest.len() - rest.len() % MAX_RECORD_PLAINTEXT
            } else {
                rest.len()
            };
            w += wt.encrypt(&rest[..n], &mut out[w..])?;
            off += n;
            remaining -= n;
        } else {
            // a record spanning slices: gather up to 16 KiB of them
            scratch.clear();
            while scratch.len() < MAX_RECORD_PLAINTEXT && remaining > 0 {
                while off == batch[i].len() {
                    i += 1;
                    off = 0;
                }
                let s = &batch[i][off..];
                let k = s.len().min(MAX_RECORD_PLAINTEXT - scratch.len());
                scratch.extend_from_slice(&s[..k]);
                off += k;
                remaining -= k;
            }
            w += wt.encrypt(scratch, &mut out[w..])?;
        }
    }
    Ok(w)
}

/// One TLS connection, client or server.
pub struct TlsSession {
    conn: Conn,
    peer: PeerCheck,
    /// Handshake records, alerts, close_notify, and data written before the handshake ended.
    outgoing: Vec<u8>,
    /// The unfinished tail of the received bytes (a record cut by a receive, or handshake
    /// fragments rustls is still joining).
    carry: Vec<u8>,
    /// Where in `carry` the bytes as received begin. Before it rustls may have rewritten them
    /// (in-place decryption, joining handshake fragments), so record headers are read only
    /// from here on.
    carry_raw: usize,
    plain: PlainQueue,
    /// Plaintext written before data could be sent (handshake not yet verified).
    pending_plain: Vec<u8>,
    scratch: Vec<u8>,
    seen: Seen,
    peer_closed: bool,
    handshake_done: bool,
    close_requested: bool,
    close_sent: bool,
    closed: bool,
    failed: Option<TlsError>,
    authorized: bool,
    authorization_error: Option<CertError>,
    /// node's `socket.servername`: a client's the name it asked for, a server's the SNI name
    /// the client sent (None: none, node's `false`).
    servername: Option<String>,
    /// A server's first record, collected to read the SNI name from (dropped once read).
    hello: Option<HelloCapture>,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("server", &matches!(self.conn, Conn::Server(_)))
            .field("handshake_done", &self.handshake_done)
            .field("outgoing", &self.outgoing.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl TlsSession {
    /// A client session for `servername` (a DNS name, or an IP address: then no SNI is sent
    /// and the certificate must name the IP, as in node:tls). The ClientHello is ready in
    /// [`TlsSession::write_tls`] at once.
    pub fn client(config: &ClientConfig, servername: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(servername.to_string()).map_err(|_| {
            TlsError::InvalidOption(format!(
                "servername {servername:?} is not a DNS name or IP address"
            ))
        })?;
        let conn = UnbufferedClientConnection::new(config.rustls.clone(), name.clone())
            .map_err(TlsError::from_rustls)?;
        let peer = PeerCheck::Client {
            verifier: config.verifier.clone(),
            name,
            reject: config.reject_unauthorized,
            anchors: config.anchors.clone(),
        };
        let mut s = Self::new(Conn::Client(Box::new(conn)), peer);
        s.servername = Some(servername.to_string());
        s.advance(&mut [])?;
        Ok(s)
    }

    /// A server session for one accepted connection.
    pub fn server(config: &ServerConfig) -> Result<Self, TlsError> {
        let conn = UnbufferedServerConnection::new(config.rustls.clone())
            .map_err(TlsError::from_rustls)?;
        let peer = PeerCheck::Server {
            verifier: config.client_verifier.clone(),
            reject: config.reject_unauthorized,
            anchors: config.anchors.clone(),
        };
        let mut s = Self::new(Conn::Server(Box::new(conn)), peer);
        s.hello = Some(HelloCapture::default());
        Ok(s)
    }

    fn new(conn: Conn, peer: PeerCheck) -> Self {
        Self {
            conn,
            peer,
            outgoing: Vec::new(),
            carry: Vec::new(),
            carry_raw: 0,
            plain: PlainQueue::default(),
            pending_plain: Vec::new(),
            scratch: Vec::new(),
            seen: Seen::default(),
            peer_closed: false,
            handshake_done: false,
            close_requested: false,
            close_sent: false,
            closed: false,
            failed: None,
            authorized: false,
            authorization_error: None,
            servername: None,
            hello: None,
        }
    }

    fn common(&self) -> &CommonState {
        match &self.conn {
            Conn::Client(c) => c,
            Conn::Server(s) => s,
        }
    }

    /// Feeds received ciphertext. `incoming` is decrypted in place (its contents are garbage
    /// afterwards) and all of it is consumed; plaintext goes to `plaintext`, and what does not
    /// fit stays in the session for [`TlsSession::read_plaintext`]. Handshake replies, if any,
    /// are then waiting in [`TlsSession::write_tls`]. On an error nothing written to
    /// `plaintext` by this call counts, and an alert for the peer may wait in `write_tls`.
    pub fn read_tls(
        &mut self,
        incoming: &mut [u8],
        plaintext: &mut [u8],
    ) -> Result<ReadOutcome, TlsError> {
        // Queued plaintext comes first.
        let first = self.plain.read_into(plaintext);
        let mut q = std::mem::take(&mut self.plain);
        let mut sink = Sink::Slice {
            out: plaintext,
            written: first,
            queue: &mut q,
        };
        let r = self.feed(incoming, &mut sink);
        let written = sink.written();
        // anything queued meanwhile (nothing today: feed drains rustls before writing) goes after
        let meanwhile = std::mem::replace(&mut self.plain, q);
        for c in meanwhile.chunks {
            self.plain.push(&c[..]);
        }
        let (peer_closed, handshake_done) = r?;
        Ok(ReadOutcome {
            plaintext: written,
            buffered: self.plain.len,
            peer_closed,
            handshake_done,
        })
    }

    /// As [`TlsSession::read_tls`], appending all plaintext to a `Vec`.
    pub fn read_tls_vec(
        &mut self,
        incoming: &mut [u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<ReadOutcome, TlsError> {
        let first = self.plain.drain_into_vec(plaintext);
        let mut sink = Sink::Vec {
            out: plaintext,
            written: first,
        };
        let (peer_closed, handshake_done) = self.feed(incoming, &mut sink)?;
        Ok(ReadOutcome {
            plaintext: sink.written(),
            buffered: 0,
            peer_closed,
            handshake_done,
        })
    }

    /// Plaintext the session holds because a `read_tls` buffer was full; returns bytes copied.
    pub fn read_plaintext(&mut self, out: &mut [u8]) -> usize {
        self.plain.read_into(out)
    }

    /// Bytes [`TlsSession::read_plaintext`] has to give.
    pub fn plaintext_len(&self) -> usize {
        self.plain.len
    }

    fn feed(&mut self, incoming: &mut [u8], sink: &mut Sink<'_>) -> Result<(bool, bool), TlsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let was_done = self.handshake_done;
        // (before anything is decrypted in place: the bytes as the client sent them)
        if let Some(capture) = self.hello.as_mut() {
            if let Some(record) = capture.feed(incoming) {
                self.servername = client_hello_sni(record);
                self.hello = None;
            }
        }
        let mut taken = 0;
        // A cut record (or fragments being joined) first: complete it record by record from
        // `incoming`; once nothing is left over, the rest is decrypted in place.
        while !self.carry.is_empty() && taken < incoming.len() {
            let need = match records::bytes_to_boundary(&self.carry[self.carry_raw..]) {
                0 => records::HEADER_LEN,
                n => n,
            };
            let k = need.min(incoming.len() - taken);
            self.carry.extend_from_slice(&incoming[taken..taken + k]);
            taken += k;
            let complete = self.carry_raw + records::complete_len(&self.carry[self.carry_raw..]);
            let mut carry = std::mem::take(&mut self.carry);
            let r = self.run(&mut carry, sink);
            self.carry = carry;
            let done = self.step_result(r)?;
            self.carry.drain(..done);
            self.carry_raw = complete.saturating_sub(done);
        }
        if self.carry.is_empty() && taken < incoming.len() {
            let rest = &mut incoming[taken..];
            let complete = records::complete_len(rest);
            let r = self.run(rest, sink);
            let done = self.step_result(r)?;
            self.carry.extend_from_slice(&rest[done..]);
            self.carry_raw = complete.saturating_sub(done);
        }
        if !self.handshake_done && !self.common().is_handshaking() {
            self.post_handshake()?;
        }
        let peer_closed = std::mem::take(&mut self.seen.peer_closed);
        self.peer_closed |= peer_closed;
        Ok((peer_closed, self.handshake_done && !was_done))
    }

    fn run(
        &mut self,
        buf: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<(usize, Stop), (usize, rustls::Error)> {
        match &mut self.conn {
            Conn::Client(c) => pump(&mut **c, buf, &mut self.outgoing, sink, &mut self.seen),
            Conn::Server(s) => pump(&mut **s, buf, &mut self.outgoing, sink, &mut self.seen),
        }
    }

    fn step_result(
        &mut self,
        r: Result<(usize, Stop), (usize, rustls::Error)>,
    ) -> Result<usize, TlsError> {
        match r {
            Ok((done, stop)) => {
                if stop == Stop::Closed {
                    self.closed = true;
                }
                Ok(done)
            }
            Err((_, e)) => Err(self.fail(TlsError::from_rustls(e))),
        }
    }

    /// Records a fatal error and queues the alert rustls prepared for the peer.
    fn fail(&mut self, e: TlsError) -> TlsError {
        self.failed = Some(e.clone());
        self.plain.clear();
        self.pending_plain.clear();
        match &mut self.conn {
            Conn::Client(c) => drain_alerts(&mut **c, |c| c.wants_write(), &mut self.outgoing),
            Conn::Server(s) => drain_alerts(&mut **s, |s| s.wants_write(), &mut self.outgoing),
        }
        e
    }

    fn advance(&mut self, empty: &mut [u8]) -> Result<(), TlsError> {
        let mut sink = Sink::Vec {
            out: &mut Vec::new(),
            written: 0,
        };
        let r = self.run(empty, &mut sink);
        self.step_result(r).map(|_| ())
    }

    /// The handshake is over: verify the peer once, as node:tls does, then send what was
    /// written meanwhile.
    fn post_handshake(&mut self) -> Result<(), TlsError> {
        self.handshake_done = true;
        let chain = self
            .common()
            .peer_certificates()
            .map(<[CertificateDer<'static>]>::to_vec);
        let (result, reject) = match &self.peer {
            PeerCheck::Client {
                verifier,
                name,
                reject,
                anchors,
            } => (
                Some(verify::verify_server(
                    verifier,
                    chain.as_deref().unwrap_or_default(),
                    name,
                    anchors,
                )),
                *reject,
            ),
            PeerCheck::Server {
                verifier: Some(v),
                reject,
                anchors,
            } => (
                Some(verify::verify_client(&**v, chain.as_deref(), anchors)),
                *reject,
            ),
            // no requestCert: node leaves `authorized` false on the server side
            PeerCheck::Server { verifier: None, .. } => (None, false),
        };
        match result {
            Some(Ok(())) => self.authorized = true,
            Some(Err(e)) => {
                self.authorization_error = Some(e.clone());
                if reject {
                    let e = TlsError::Verify(e);
                    self.failed = Some(e.clone());
                    self.plain.clear();
                    self.pending_plain.clear();
                    return Err(e);
                }
            }
            None => {}
        }
        // An end() during the handshake comes after what was written before it.
        let close = std::mem::take(&mut self.close_requested);
        if !self.pending_plain.is_empty() {
            let pending = std::mem::take(&mut self.pending_plain);
            let mut out = Vec::new();
            self.write_plaintext_vec(&[&pending], &mut out)?;
            self.outgoing.extend_from_slice(&out);
        }
        if close {
            self.end()?;
        }
        Ok(())
    }

    /// The most ciphertext [`TlsSession::write_plaintext`] writes for `plaintext_len` bytes of
    /// batch (queued handshake bytes included): size the output buffer with it.
    pub fn ciphertext_len_bound(&self, plaintext_len: usize) -> usize {
        let records = plaintext_len.div_ceil(MAX_RECORD_PLAINTEXT);
        // + room for a KeyUpdate rustls may put first
        self.outgoing.len() + plaintext_len + records * MAX_RECORD_OVERHEAD + 64
    }

    /// Encrypts a batch (the messages of one flush) into `out`, after any queued handshake
    /// bytes: one record per 16 KiB of the whole batch. Returns the bytes written to `out`,
    /// to be sent in order. Before the handshake is over the batch is kept and sent right
    /// after it (then it appears in [`TlsSession::write_tls`]). `out` must hold
    /// [`TlsSession::ciphertext_len_bound`] bytes.
    pub fn write_plaintext(&mut self, batch: &[&[u8]], out: &mut [u8]) -> Result<usize, TlsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.close_sent || self.close_requested {
            return Err(TlsError::Closed);
        }
        let total: usize = batch.iter().map(|s| s.len()).sum();
        let required = self.ciphertext_len_bound(total);
        if out.len() < required {
            return Err(TlsError::BufferTooSmall { required });
        }
        if !self.handshake_done {
            for s in batch {
                self.pending_plain.extend_from_slice(s);
            }
            return Ok(self.write_tls(out));
        }
        let scratch = &mut self.scratch;
        // queued handshake bytes (a KeyUpdate reply, …) go ahead of the data
        fn job(outgoing: &mut Vec<u8>, out: &mut [u8]) -> usize {
            let n = outgoing.len();
            out[..n].copy_from_slice(outgoing);
            outgoing.clear();
            n
        }
        let r = match &mut self.conn {
            Conn::Client(c) => with_write(
                &mut **c,
                &mut self.carry,
                &mut self.outgoing,
                &mut self.plain,
                &mut self.seen,
                |wt, og| {
                    let n = job(og, out);
                    encrypt_batch(wt, batch, &mut out[n..], scratch).map(|w| n + w)
                },
            ),
            Conn::Server(s) => with_write(
                &mut **s,
                &mut self.carry,
                &mut self.outgoing,
                &mut self.plain,
                &mut self.seen,
                |wt, og| {
                    let n = job(og, out);
                    encrypt_batch(wt, batch, &mut out[n..], scratch).map(|w| n + w)
                },
            ),
        };
        let r = r.map(|(done, r)| {
            self.carry.drain(..done);
            self.carry_raw = self.carry_raw.saturating_sub(done);
            r
        });
        match r {
            Ok(Some(Ok(n))) => Ok(n),
            Ok(Some(Err(EncryptError::InsufficientSize(s)))) => Err(TlsError::BufferTooSmall {
                required: s.required_size,
            }),
            Ok(Some(Err(e))) => {
                Err(self.fail(TlsError::Protocol(rustls::Error::General(e.to_string()))))
            }
            Ok(None) => Err(TlsError::Closed),
            Err(e) => Err(self.fail(TlsError::from_rustls(e))),
        }
    }

    /// As [`TlsSession::write_plaintext`], appending to a `Vec`.
    pub fn write_plaintext_vec(
        &mut self,
        batch: &[&[u8]],
        out: &mut Vec<u8>,
    ) -> Result<usize, TlsError> {
        let start = out.len();
        let total: usize = batch.iter().map(|s| s.len()).sum();
        out.resize(start + self.ciphertext_len_bound(total), 0);
        let r = self.write_plaintext(batch, &mut out[start..]);
        out.truncate(start + *r.as_ref().unwrap_or(&0));
        r
    }

    /// Sends close_notify (node's `end()`): queued in [`TlsSession::write_tls`]. During the
    /// handshake it is sent right after it, behind anything written meanwhile.
    pub fn end(&mut self) -> Result<(), TlsError> {
        if self.close_sent || self.failed.is_some() {
            return Ok(());
        }
        if !self.handshake_done {
            self.close_requested = true;
            return Ok(());
        }
        fn job(
            wt_close: &mut dyn FnMut(&mut [u8]) -> Result<usize, EncryptError>,
            og: &mut Vec<u8>,
        ) {
            let start = og.len();
            og.resize(start + 64, 0);
            let n = wt_close(&mut og[start..]).unwrap_or(0);
            og.truncate(start + n);
        }
        let r = match &mut self.conn {
            Conn::Client(c) => with_write(
                &mut **c,
                &mut self.carry,
                &mut self.outgoing,
                &mut self.plain,
                &mut self.seen,
                |wt, og| job(&mut |b| wt.queue_close_notify(b), og),
            ),
            Conn::Server(s) => with_write(
                &mut **s,
                &mut self.carry,
                &mut self.outgoing,
                &mut self.plain,
                &mut self.seen,
                |wt, og| job(&mut |b| wt.queue_close_notify(b), og),
            ),
        };
        self.close_sent = true;
        self.close_requested = false;
        match r {
            Ok((done, _)) => {
                self.carry.drain(..done);
                self.carry_raw = self.carry_raw.saturating_sub(done);
                Ok(())
            }
            Err(e) => Err(self.fail(TlsError::from_rustls(e))),
        }
    }

    /// Moves queued TLS bytes (handshake, alerts, close_notify) into `out`; returns how many.
    /// Call after every `read_tls`, `end` and when [`TlsSession::wants_write`].
    pub fn write_tls(&mut self, out: &mut [u8]) -> usize {
        let n = self.outgoing.len().min(out.len());
        out[..n].copy_from_slice(&self.outgoing[..n]);
        self.outgoing.drain(..n);
        n
    }

    /// As [`TlsSession::write_tls`], appending all of it to a `Vec`.
    pub fn write_tls_vec(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.outgoing.len();
        out.append(&mut self.outgoing);
        n
    }

    /// Queued TLS bytes wait in [`TlsSession::write_tls`].
    pub fn wants_write(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Until the handshake is over and the peer verified.
    pub fn is_handshaking(&self) -> bool {
        !self.handshake_done && self.failed.is_none()
    }

    /// The peer sent close_notify.
    pub fn is_peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// close_notify went both ways.
    pub fn is_closed(&self) -> bool {
        self.closed || (self.close_sent && self.is_peer_closed())
    }

    /// The fatal error that ended the session, if one did.
    pub fn error(&self) -> Option<&TlsError> {
        self.failed.as_ref()
    }

    /// node's `socket.authorized`: the peer's certificate verified (false on a server
    /// without `requestCert`).
    pub fn authorized(&self) -> bool {
        self.authorized
    }

    /// node's `socket.authorizationError` (its code is `.code()`).
    pub fn authorization_error(&self) -> Option<&CertError> {
        self.authorization_error.as_ref()
    }

    /// node's `socket.servername`: the name a client asked for, or the SNI name a server's
    /// client sent (None: node's `false`).
    pub fn servername(&self) -> Option<&str> {
        self.servername.as_deref()
    }

    /// node's `socket.alpnProtocol` (None: node's `false`).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.common().alpn_protocol()
    }

    /// node's `getProtocol()`: "TLSv1.3" or "TLSv1.2" (None during the handshake).
    pub fn protocol(&self) -> Option<&'static str> {
        match self.common().protocol_version()? {
            ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
            ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
            _ => Some("unknown"),
        }
    }

    /// The negotiated cipher suite's IANA name (e.g. "TLS13_AES_128_GCM_SHA256").
    pub fn cipher_suite(&self) -> Option<String> {
        let s = self.common().negotiated_cipher_suite()?;
        Some(format!("{:?}", s.suite()))
    }

    /// The peer's chain as sent, leaf first (DER).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.common().peer_certificates()
    }

    /// node's `getPeerCertificate()` for the leaf.
    pub fn peer_certificate(&self) -> Option<PeerCertificate> {
        PeerCertificate::from_der(self.peer_certificates()?.first()?)
    }
}
