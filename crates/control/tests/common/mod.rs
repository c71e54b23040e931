//! Shared helpers: the real data (see the `testdata` crate).

#[allow(unused_imports)] // each test file uses a different subset
pub use testdata::{cityflow, data_dir, nanchang};
