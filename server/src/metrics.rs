//! Prometheus metrics counted as events happen: insert and commit latency,
//! frontends' connections and queries, in one
//! process-wide set (`GET /metrics` renders them with the consumers' state,
//! `frontend/http/metrics.rs`). Labels are names, never a setting's value:
//! no secret can appear.
//!
//! Uses prometheus-client and the catalog's names.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use catalog::QualifiedName;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub database: String,
    pub table: String,
}

impl TableLabels {
    pub fn of(name: &QualifiedName) -> TableLabels {
        TableLabels {
            database: name.database.clone(),
            table: name.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrontendLabels {
    pub frontend: &'static str,
}

pub type Histograms = Family<TableLabels, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The metrics counted as events happen.
pub struct Events {
    pub insert_seconds: Histograms,
    pub commit_seconds: Histograms,
    pub connections: Family<FrontendLabels, Counter>,
    pub queries: Family<FrontendLabels, Counter>,
}

/// The process's event metrics.
pub fn events() -> &'static Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS.get_or_init(|| Events {
        insert_seconds: Family::new_with_constructor(latency),
        commit_seconds: Family::new_with_constructor(latency),
        connections: Family::default(),
        queries: Family::default(),
    })
}

/// One block's insert through every view of `table` took `took`.
pub fn insert_took(table: &QualifiedName, took: Duration) {
    events()
        .insert_seconds
        .get_or_create(&TableLabels::of(table))
        .observe(took.as_secs_f64());
}

/// One offset commit of `table`'s consumer took `took`.
pub fn commit_took(table: &QualifiedName, took: Duration) {
    events()
        .commit_seconds
        .get_or_create(&TableLabels::of(table))
        .observe(took.as_secs_f64());
}

/// A client connected to `frontend` (`pg`, `http` or `native`).
pub fn connected(frontend: &'static str) {
    events()
        .connections
        .get_or_create(&FrontendLabels { frontend })
        .inc();
}

/// A statement arrived through `frontend`.
pub fn query(frontend: &'static str) {
    events()
        .queries
        .get_or_create(&FrontendLabels { frontend })
        .inc();
}
