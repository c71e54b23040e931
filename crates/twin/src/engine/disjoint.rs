//! A slice that several threads write at once, each element by a single thread.

use std::marker::PhantomData;

/// Shared access to a mutably borrowed slice, for the parallel passes in which every
/// element has a single writer (each use says why). It holds the borrow for its
/// lifetime, so nothing else touches the slice meanwhile; indices are bounds-checked.
pub(super) struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: sharing is sound as long as callers keep to the contract of `update`: an
// element is written by one thread, and not read by another meanwhile.
unsafe impl<T: Send + Sync> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub fn new(s: &'a mut [T]) -> Disjoint<'a, T> {
        Disjoint { ptr: s.as_mut_ptr(), len: s.len(), _borrow: PhantomData }
    }

    /// Change element `i` with `f`.
    ///
    /// # Safety
    /// No other thread may read or write element `i` meanwhile.
    #[inline(always)]
    pub unsafe fn update(&self, i: usize, f: impl FnOnce(&mut T)) {
        assert!(i < self.len);
        // SAFETY: in bounds; exclusive access to the element, per the caller.
        f(unsafe { &mut *self.ptr.add(i) })
    }
}
