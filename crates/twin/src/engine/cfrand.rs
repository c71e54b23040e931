//! CityFlow's random draws and ordering, reproduced where lane changing needs them.
//!
//! With lane changing on, which vehicle yields to which lane-change signal depends on the
//! vehicles' priorities (`Vehicle::receiveSignal` compares them), so the twin draws them
//! exactly as CityFlow does: from a 32-bit Mersenne Twister (`std::mt19937`) seeded with
//! the config's seed, in CityFlow's order (per created vehicle its priority, then the
//! worker-thread draw `rnd() % threadNum`; after every flow has released, the entry lane
//! `rnd() % lanes` of each new vehicle, road by road; each lane-change shadow's priority).
//! CityFlow stores a priority in an `int`; [`priority_key`] maps it to a `u32` whose
//! unsigned order is the signed order, so the engine's comparisons stay unsigned.

/// `std::mt19937`.
#[derive(Clone, Debug)]
pub(crate) struct Mt19937 {
    mt: Box<[u32; 624]>,
    idx: usize,
}

impl Mt19937 {
    pub fn new(seed: u32) -> Mt19937 {
        let mut mt = Box::new([0u32; 624]);
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { mt, idx: 624 }
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// A CityFlow priority (an `int` holding an `mt19937` draw) as a `u32` whose unsigned
/// order is the `int`'s order.
#[inline]
pub(crate) fn priority_key(draw: u32) -> u32 {
    draw ^ 0x8000_0000
}

/// The order in which libstdc++'s `std::sort` leaves `v` when every key compares equal
/// (CityFlow sorts its lane-change buffer by an urgency that is always 1): introsort's
/// median-of-three partitions swap elements although none compares less, and the final
/// insertion sort moves nothing.
pub(crate) fn sort_all_equal<T>(v: &mut [T]) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let depth = 2 * (usize::BITS - 1 - n.leading_zeros()) as usize;
    introsort_loop(v, depth);
}

fn introsort_loop<T>(v: &mut [T], mut depth: usize) {
    let mut last = v.len();
    while last > 16 {
        // Each partition of equal keys halves the range, so the depth limit (twice the
        // binary logarithm) is never reached and the heap-sort fallback never runs.
        debug_assert!(depth > 0);
        depth = depth.saturating_sub(1);
        // __move_median_to_first(first, first + 1, mid, last - 1): with no element less
        // than another, the median is `mid`.
        let mid = last / 2;
        v.swap(0, mid);
        // __unguarded_partition(first + 1, last, pivot = first).
        let (mut f, mut l) = (1, last);
        loop {
            l -= 1;
            if f >= l {
                break;
            }
            v.swap(f, l);
            f += 1;
        }
        introsort_loop(&mut v[f..last], depth);
        last = f;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_standard() {
        // The C++ standard requires the 10000th draw of a default-seeded mt19937 to be
        // 4123659995.
        let mut r = Mt19937::new(5489);
        let mut x = 0;
        for _ in 0..10000 {
            x = r.next_u32();
        }
        assert_eq!(x, 4_123_659_995);
        let mut r = Mt19937::new(0);
        assert_eq!(r.next_u32(), 2_357_136_044);
    }

    #[test]
    fn priority_key_orders_like_int() {
        let draws = [0u32, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
        for a in draws {
            for b in draws {
                assert_eq!((a as i32) < (b as i32), priority_key(a) < priority_key(b));
            }
        }
    }

    #[test]
    fn sort_of_equal_keys_is_a_permutation_and_small_inputs_stay() {
        for n in 0..200 {
            let mut v: Vec<usize> = (0..n).collect();
            sort_all_equal(&mut v);
            let mut s = v.clone();
            s.sort();
            assert_eq!(s, (0..n).collect::<Vec<_>>());
            if n <= 16 {
                assert_eq!(v, (0..n).collect::<Vec<_>>(), "insertion sort only below 17");
            }
        }
        // What libstdc++'s std::sort (GCC, -O2) leaves, printed by a C++ program sorting
        // (key 1, index) pairs by key.
        let libstdcxx: [&[usize]; 4] = [
            &[8, 16, 15, 14, 13, 12, 11, 10, 9, 0, 7, 6, 5, 4, 3, 2, 1],
            &[9, 17, 16, 15, 14, 13, 12, 11, 10, 0, 8, 7, 6, 5, 4, 3, 2, 1],
            &[
                25, 17, 18, 19, 20, 21, 22, 23, 24, 16, 26, 27, 28, 29, 30, 31, 32, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
                3, 2, 1,
            ],
            &[
                38, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 25, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 13, 1, 2, 3,
                4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
            ],
        ];
        for want in libstdcxx {
            let mut v: Vec<usize> = (0..want.len()).collect();
            sort_all_equal(&mut v);
            assert_eq!(v, want);
        }
    }
}
