//! The entry of a min-cost priority queue, shared by the road-graph searches (Dijkstra
//! over roads in the twin's unit routing and the corridor's routing).

use std::cmp::Ordering;

/// A cost and an index (a road's, usually). In a `BinaryHeap<MinCost>` the lowest cost
/// pops first and equal costs pop lowest index first, so searches are deterministic.
/// Costs are compared with `total_cmp`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinCost(pub f64, pub u32);

impl Eq for MinCost {}

impl PartialOrd for MinCost {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for MinCost {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

#[cfg(test)]
mod tests {
    use super::MinCost;
    use std::collections::BinaryHeap;

    #[test]
    fn lowest_cost_then_lowest_index_pops_first() {
        let mut h: BinaryHeap<MinCost> =
            [MinCost(3.0, 1), MinCost(1.5, 9), MinCost(1.5, 2), MinCost(0.0, 7), MinCost(f64::INFINITY, 0)].into();
        let order: Vec<u32> = std::iter::from_fn(|| h.pop()).map(|e| e.1).collect();
        assert_eq!(order, vec![7, 2, 9, 1, 0]);
    }
}
