//! Consumption: one pipeline per attached Kafka table that has views, run
//! from the catalog. `reconcile` makes the running pipelines match the
//! catalog after every DDL statement and at start-up. Each consumer runs
//! under a supervisor that starts a fresh one, with backoff, when it ends or
//! panics before it was told to stop.

pub mod backoff;
pub mod consumer;
pub mod dead_letters;
pub mod decode;
pub mod direct_select;
pub mod engine_view;
pub mod guarantee;
pub mod kafka_config;
pub mod peers;
pub mod producer;
pub mod producing;
pub mod sink;
pub mod status;
pub mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use catalog::{Catalog, Definition, QualifiedName};

use crate::backend::Backend;
use backoff::Backoff;
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
    /// Other instances' consumers (a shared catalog's service).
    peers: Arc<peers::Peers>,
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
            peers: Arc::new(peers::Peers::default()),
        }
    }

    /// What other instances report of their consumers.
    pub fn peers(&self) -> &Arc<peers::Peers> {
        &self.peers
    }

    /// Every instance's consumers, this one's first: (instance, table, state).
    pub fn all_consumers(&self) -> Vec<(String, QualifiedName, ConsumerState)> {
        let own = kafka_config::instance().to_string();
        let mut all: Vec<_> = self
            .consumers()
            .into_iter()
            .map(|(t, c)| (own.clone(), t, c))
            .collect();
        all.extend(self.peers.consumers());
        all
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

    /// Whether `table` has consumers (attached, with views) whose
    /// supervisors are alive: a consumer waiting to be restarted counts, one
    /// that nothing will restart does not.
    pub async fn is_consuming(&self, table: &QualifiedName) -> bool {
        self.running
            .lock()
            .await
            .get(table)
            .is_some_and(|r| r.tasks.iter().any(|t| !t.is_finished()))
    }

    /// Whether a consumer of `table` found that its broker drops
    /// offset-commit metadata (so its views are at least once).
    pub fn commit_metadata_dropped(&self, table: &QualifiedName) -> bool {
        self.statuses()
            .get(table)
            .is_some_and(|c| c.iter().any(|c| c.snapshot().commit_metadata_dropped))
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
        // The table's consumers try KIP-848 together (see consumer::protocol).
        let group_assigned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tasks = (0..settings.num_consumers)
            .map(|index| {
                let status =
                    ConsumerStatus::new(kafka_config::client_id(&spec.table, &settings, index));
                statuses.push(status.clone());
                let (spec, settings) = (spec.clone(), settings.clone());
                let (backend, producers) = (self.backend.clone(), self.producers.clone());
                let parsing = self.parsing.clone();
                let group_assigned = group_assigned.clone();
                let task = move || ConsumerTask {
                    table: spec.table.clone(),
                    views: spec.views.clone(),
                    settings: settings.clone(),
                    backend: backend.clone(),
                    index,
                    status: status.clone(),
                    chained: spec.chained.clone(),
                    producing: spec.producing.clone(),
                    producers: producers.clone(),
                    parsing: parsing.clone(),
                    group_assigned: group_assigned.clone(),
                };
                tokio::spawn(supervise(task, rx.clone()))
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

/// A consumer that ran this long before it ended was healthy: its end starts
/// a new run of failures, from the first delay.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs the consumer `task` makes until `stop`: when one ends or panics
/// before the stop, the reason becomes an exception in its status and,
/// after a backoff, a fresh consumer starts (it resumes from the group's
/// committed offsets).
async fn supervise(task: impl Fn() -> ConsumerTask, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new();
    loop {
        let consumer = task();
        let status = consumer.status.clone();
        let table = consumer.table.name.to_string();
        let index = consumer.index;
        status.update(|s| s.running = true);
        let started = Instant::now();
        let last_before = status.snapshot().exceptions.back().cloned();
        // A task of its own, so that a panic anywhere in it ends only it.
        let ended = tokio::spawn(consumer.run(stop.clone())).await;
        status.update(|s| {
            s.running = false;
            // The partitions were the old consumer's; the new one reports its own.
            s.assignments.clear();
        });
        if *stop.borrow() {
            return;
        }
        let why = match ended {
            Err(e) => status::join_error_text(e),
            // It ended by itself: the exception it left last says why (a
            // decode task's panic, for one).
            Ok(()) => status
                .snapshot()
                .exceptions
                .back()
                .filter(|last| Some(*last) != last_before.as_ref())
                .map(|(_, text)| text.clone())
                .unwrap_or_else(|| "it ended without an error".to_string()),
        };
        tracing::error!(%table, consumer = index, reason = %why, "consumer ended; restarting it");
        status.exception(format!("consumer restarted after: {why}"));
        status.update(|s| s.restarts += 1);
        if started.elapsed() >= HEALTHY_RUN {
            backoff.reset();
        }
        if backoff.wait(&mut stop).await.is_err() {
            return;
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
