//! A catalog that several instances share through one ordered log (a
//! compacted, single-partition Kafka topic, as Kafka Connect keeps its
//! configuration; the log itself is the server's `Journal`).
//!
//! Every record is the new state of one object (a table or view, or a named
//! collection; none when dropped) and the version of it its writer saw (the
//! log position of the record that set it). Every instance applies records
//! in log order with the same rule: a record applies when the object is
//! still at the version its writer saw; otherwise another instance changed
//! it first, and the record is ignored everywhere. The writer, seeing its
//! record ignored, runs its statement again against what the log says now,
//! which fails with ClickHouse's error (Code 57 for a table created twice)
//! or applies on top of the other change.
//!
//! Compaction keeps only the newest record of each object; so that this is
//! the state every instance holds, a writer whose record was ignored appends
//! the object's current state again, and a record whose expected version was
//! compacted away applies.
//!
//! Uses serde, the sealing of secrets and the store's state.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{lock, Catalog, CatalogError, Definition, NamedCollection, State, Store};
use crate::sealing::{self, SecretKey};

/// Attempts of one statement against changes made elsewhere at the same time.
const ATTEMPTS: usize = 5;
/// How long a writer waits for its own record to come back from the log.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The log a shared catalog is kept in.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// Appends `records`, in order, durably; returns their log positions.
    fn append(&self, records: &[Record]) -> Result<Vec<u64>, CatalogError>;
}

/// One object of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "object", rename_all = "snake_case")]
pub enum Object {
    Definition(Definition),
    Collection(NamedCollection),
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The object's identity: also the record's key in the topic, which
    /// compaction goes by.
    pub key: String,
    /// The object's new state; `None` when it was dropped.
    pub value: Option<Object>,
    /// The version of the object its writer saw (`None`: absent).
    pub expect: Option<u64>,
    /// The instance that wrote it, for logs.
    pub origin: String,
}

impl Record {
    /// The record as the log keeps it: JSON, secrets sealed with `key`
    /// (without a key, a secret is an error: never kept in clear text).
    pub fn encode(&self, key: Option<&SecretKey>) -> Result<Vec<u8>, CatalogError> {
        let mut sealed = self.clone();
        match &mut sealed.value {
            Some(Object::Definition(d)) => sealing::seal_definition(d, key)?,
            Some(Object::Collection(c)) => sealing::seal_collection(c, key)?,
            None => {}
        }
        serde_json::to_vec(&sealed).map_err(|e| CatalogError::Journal(e.to_string()))
    }

    /// A record `encode` wrote, its secrets opened.
    pub fn decode(bytes: &[u8], key: Option<&SecretKey>) -> Result<Record, CatalogError> {
        let mut record: Record =
            serde_json::from_slice(bytes).map_err(|e| CatalogError::Journal(e.to_string()))?;
        match &mut record.value {
            Some(Object::Definition(d)) => sealing::open_definition(d, key)?,
            Some(Object::Collection(c)) => sealing::open_collection(c, key)?,
            None => {}
        }
        Ok(record)
    }
}

fn definition_key(d: &super::QualifiedName) -> String {
    format!("table:{}", serde_json::json!([d.database, d.name]))
}

fn collection_key(name: &str) -> String {
    format!("collection:{}", serde_json::json!(name))
}

impl Catalog {
    /// An empty catalog kept in `journal`; `apply_logged` fills it from the
    /// log, from its first record on.
    pub fn shared(journal: Arc<dyn Journal>) -> Catalog {
        Catalog::with_store(Store::Shared(journal), State::default())
    }

    /// Applies the record at log position `position` (`None`: a record
    /// this instance cannot read, skipped), as every instance does.
    pub fn apply_logged(&self, position: u64, record: Option<Record>) {
        let changed = {
            let mut state = self.write();
            let applied = match record {
                Some(record) => apply(&mut state, position, record),
                None => false,
            };
            state.received.insert(position, applied);
            applied
        };
        {
            let mut applied = lock(&self.applied);
            *applied = (*applied).max(position + 1);
            self.applied_changed.notify_all();
        }
        if changed {
            for listener in lock(&self.listeners).iter() {
                listener();
            }
        }
    }

    /// Waits until every log position before `end` is applied.
    pub fn wait_applied(&self, end: u64, timeout: Duration) -> Result<(), CatalogError> {
        let deadline = Instant::now() + timeout;
        let mut applied = lock(&self.applied);
        while *applied < end {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CatalogError::Journal(format!(
                    "the catalog log did not come back with position {} within {} s",
                    end - 1,
                    timeout.as_secs()
                )));
            }
            applied = self
                .applied_changed
                .wait_timeout(applied, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        Ok(())
    }

