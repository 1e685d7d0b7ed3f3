//! The consumers other instances of the same service run, as they last
//! reported them (through the status topic, `status_log.rs`), so that
//! `system.kafka_consumers` on any instance lists every instance's, as
//! `clusterAllReplicas` would. A report older than `STALE` is of an
//! instance that died: it is not shown.
//!
//! Uses the consumer status; nothing else of the pipeline.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use catalog::QualifiedName;

use super::status::ConsumerState;

/// A report is shown this long after it arrived (instances report every
/// `status_log::INTERVAL`).
pub const STALE: Duration = Duration::from_secs(10);

/// One instance's consumers, by table.
type Report = Vec<(QualifiedName, ConsumerState)>;

/// The latest report of each other instance, with when it arrived.
#[derive(Debug, Default)]
pub struct Peers {
    reports: Mutex<BTreeMap<String, (Instant, Report)>>,
}

impl Peers {
    /// `instance` reported `consumers`; `None`: it left the service.
    pub fn report(&self, instance: &str, consumers: Option<Vec<(QualifiedName, ConsumerState)>>) {
        let mut reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        match consumers {
            Some(c) => {
                reports.insert(instance.to_string(), (Instant::now(), c));
            }
            None => {
                reports.remove(instance);
            }
        }
    }

    /// Every live instance's consumers, by instance.
    pub fn consumers(&self) -> Vec<(String, QualifiedName, ConsumerState)> {
        let reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        reports
            .iter()
            .filter(|(_, (at, _))| at.elapsed() < STALE)
            .flat_map(|(instance, (_, consumers))| {
                consumers
                    .iter()
                    .map(move |(t, c)| (instance.clone(), t.clone(), c.clone()))
            })
            .collect()
    }
}
