//! Memory locality: every few steps, renumber vehicle slots so that vehicles on the same
//! drivable sit next to each other in `vs`, in queue order. The per-drivable passes
//! (leaders, crossing notifications) then walk memory sequentially instead of jumping
//! across the whole arena, which is what bounds speed on city-scale networks.
//!
//! Renumbering is deterministic (it depends only on the queues), so runs stay
//! bit-identical for a given seed and thread count.

use super::{Sim, NONE};

/// Steps between renumberings.
pub(super) const COMPACT_EVERY: u64 = 32;

impl Sim {
    pub(super) fn compact(&mut self) {
        let n = self.vs.len();
        let mut new_of = vec![NONE; n];
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let (nd, nl) = (self.head.len(), self.waiting.len());
        // Only non-empty queues and buffers hold vehicles (see `bits`).
        let queued = self.occupied.range(0, nd).flat_map(|d| self.queue(d));
        for v in queued.chain(self.buffered.range(0, nl).flat_map(|l| self.waiting[l].iter().copied())) {
            if new_of[v as usize] == NONE {
                new_of[v as usize] = order.len() as u32;
                order.push(v);
            }
        }
        // Alive vehicles outside every queue should not exist; keep them anyway.
        for (v, new) in new_of.iter_mut().enumerate() {
            if self.aux[v].alive && *new == NONE {
                *new = order.len() as u32;
                order.push(v as u32);
            }
        }
        let remap = |v: u32| if v == NONE { NONE } else { new_of[v as usize] };
        // Permute `vs` and `aux` in place (slot `i` takes the vehicle of slot `order[i]`)
        // so that no second arena is ever allocated: at city scale the arena is most of
        // the dynamic memory. Dead slots go to the end and are cut off.
        let live = order.len();
        order.extend((0..n as u32).filter(|&v| new_of[v as usize] == NONE));
        let mut placed = vec![false; n];
        for start in 0..n {
            if placed[start] {
                continue;
            }
            let (held_v, held_a) = (self.vs[start], self.aux[start]);
            let mut j = start;
            loop {
                placed[j] = true;
                let k = order[j] as usize;
                if k == start {
                    break;
                }
                self.vs[j] = self.vs[k];
                self.aux[j] = self.aux[k];
                j = k;
            }
            self.vs[j] = held_v;
            self.aux[j] = held_a;
        }
        self.vs.truncate(live);
        self.aux.truncate(live);
        for s in &mut self.vs {
            s.leader = remap(s.leader);
            s.behind = remap(s.behind);
            s.blocker = remap(s.blocker);
            // `acts` stays in slot order, so no action is reusable after renumbering.
            s.still = false;
        }
        self.acts.truncate(live);
        self.acts.resize(live, Default::default());
        self.free_slots.clear();
        for d in self.occupied.range(0, nd) {
            self.head[d] = remap(self.head[d]);
            self.tail[d] = remap(self.tail[d]);
        }
        for l in self.buffered.range(0, nl) {
            self.waiting[l].iter_mut().for_each(|v| *v = new_of[*v as usize]);
        }
        // Crossing notifications are only read in the step that writes them (after this
        // renumbering), so they need no remapping.
        self.units.remap(&new_of);
        if let Some(lc) = self.lc.as_mut() {
            lc.remap(&order, &new_of, live);
        }
        for slot in self.id_slot.values_mut() {
            *slot = new_of[*slot as usize];
        }
    }
}
