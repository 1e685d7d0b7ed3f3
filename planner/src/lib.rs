//! kafkahouse's planner: reads ClickHouse SQL and decides what each statement
//! is. It never touches sockets or backends; frontends hand it text and act
//! on what it returns.

pub mod split;

pub use split::{bind_placeholders, placeholder_count, split, Kind, Setting, Statement};
