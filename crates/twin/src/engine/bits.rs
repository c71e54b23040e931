//! A fixed-size set of dense indices (one bit each), visited in increasing order.
//!
//! The per-step passes use it to visit only the drivables that hold vehicles (and the
//! lanes whose entry buffer is not empty) instead of scanning every drivable of the
//! network: on Nanchang about 5,200 of 58,242 drivables are occupied in a step. Visiting
//! in increasing index order keeps every pass in the order of the full scan it replaces.

#[derive(Clone, Debug, Default)]
pub(crate) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    /// An empty set over indices `0..n`.
    pub fn new(n: usize) -> Bits {
        Bits { words: vec![0; n.div_ceil(64)] }
    }

    #[inline]
    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    #[inline]
    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// The members in `lo..hi`, in increasing order.
    pub fn range(&self, lo: usize, hi: usize) -> Range<'_> {
        let hi = hi.min(self.words.len() * 64);
        if lo >= hi {
            return Range { words: &[], w: 0, cur: 0, hi };
        }
        let w = lo / 64;
        Range { words: &self.words[..hi.div_ceil(64)], w, cur: self.words[w] & (u64::MAX << (lo % 64)), hi }
    }

    /// The smallest member at or after `i`: lets a caller change the set between visits.
    #[inline]
    pub fn first_from(&self, i: usize) -> Option<usize> {
        self.range(i, usize::MAX).next()
    }
}

/// Iterator of [`Bits::range`]: the set bits of word `w` not yet visited are `cur`.
pub(crate) struct Range<'a> {
    words: &'a [u64],
    w: usize,
    cur: u64,
    hi: usize,
}

impl Iterator for Range<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.cur == 0 {
            self.w += 1;
            if self.w >= self.words.len() {
                return None;
            }
            self.cur = self.words[self.w];
        }
        let i = self.w * 64 + self.cur.trailing_zeros() as usize;
        self.cur &= self.cur - 1;
        // Only the last word can hold members at or past `hi`.
        if i >= self.hi {
            self.cur = 0;
            self.w = self.words.len();
            return None;
        }
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn range_matches_a_sorted_set(n in 1usize..300, ops in prop::collection::vec((0usize..300, any::<bool>()), 0..200), lo in 0usize..300, len in 0usize..300) {
            let mut b = Bits::new(n);
            let mut s = std::collections::BTreeSet::new();
            for (i, add) in ops {
                let i = i % n;
                if add { b.insert(i); s.insert(i); } else { b.remove(i); s.remove(&i); }
                prop_assert_eq!(b.contains(i), add);
            }
            let lo = lo % n;
            let hi = (lo + len).min(n);
            let got: Vec<usize> = b.range(lo, hi).collect();
            let want: Vec<usize> = s.range(lo..hi).copied().collect();
            prop_assert_eq!(got, want);
            let all: Vec<usize> = b.range(0, n).collect();
            prop_assert_eq!(all, s.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(b.first_from(lo), s.range(lo..).next().copied());
        }
    }
}
