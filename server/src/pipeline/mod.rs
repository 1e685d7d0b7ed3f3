//! Consumption: one pipeline per attached Kafka table that has views, run
//! from the catalog. `reconcile` makes the running pipelines match the
//! catalog after every DDL statement and at start-up.

pub mod backoff;
pub mod consumer;
pub mod kafka_config;
pub mod dead_letters;
pub mod decode;
pub mod direct_select;
pub mod guarantee;
pub mod producer;
pub mod producing;
pub mod sink;
pub mod status;
pub mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use catalog::{Catalog, Definition, QualifiedName};

use crate::backend::Backend;
use consumer::ConsumerTask;
use status::{ConsumerState, ConsumerStatus};

/// What a pipeline runs: a table, its views and the views they fire,
/// exactly as the catalog says.
type Spec = catalog::Consumption;

struct Running {
    spec: Spec,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The running pipelines.
pub struct Pipelines {
    catalog: Arc<Catalog>,
    backend: Arc<dyn Backend>,
    running: Mutex<HashMap<QualifiedName, Running>>,
    /// Consumers' status by table, readable without waiting for `running`
    /// (which a DETACH holds while consumers finish their block).
    statuses: std::sync::Mutex<BTreeMap<QualifiedName, Vec<Arc<ConsumerStatus>>>>,
    /// Producers for writes to Kafka tables, shared by every session.
    producers: Arc<producer::Producers>,
    parsing: Arc<decode::Parsing>,
}

impl Pipelines {
    pub fn new(
        catalog: Arc<Catalog>,
        backend: Arc<dyn Backend>,
        parsing: Arc<decode::Parsing>,
    ) -> Self {
        Self {
            catalog,
            backend,
            parsing,
            running: Mutex::new(HashMap::new()),
            statuses: std::sync::Mutex::new(BTreeMap::new()),
            producers: Arc::new(producer::Producers::default()),
        }
    }

    pub fn producers(&self) -> &producer::Producers {
        &self.producers
    }

    pub fn parsing(&self) -> &Arc<decode::Parsing> {
        &self.parsing
    }

    /// Starts, stops and restarts pipelines so that every attached Kafka
    /// table with views consumes, and nothing else does. A stopped pipeline
    /// finishes the block it is writing (insert and commit) first.
    pub async fn reconcile(&self) {
        let desired = desired(&self.catalog.list());
        let mut running = self.running.lock().await;
        let stale: Vec<QualifiedName> = running
            .iter()
            .filter(|(name, r)| desired.get(*name) != Some(&r.spec))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(r) = running.remove(&name) {
                self.statuses().remove(&name);
                stop(r).await;
                tracing::info!(table = %name, "stopped consuming");
            }
        }
        for (name, spec) in desired {
            if running.contains_key(&name) {
                continue;
            }
            running.insert(name, self.start(spec));
        }
    }

    /// Every running consumer's state, by table.
    pub fn consumers(&self) -> Vec<(QualifiedName, ConsumerState)> {
        self.statuses()
            .iter()
            .flat_map(|(name, consumers)| {
                consumers.iter().map(move |c| (name.clone(), c.snapshot()))
            })
            .collect()
    }

    /// Whether `table` has running consumers (attached, with views).
    pub async fn is_consuming(&self, table: &QualifiedName) -> bool {
        self.running
            .lock()
            .await
            .get(table)
            .is_some_and(|r| !r.tasks.is_empty())
    }

    /// The newest exception of any consumer of `table`.
    pub fn last_exception(&self, table: &QualifiedName) -> Option<String> {
        self.statuses()
            .get(table)?
            .iter()
            .filter_map(|c| c.snapshot().exceptions.back().cloned())
            .max_by_key(|(time, _)| *time)
            .map(|(_, text)| text)
    }

    fn statuses(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<QualifiedName, Vec<Arc<ConsumerStatus>>>> {
        // Plain data behind the lock: still consistent after a panic elsewhere.
        self.statuses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops every pipeline (at shutdown).
    pub async fn stop_all(&self) {
        let mut running = self.running.lock().await;
        for (_, r) in running.drain() {
            stop(r).await;
        }
    }

    fn start(&self, spec: Spec) -> Running {
        let (tx, rx) = watch::channel(false);
        let settings = match spec.table.settings() {
            Ok(s) => s,
            Err(e) => {
                // The catalog only holds checked settings; this is a bug.
                tracing::error!(table = %spec.table.name, error = %e, "invalid settings in the catalog");
                return Running {
                    spec,
                    stop: tx,
                    tasks: Vec::new(),
                };
            }
        };
        let mut statuses = Vec::new();
        let tasks = (0..settings.num_consumers)
            .map(|index| {
                let status =
                    ConsumerStatus::new(kafka_config::client_id(&spec.table, &settings, index));
                statuses.push(status.clone());
                let task = ConsumerTask {
                    table: spec.table.clone(),
                    views: spec.views.clone(),
                    settings: settings.clone(),
                    backend: self.backend.clone(),
                    index,
                    status,
                    chained: spec.chained.clone(),
                    producers: self.producers.clone(),
                    parsing: self.parsing.clone(),
                };
                tokio::spawn(task.run(rx.clone()))
            })
            .collect();
        self.statuses().insert(spec.table.name.clone(), statuses);
        Running {
            spec,
            stop: tx,
            tasks,
        }
    }
}

async fn stop(running: Running) {
    let _ = running.stop.send(true);
    for task in running.tasks {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "a consumer task failed");
        }
    }
}

/// What should run, by table, as the catalog says.
fn desired(definitions: &[Definition]) -> HashMap<QualifiedName, Spec> {
    catalog::consumption::consumptions(definitions)
        .into_iter()
        .map(|c| (c.table.name.clone(), c))
        .collect()
}
