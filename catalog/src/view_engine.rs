//! Which engine runs a materialized view's SELECT over each block: DataFusion
//! (in process, for the functions kafkahouse has checked against ClickHouse)
//! or the embedded ClickHouse engine (everything ClickHouse runs, exactly as
//! ClickHouse runs it). Chosen at CREATE and kept with the view, so a restart
//! never changes a view's answers. Uses only serde.

use serde::{Deserialize, Serialize};

/// The engine a view's SELECT runs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewEngine {
    /// DataFusion, over the block's Arrow columns (views written before
    /// the choice existed were all planned by DataFusion).
    #[default]
    DataFusion,
    /// The embedded ClickHouse engine, over the same Arrow block.
    ClickHouse,
}

impl ViewEngine {
    /// As `system.kafka_views` shows it.
    pub fn name(self) -> &'static str {
        match self {
            ViewEngine::DataFusion => "DataFusion",
            ViewEngine::ClickHouse => "ClickHouse",
        }
    }
}
