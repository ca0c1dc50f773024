//! The TLS record layer's 5-byte headers, read without decrypting: what the session uses to
//! find where a partial record ends, and what tests and stats use to count records.

/// Bytes of plaintext one record carries at most (2^14).
pub const MAX_RECORD_PLAINTEXT: usize = 16 * 1024;

/// The most a record adds to its plaintext: the header (5), TLS 1.2 AES-GCM's explicit
/// nonce (8), the AEAD tag (16) and TLS 1.3's inner content type (1).
pub const MAX_RECORD_OVERHEAD: usize = 5 + 8 + 16 + 1;

/// The header's length.
pub const HEADER_LEN: usize = 5;

/// One record's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data.
    pub content_type: u8,
    /// The legacy version field (0x0303 after the first ClientHello).
    pub version: u16,
    /// Length of the (encrypted) fragment after the header.
    pub len: usize,
}

/// The headers of the complete records at the start of `buf`, in order; stops at a partial
/// record.
pub fn headers(buf: &[u8]) -> impl Iterator<Item = RecordHeader> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let h = buf.get(pos..pos + HEADER_LEN)?;
        let len = u16::from_be_bytes([h[3], h[4]]) as usize;
        if pos + HEADER_LEN + len > buf.len() {
            return None;
        }
        pos += HEADER_LEN + len;
        Some(RecordHeader {
            content_type: h[0],
            version: u16::from_be_bytes([h[1], h[2]]),
            len,
        })
    })
}

/// Bytes of the complete records at the start of `buf`.
pub fn complete_len(buf: &[u8]) -> usize {
    headers(buf).map(|h| HEADER_LEN + h.len).sum()
}

/// How many more bytes `buf` needs to end on a record boundary (0: it does).
pub fn bytes_to_boundary(buf: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        let rest = &buf[pos..];
        if rest.is_empty() {
            return 0;
        }
        if rest.len() < HEADER_LEN {
            return HEADER_LEN - rest.len();
        }
        let end = HEADER_LEN + u16::from_be_bytes([rest[3], rest[4]]) as usize;
        if rest.len() < end {
            return end - rest.len();
        }
        pos += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let rec = [23u8, 3, 3, 0, 2, 9, 9];
        assert_eq!(bytes_to_boundary(&rec), 0);
        assert_eq!(bytes_to_boundary(&rec[..3]), 2);
        assert_eq!(bytes_to_boundary(&rec[..6]), 1);
        let two = [rec, rec].concat();
        assert_eq!(headers(&two).count(), 2);
        assert_eq!(headers(&two[..10]).count(), 1);
        assert_eq!(bytes_to_boundary(&[]), 0);
        assert_eq!(complete_len(&two[..10]), 7);
        assert_eq!(complete_len(&two), 14);
    }
}
