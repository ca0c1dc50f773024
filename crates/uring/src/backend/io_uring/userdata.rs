//! `user_data` of our SQEs: the full [`SocketId`] (slot plus generation) in the low 32 bits,
//! the operation in bits 32..40, and for zerocopy sends the low 24 bits of the piece key in
//! bits 40..64.

use crate::core::slab::SocketId;

/// Which operation a CQE completes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    /// Multishot accept on a listener.
    Accept = 1,
    /// Multishot recv into the provided-buffer ring.
    Recv = 2,
    /// send / sendmsg of the queue's front.
    Send = 3,
    /// connect.
    Connect = 4,
    /// shutdown(SHUT_WR).
    Shutdown = 5,
    /// Cancel of every op on the socket's fd (close).
    CancelAll = 6,
    /// Cancel of the multishot recv (pause).
    CancelRecv = 7,
    /// close.
    Close = 8,
    /// A NOP that only wakes the ring (no socket).
    Wake = 9,
    /// SEND_ZC / SENDMSG_ZC (data CQE, then a notification CQE with the same user_data).
    SendZc = 10,
    /// The timer of closes waiting for zerocopy notifications (no socket).
    ZcTimer = 11,
    /// A splice of a file segment (file → pipe or pipe → socket; the segment knows which).
    Splice = 12,
}

impl Op {
    fn from_u8(v: u8) -> Option<Op> {
        Some(match v {
            1 => Op::Accept,
            2 => Op::Recv,
            3 => Op::Send,
            4 => Op::Connect,
            5 => Op::Shutdown,
            6 => Op::CancelAll,
            7 => Op::CancelRecv,
            8 => Op::Close,
            9 => Op::Wake,
            10 => Op::SendZc,
            11 => Op::ZcTimer,
            12 => Op::Splice,
            _ => return None,
        })
    }
}

/// Packs an op and a socket id.
pub(crate) fn encode(op: Op, id: SocketId) -> u64 {
    ((op as u64) << 32) | id as u64
}

/// Packs a zerocopy send: the socket id and the low 24 bits of the piece key.
pub(crate) fn encode_zc(id: SocketId, key: u32) -> u64 {
    encode(Op::SendZc, id) | (u64::from(key & 0x00FF_FFFF) << 40)
}

/// The 24 key bits of a zerocopy send's `user_data`.
pub(crate) fn key24(ud: u64) -> u32 {
    (ud >> 40) as u32
}

/// Unpacks what [`encode`] packed.
pub(crate) fn decode(ud: u64) -> Option<(Op, SocketId)> {
    Some((Op::from_u8((ud >> 32) as u8)?, ud as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for op in [Op::Accept, Op::Recv, Op::Send, Op::Close, Op::Wake] {
            assert_eq!(decode(encode(op, 0xABCD_1234)), Some((op, 0xABCD_1234)));
        }
        assert_eq!(decode(0), None);
        let ud = encode_zc(0xABCD_1234, 0x0123_4567);
        assert_eq!(decode(ud), Some((Op::SendZc, 0xABCD_1234)));
        assert_eq!(key24(ud), 0x0023_4567);
    }
}
