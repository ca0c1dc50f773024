//! The SNI name of a ClientHello, read from the client's first record as it arrived: node:tls
//! reports `servername` as the client wrote it (rustls hands the certificate resolver a
//! lowercased name).

use crate::records::HEADER_LEN;

/// Collects a server session's first record (the ClientHello) until it is whole.
#[derive(Debug, Default)]
pub(crate) struct HelloCapture {
    bytes: Vec<u8>,
    done: bool,
}

impl HelloCapture {
    /// Takes what the first record still needs from `incoming` (bytes as received); returns the
    /// record once it is whole, once.
    pub fn feed(&mut self, mut incoming: &[u8]) -> Option<&[u8]> {
        if self.done {
            return None;
        }
        loop {
            let whole = self.whole_len();
            let want = whole.unwrap_or(HEADER_LEN);
            let k = (want - self.bytes.len()).min(incoming.len());
            self.bytes.extend_from_slice(&incoming[..k]);
            incoming = &incoming[k..];
            if self.bytes.len() < want {
                return None;
            }
            if self.whole_len() == Some(self.bytes.len()) {
                self.done = true;
                return Some(&self.bytes);
            }
        }
    }

    /// The record's length with its header, once the header is in.
    fn whole_len(&self) -> Option<usize> {
        let h = self.bytes.get(..HEADER_LEN)?;
        Some(HEADER_LEN + u16::from_be_bytes([h[3], h[4]]) as usize)
    }
}

/// Reads `n` bytes at `*at`, moving past them.
fn take<'a>(b: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = b.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(s)
}

fn u8_at(b: &[u8], at: &mut usize) -> Option<usize> {
    take(b, at, 1).map(|s| s[0] as usize)
}

fn u16_at(b: &[u8], at: &mut usize) -> Option<usize> {
    take(b, at, 2).map(|s| u16::from_be_bytes([s[0], s[1]]) as usize)
}

/// The host_name of the server_name extension (RFC 6066 §3) of the ClientHello in `record` (a
/// whole handshake record), as the client wrote it. None: not a ClientHello, no SNI, or the
/// hello does not fit this record (then rustls has it anyway; node's `servername` is `false`).
pub(crate) fn client_hello_sni(record: &[u8]) -> Option<String> {
    let mut at = 0;
    let header = take(record, &mut at, HEADER_LEN)?;
    if header[0] != 22 {
        return None;
    }
    let msg_type = u8_at(record, &mut at)?;
    let len = take(record, &mut at, 3)?;
    let len = (len[0] as usize) << 16 | (len[1] as usize) << 8 | len[2] as usize;
    if msg_type != 1 {
        return None;
    }
    let hello = take(record, &mut at, len)?;
    let mut at = 2 + 32; // legacy_version, random
    let sid = u8_at(hello, &mut at)?;
    take(hello, &mut at, sid)?;
    let suites = u16_at(hello, &mut at)?;
    take(hello, &mut at, suites)?;
    let compression = u8_at(hello, &mut at)?;
    take(hello, &mut at, compression)?;
    let ext_len = u16_at(hello, &mut at)?;
    let exts = take(hello, &mut at, ext_len)?;
    let mut at = 0;
    while at < exts.len() {
        let kind = u16_at(exts, &mut at)?;
        let n = u16_at(exts, &mut at)?;
        let body = take(exts, &mut at, n)?;
        if kind != 0 {
            continue;
        }
        let mut p = 0;
        let list = u16_at(body, &mut p)?;
        let list = take(body, &mut p, list)?;
        let mut q = 0;
        while q < list.len() {
            let name_type = u8_at(list, &mut q)?;
            let n = u16_at(list, &mut q)?;
            let name = take(list, &mut q, n)?;
            if name_type == 0 {
                return std::str::from_utf8(name).ok().map(str::to_string);
            }
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record carrying `exts` (each (type, body)).
    fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (t, body) in exts {
            ext.extend_from_slice(&t.to_be_bytes());
            ext.extend_from_slice(&(body.len() as u16).to_be_bytes());
            ext.extend_from_slice(body);
        }
        let mut h = vec![3, 3];
        h.extend_from_slice(&[7; 32]);
        h.push(0); // session id
        h.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        h.extend_from_slice(&[1, 0]); // null compression
        h.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        h.extend_from_slice(&ext);
        let mut msg = vec![1, 0, (h.len() >> 8) as u8, h.len() as u8];
        msg.extend_from_slice(&h);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        rec.extend_from_slice(&msg);
        rec
    }

    fn sni(name: &str) -> (u16, Vec<u8>) {
        let mut entry = vec![0];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name.as_bytes());
        let mut body = (entry.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(&entry);
        (0, body)
    }

    #[test]
    fn reads_the_name_as_written_after_other_extensions() {
        let rec = hello(&[(10, vec![0, 2, 0, 29]), sni("ALPHA.test")]);
        assert_eq!(client_hello_sni(&rec).as_deref(), Some("ALPHA.test"));
        assert_eq!(client_hello_sni(&hello(&[(10, vec![0, 2, 0, 29])])), None);
    }

    #[test]
    fn truncated_or_foreign_bytes_give_none_and_never_panic() {
        let rec = hello(&[sni("x.beta.test")]);
        for cut in 0..rec.len() {
            assert_eq!(client_hello_sni(&rec[..cut]), None, "cut at {cut}");
        }
        let mut alert = rec.clone();
        alert[0] = 21;
        assert_eq!(client_hello_sni(&alert), None);
        for i in HEADER_LEN..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 0xff;
            let _ = client_hello_sni(&bad);
        }
    }

    #[test]
    fn capture_joins_a_record_cut_anywhere() {
        let rec = hello(&[sni("q.beta.test")]);
        let mut stream = rec.clone();
        stream.extend_from_slice(&[23, 3, 3, 0, 1, 0]); // what follows is not taken
        for cut in 1..stream.len() {
            let mut c = HelloCapture::default();
            let a = c.feed(&stream[..cut]).map(<[u8]>::to_vec);
            let b = c.feed(&stream[cut..]).map(<[u8]>::to_vec);
            let got = a.or(b).expect("whole after both pieces");
            assert_eq!(got, rec, "cut at {cut}");
            assert_eq!(client_hello_sni(&got).as_deref(), Some("q.beta.test"));
            assert!(c.feed(&stream).is_none(), "once");
        }
    }
}
