//! Typed index newtypes. Every entity in a [`crate::Network`] lives in a `Vec` and is
//! addressed by a dense `u32` index wrapped in its own type, so a lane can never be
//! used where a road is meant.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The index as `usize`, for slicing the owning `Vec`.
            #[inline(always)]
            pub fn idx(self) -> usize {
                self.0 as usize
            }
        }

        impl From<usize> for $name {
            #[inline(always)]
            fn from(i: usize) -> Self {
                $name(i as u32)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// An intersection (junction or virtual boundary node).
    IntersectionId
);
id_type!(
    /// A directed road between two intersections.
    RoadId
);
id_type!(
    /// One lane of a road; lanes of a road are contiguous.
    LaneId
);
id_type!(
    /// A movement at an intersection: from one road to another (CityFlow `roadLink`).
    MovementId
);
id_type!(
    /// A lane-to-lane connection through an intersection (CityFlow `laneLink`).
    LaneLinkId
);
id_type!(
    /// A crossing point between two lane links of the same intersection.
    CrossId
);
id_type!(
    /// A demand flow (one entry of the flow file).
    FlowId
);