    pub(super) fn change_shared(
        &self,
        journal: &dyn Journal,
        f: impl Fn(&mut State) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let _one_at_a_time = lock(&self.issuing);
        for _ in 0..ATTEMPTS {
            let current = self.read().clone();
            let mut next = current.clone();
            f(&mut next)?;
            // The configuration file's collections are this instance's own.
            {
                let mut state = self.write();
                state.collections.retain(|_, c| !c.from_config);
                for (name, c) in next.collections.iter().filter(|(_, c)| c.from_config) {
                    state.collections.insert(name.clone(), c.clone());
                }
            }
            let records = differences(&current, &next);
            if records.is_empty() {
                return Ok(());
            }
            let positions = journal.append(&records)?;
            let end = positions.iter().max().map_or(0, |p| p + 1);
            self.wait_applied(end, APPLY_TIMEOUT)?;
            // Whether each record applied is what the log said when it
            // was applied, not the object's version now: another instance's
            // later change (a restatement of this very object) may be
            // applied already.
            let ignored: Vec<&Record> = {
                let state = self.read();
                records
                    .iter()
                    .zip(&positions)
                    .filter(|(_, p)| state.received.get(*p) != Some(&true))
                    .map(|(r, _)| r)
                    .collect()
            };
            if ignored.is_empty() {
                return Ok(());
            }
            tracing::info!(
                objects = ignored.len(),
                "a catalog change crossed one made elsewhere; trying it again"
            );
            self.restate(journal, &ignored)?;
        }
        Err(CatalogError::Journal(
            "the catalog kept changing elsewhere; try again".to_string(),
        ))
    }

    /// Appends the current state of the objects `ignored` records were about,
    /// so that the newest record of each (all compaction keeps) is the state
    /// every instance holds.
    fn restate(&self, journal: &dyn Journal, ignored: &[&Record]) -> Result<(), CatalogError> {
        let records: Vec<Record> = {
            let state = self.read();
            ignored
                .iter()
                .map(|r| Record {
                    key: r.key.clone(),
                    value: object_of(&state, &r.key),
                    expect: state.versions.get(&r.key).copied(),
                    origin: r.origin.clone(),
                })
                .collect()
        };
        let positions = journal.append(&records)?;
        let end = positions.iter().max().map_or(0, |p| p + 1);
        self.wait_applied(end, APPLY_TIMEOUT)
    }
}

/// The records that turn `current` into `next`. Collections from this
/// instance's configuration file stay out of the log: each instance has
/// its own file.
fn differences(current: &State, next: &State) -> Vec<Record> {
    let origin = String::new();
    let mut records = Vec::new();
    let mut record = |key: String, value: Option<Object>| {
        let expect = current.versions.get(&key).copied();
        records.push(Record {
            key,
            value,
            expect,
            origin: origin.clone(),
        });
    };
    let names: HashSet<_> = current
        .definitions
        .keys()
        .chain(next.definitions.keys())
        .cloned()
        .collect();
    let mut names: Vec<_> = names.into_iter().collect();
    names.sort();
    for name in names {
        let after = next.definitions.get(&name);
        if current.definitions.get(&name) != after {
            record(
                definition_key(&name),
                after.cloned().map(Object::Definition),
            );
        }
    }
    let shared = |m: &BTreeMap<String, NamedCollection>| -> BTreeMap<String, NamedCollection> {
        m.iter()
            .filter(|(_, c)| !c.from_config)
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect()
    };
    let (before, after) = (shared(&current.collections), shared(&next.collections));
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        if before.get(name) != after.get(name) {
            record(
                collection_key(name),
                after.get(name).cloned().map(Object::Collection),
            );
        }
    }
    records
}

/// The object `key` names, as `state` holds it.
fn object_of(state: &State, key: &str) -> Option<Object> {
    if let Some(d) = state
        .definitions
        .iter()
        .find(|(name, _)| definition_key(name) == key)
    {
        return Some(Object::Definition(d.1.clone()));
    }
    state
        .collections
        .iter()
        .find(|(name, c)| !c.from_config && collection_key(name) == key)
        .map(|(_, c)| Object::Collection(c.clone()))
}

/// Applies `record` (at `position`) when its object is at the version its
/// writer saw; returns whether anything changed.
fn apply(state: &mut State, position: u64, record: Record) -> bool {
    let current = state.versions.get(&record.key).copied();
    let compacted = record
        .expect
        .is_some_and(|v| !state.received.contains_key(&v));
    if record.expect != current && !compacted {
        tracing::debug!(key = %record.key, position, "catalog record crossed by an earlier one: ignored");
        return false;
    }
    // The object's previous state goes, whatever its kind was.
    let expected_key = record.key.clone();
    state
        .definitions
        .retain(|name, _| definition_key(name) != expected_key);
    state
        .collections
        .retain(|name, c| c.from_config || collection_key(name) != expected_key);
    match record.value {
        Some(Object::Definition(d)) if definition_key(d.name()) == record.key => {
            state.definitions.insert(d.name().clone(), d);
        }
        // This instance's configuration file names it: the file wins.
        Some(Object::Collection(c))
            if collection_key(&c.name) == record.key
                && !state
                    .collections
                    .get(&c.name)
                    .is_some_and(|l| l.from_config) =>
        {
            let mut c = c;
            c.from_config = false;
            state.collections.insert(c.name.clone(), c);
        }
        Some(Object::Collection(c)) if collection_key(&c.name) == record.key => {}
        Some(_) => {
            tracing::warn!(key = %record.key, position, "catalog record names another object than its key: ignored");
        }
        None => {}
    }
    state.versions.insert(record.key, position);
    true
}

#[cfg(test)]
mod tests;
