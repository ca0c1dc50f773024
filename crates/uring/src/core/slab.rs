//! A generational slab: sockets live in slots, ids carry the slot's generation so a stale id
//! never reaches the socket that reuses its slot.

use std::collections::VecDeque;

/// A socket's id: slot index (low 20 bits) plus the slot's generation (high 12 bits).
///
/// Freed slots are reused oldest-first, so an id can only alias a newer socket after its slot
/// was reused `2^GEN_BITS` times.
pub type SocketId = u32;

/// Bits of a [`SocketId`] that hold the slot index (so at most 2^20 live sockets per engine).
pub const INDEX_BITS: u32 = 20;
/// Bits of a [`SocketId`] that hold the generation.
pub const GEN_BITS: u32 = 32 - INDEX_BITS;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const GEN_MASK: u32 = (1 << GEN_BITS) - 1;

/// The slot index of an id.
pub fn index_of(id: SocketId) -> u32 {
    id & INDEX_MASK
}

fn make_id(index: u32, gen: u32) -> SocketId {
    ((gen & GEN_MASK) << INDEX_BITS) | index
}

struct Slot<T> {
    gen: u32,
    value: Option<T>,
}

/// Generational slab of `T`.
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: VecDeque<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: VecDeque::new(),
            len: 0,
        }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` (built from its id); `None` when all 2^20 slots are taken.
    pub fn insert_with(&mut self, make: impl FnOnce(SocketId) -> T) -> Option<SocketId> {
        let index = match self.free.pop_front() {
            Some(i) => i,
            None => {
                let i = self.slots.len() as u32;
                if i > INDEX_MASK {
                    return None;
                }
                self.slots.push(Slot {
                    gen: 1,
                    value: None,
                });
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        let id = make_id(index, slot.gen);
        slot.value = Some(make(id));
        self.len += 1;
        Some(id)
    }

    /// The entry for a live id.
    pub fn get(&self, id: SocketId) -> Option<&T> {
        let slot = self.slots.get(index_of(id) as usize)?;
        if make_id(index_of(id), slot.gen) != id {
            return None;
        }
        slot.value.as_ref()
    }

    /// The entry for a live id, mutably.
    pub fn get_mut(&mut self, id: SocketId) -> Option<&mut T> {
        let slot = self.slots.get_mut(index_of(id) as usize)?;
        if make_id(index_of(id), slot.gen) != id {
            return None;
        }
        slot.value.as_mut()
    }

    /// Removes a live id's entry; its slot gets a new generation.
    pub fn remove(&mut self, id: SocketId) -> Option<T> {
        let index = index_of(id);
        let slot = self.slots.get_mut(index as usize)?;
        if make_id(index, slot.gen) != id {
            return None;
        }
        let value = slot.value.take()?;
        slot.gen = (slot.gen + 1) & GEN_MASK;
        self.free.push_back(index);
        self.len -= 1;
        Some(value)
    }

    /// Ids of all live entries.
    pub fn ids(&self) -> Vec<SocketId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| make_id(i as u32, s.gen))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_miss() {
        let mut slab = Slab::new();
        let a = slab.insert_with(|_| 1).unwrap();
        assert_eq!(slab.remove(a), Some(1));
        let b = slab.insert_with(|_| 2).unwrap();
        assert_eq!(index_of(a), index_of(b));
        assert_ne!(a, b);
        assert!(slab.get(a).is_none());
        assert_eq!(slab.get(b), Some(&2));
        assert!(slab.remove(a).is_none());
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn slots_are_reused_oldest_first() {
        let mut slab = Slab::new();
        let ids: Vec<_> = (0..4).map(|i| slab.insert_with(|_| i).unwrap()).collect();
        for id in &ids {
            slab.remove(*id);
        }
        let again = slab.insert_with(|_| 9).unwrap();
        assert_eq!(index_of(again), index_of(ids[0]));
        assert_eq!(slab.ids(), vec![again]);
    }
}
