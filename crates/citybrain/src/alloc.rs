//! The binary's allocator: the system allocator, except that large blocks (the twin's
//! vehicle arena, crossing tables and other per-network arrays) are mapped on 2 MiB
//! boundaries and marked for transparent huge pages where Linux offers them.
//!
//! The per-step passes read those arrays at random (a vehicle's leader, the tail of the
//! lane ahead, a foe's crossing slot). On a city-scale network they span tens of MiB, far
//! more than the TLB covers with 4 KiB pages, so many of those reads also walk the page
//! tables. With 2 MiB pages a handful of TLB entries cover them. Kernels configured with
//! `transparent_hugepage=madvise` (as Debian's are) give huge pages only to memory that
//! asks with `madvise(MADV_HUGEPAGE)`; with `never` the hint is ignored and this is the
//! system allocator with 2 MiB alignment.
//!
//! Only the binary sets this, and only on Linux (elsewhere it keeps the system
//! allocator): the library crates allocate through whatever allocator their user chose.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of at least this many bytes get their own huge-page-aligned mapping (rounded up
/// to whole huge pages, so less than half of such a mapping is slack).
const LARGE: usize = 2 << 20;
/// The huge page size (x86-64 and aarch64 with 4 KiB base pages).
const HUGE: usize = 2 << 20;

pub struct HugeAlloc;

fn is_large(layout: &Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= HUGE
}

/// `size` rounded up to whole huge pages.
fn mapped_len(size: usize) -> usize {
    size.div_ceil(HUGE) * HUGE
}

unsafe fn map_large(size: usize) -> *mut u8 {
    let len = mapped_len(size);
    // Map one huge page more than needed, then cut the mapping down to the aligned part.
    let raw = libc::mmap(
        std::ptr::null_mut(),
        len + HUGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    );
    if raw == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let start = raw as usize;
    let aligned = start.next_multiple_of(HUGE);
    if aligned > start {
        libc::munmap(raw, aligned - start);
    }
    // What is left past the aligned part: the extra huge page minus the head cut above.
    let tail = start + HUGE - aligned;
    if tail > 0 {
        libc::munmap((aligned + len) as *mut libc::c_void, tail);
    }
    // A hint: refused (no THP support), the mapping still works with small pages.
    libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    aligned as *mut u8
}

unsafe fn unmap_large(ptr: *mut u8, size: usize) {
    libc::munmap(ptr as *mut libc::c_void, mapped_len(size));
}

// SAFETY: every block comes either from `System` (small layouts) or from its own
// anonymous mapping of at least `layout.size()` bytes, aligned to 2 MiB and so to any
// alignment `is_large` accepts; a block is always returned to the source chosen by the
// same `is_large` test on the same layout, which `GlobalAlloc` guarantees to pass back.
unsafe impl GlobalAlloc for HugeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(&layout) {
            map_large(layout.size())
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(&layout) {
            // Fresh anonymous mappings are zero-filled.
            map_large(layout.size())
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(&layout) {
            unmap_large(ptr, layout.size())
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if !is_large(&layout) && !is_large(&new) {
            return System.realloc(ptr, layout, new_size);
        }
        if is_large(&layout) && is_large(&new) && mapped_len(layout.size()) == mapped_len(new_size) {
            // Still fits the same mapping.
            return ptr;
        }
        let out = self.alloc(new);
        if !out.is_null() {
            std::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_aligned_zeroed_and_survive_reallocation() {
        let a = HugeAlloc;
        unsafe {
            let l = Layout::from_size_align(3 << 20, 64).unwrap();
            let p = a.alloc_zeroed(l);
            assert!(!p.is_null());
            assert_eq!(p as usize % HUGE, 0);
            assert!(std::slice::from_raw_parts(p, l.size()).iter().all(|&b| b == 0));
            std::ptr::write_bytes(p, 7, l.size());
            // Grow within the same mapping, then beyond it, then shrink to a small block.
            let p = a.realloc(p, l, (3 << 20) + 100);
            let l = Layout::from_size_align((3 << 20) + 100, 64).unwrap();
            assert_eq!(*p.add((3 << 20) - 1), 7);
            let p = a.realloc(p, l, 9 << 20);
            let l = Layout::from_size_align(9 << 20, 64).unwrap();
            assert!(std::slice::from_raw_parts(p, 3 << 20).iter().all(|&b| b == 7));
            let p = a.realloc(p, l, 1000);
            let l = Layout::from_size_align(1000, 64).unwrap();
            assert!(std::slice::from_raw_parts(p, 1000).iter().all(|&b| b == 7));
            let p = a.realloc(p, l, 5 << 20);
            let l = Layout::from_size_align(5 << 20, 64).unwrap();
            assert!(std::slice::from_raw_parts(p, 1000).iter().all(|&b| b == 7));
            a.dealloc(p, l);
        }
    }
}
