//! Errors as ClickHouse reports them: the catalog crate's `ChError` and
//! codes, which the catalog's checks and the planner return too. Uses only
//! the catalog crate.

pub use catalog::error::{codes, ChError};
