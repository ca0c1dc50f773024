//! The region as a loom model (used only under `--cfg loom`).
//!
//! Head, tail and the waiting flag are loom atomics; every data byte is a loom
//! `UnsafeCell`, so loom reports any data access the protocol does not order.
//! Views (`bytes`, `bytes_mut`) are copies: they read the cells when created and
//! `bytes_mut` writes them back when dropped.

use super::check_bounds;
use crate::sync::AtomicU32;
use loom::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// Loom model of one ring region.
pub(crate) struct Region {
    capacity: u32,
    head: AtomicU32,
    tail: AtomicU32,
    waiting: AtomicU32,
    data: Box<[UnsafeCell<u8>]>,
}

impl Region {
    /// Creates a zeroed model region.
    pub(crate) fn allocate(capacity: u32) -> Region {
        Region {
            capacity,
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            data: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
        }
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    pub(crate) fn head(&self) -> &AtomicU32 {
        &self.head
    }

    pub(crate) fn tail(&self) -> &AtomicU32 {
        &self.tail
    }

    pub(crate) fn consumer_waiting(&self) -> &AtomicU32 {
        &self.waiting
    }

    fn read_byte(&self, i: usize) -> u8 {
        // SAFETY: loom tracks this access and fails the model on a data race.
        self.data[i].with(|p| unsafe { *p })
    }

    fn write_byte(&self, i: usize, v: u8) {
        // SAFETY: loom tracks this access and fails the model on a data race.
        self.data[i].with_mut(|p| unsafe { *p = v })
    }

    /// # Safety
    /// Same contract as the native region (checked by loom).
    pub(crate) unsafe fn read_u32(&self, off: u32) -> u32 {
        let mut b = [0u8; 4];
        // SAFETY: forwarded contract.
        let view = unsafe { self.bytes(off, 4) };
        b.copy_from_slice(&view);
        u32::from_ne_bytes(b)
    }

    /// # Safety
    /// Same contract as the native region (checked by loom).
    pub(crate) unsafe fn write_u32(&self, off: u32, v: u32) {
        // SAFETY: forwarded contract.
        unsafe { self.write_bytes(off, &v.to_ne_bytes()) }
    }

    /// # Safety
    /// Same contract as the native region (checked by loom).
    pub(crate) unsafe fn write_bytes(&self, off: u32, src: &[u8]) {
        check_bounds(self.capacity, off, src.len());
        for (i, &b) in src.iter().enumerate() {
            self.write_byte(off as usize + i, b);
        }
    }

    /// # Safety
    /// Same contract as the native region (checked by loom).
    pub(crate) unsafe fn bytes(&self, off: u32, len: usize) -> DataRef<'_> {
        check_bounds(self.capacity, off, len);
        DataRef(
            (0..len).map(|i| self.read_byte(off as usize + i)).collect(),
            PhantomData,
        )
    }

    /// # Safety
    /// Same contract as the native region (checked by loom).
    pub(crate) unsafe fn bytes_mut(&self, off: u32, len: usize) -> DataMut<'_> {
        check_bounds(self.capacity, off, len);
        DataMut {
            region: self,
            off,
            copy: vec![0; len],
        }
    }
}

/// Copy of data bytes read from the model.
pub(crate) struct DataRef<'a>(Vec<u8>, PhantomData<&'a Region>);

impl Deref for DataRef<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Writable copy of data bytes; written back to the model on drop.
pub(crate) struct DataMut<'a> {
    region: &'a Region,
    off: u32,
    copy: Vec<u8>,
}

impl Deref for DataMut<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.copy
    }
}

impl DerefMut for DataMut<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.copy
    }
}

impl DataMut<'_> {
    /// Ends the write: copies back to the model (by dropping).
    pub(crate) fn finish(self) {}
}

impl Drop for DataMut<'_> {
    fn drop(&mut self) {
        for (i, &b) in self.copy.iter().enumerate() {
            self.region.write_byte(self.off as usize + i, b);
        }
    }
}
