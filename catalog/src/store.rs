//! The persistent catalog: Kafka tables, the views that read them, and the
//! named collections Kafka tables take their settings from.
//!
//! It is the only truth about these objects (ARCHITECTURE.md, invariant 5):
//! every change is durable before the call that made it returns, in a file
//! of this instance's own (`file.rs`) or in a log that several instances
//! share (`shared.rs`). Uses serde and this crate's definitions.

mod config_collections;
mod definitions;
mod errors;
mod file;
pub mod shared;

pub use definitions::{
    CollectionUse, ColumnDef, Definition, KafkaTableDef, NamedCollection, QualifiedName, ViewDef,
};
pub use errors::CatalogError;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// Definitions kept in memory, made durable by `store`.
pub struct Catalog {
    store: Store,
    state: RwLock<State>,
    /// Shared catalogs: one change of this instance in flight at a time.
    issuing: Mutex<()>,
    /// Shared catalogs: the next log position to apply, and waiters on it.
    applied: Mutex<u64>,
    applied_changed: Condvar,
    /// Called after a change made elsewhere is applied (pipelines follow).
    listeners: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("store", &self.store)
            .finish()
    }
}

/// Where changes are made durable.
#[derive(Debug)]
enum Store {
    /// `<dir>/catalog.json`, rewritten whole on every change; secrets
    /// sealed with `key` when there is one.
    File {
        path: PathBuf,
        key: Option<crate::sealing::SecretKey>,
    },
    /// A log that every instance appends to and follows.
    Shared(Arc<dyn shared::Journal>),
}

/// Everything the catalog holds; swapped whole on every change.
#[derive(Debug, Clone, Default)]
struct State {
    definitions: BTreeMap<QualifiedName, Definition>,
    collections: BTreeMap<String, NamedCollection>,
    /// Shared catalogs: the log position that last set each object.
    versions: BTreeMap<String, u64>,
    /// Shared catalogs: every log position seen (a missing one was
    /// compacted away), and whether its record applied.
    received: HashMap<u64, bool>,
}

impl Catalog {
    fn with_store(store: Store, state: State) -> Catalog {
        Catalog {
            store,
            state: RwLock::new(state),
            issuing: Mutex::new(()),
            applied: Mutex::new(0),
            applied_changed: Condvar::new(),
            listeners: Mutex::new(Vec::new()),
        }
    }

    /// Runs `listener` after every change this instance did not make itself
    /// has been applied.
    pub fn on_change(&self, listener: Box<dyn Fn() + Send + Sync>) {
        lock(&self.listeners).push(listener);
    }

    pub fn get(&self, name: &QualifiedName) -> Option<Definition> {
        self.read().definitions.get(name).cloned()
    }

    pub fn list(&self) -> Vec<Definition> {
        self.read().definitions.values().cloned().collect()
    }

    /// Adds a definition; fails when the name is taken.
    pub fn create(&self, definition: Definition) -> Result<(), CatalogError> {
        self.change(|state| {
            if state.definitions.contains_key(definition.name()) {
                return Err(CatalogError::AlreadyExists(definition.name().clone()));
            }
            state
                .definitions
                .insert(definition.name().clone(), definition.clone());
            Ok(())
        })
    }

    /// Replaces an existing definition (ATTACH/DETACH flip `attached`).
    pub fn replace(&self, definition: Definition) -> Result<(), CatalogError> {
        self.change(|state| {
            if !state.definitions.contains_key(definition.name()) {
                return Err(CatalogError::NotFound(definition.name().clone()));
            }
            state
                .definitions
                .insert(definition.name().clone(), definition.clone());
            Ok(())
        })
    }

    /// Removes a definition and returns it.
    pub fn remove(&self, name: &QualifiedName) -> Result<Definition, CatalogError> {
        let removed = self
            .get(name)
            .ok_or_else(|| CatalogError::NotFound(name.clone()))?;
        self.change(|state| {
            state
                .definitions
                .remove(name)
                .map(|_| ())
                .ok_or_else(|| CatalogError::NotFound(name.clone()))
        })?;
        Ok(removed)
    }

    pub fn collection(&self, name: &str) -> Option<NamedCollection> {
        self.read().collections.get(name).cloned()
    }

    /// Every named collection, by name.
    pub fn collections(&self) -> Vec<NamedCollection> {
        self.read().collections.values().cloned().collect()
    }

    /// Adds a named collection; fails when the name is taken.
    pub fn create_collection(&self, collection: NamedCollection) -> Result<(), CatalogError> {
        self.change(|state| {
            if state.collections.contains_key(&collection.name) {
                return Err(CatalogError::CollectionExists(collection.name.clone()));
            }
            state
                .collections
                .insert(collection.name.clone(), collection.clone());
            Ok(())
        })
    }

    /// Changes a named collection: `set` keys are added or replaced, then
    /// `delete` keys removed.
    pub fn alter_collection(
        &self,
        name: &str,
        set: &[(String, String)],
        delete: &[String],
        not_overridable: &[String],
    ) -> Result<(), CatalogError> {
        self.change(|state| {
            let collection = state
                .collections
                .get_mut(name)
                .ok_or_else(|| CatalogError::NoCollection(name.to_string()))?;
            for (key, value) in set {
                collection.params.insert(key.clone(), value.clone());
                if not_overridable.contains(key) {
                    collection.not_overridable.insert(key.clone());
                } else {
                    collection.not_overridable.remove(key);
                }
            }
            for key in delete {
                collection.params.remove(key);
                collection.not_overridable.remove(key);
            }
            Ok(())
        })
    }

    /// Drops collection `name`, unless a Kafka table (attached or not) was
    /// created from it: its definition names the collection.
    pub fn drop_collection(&self, name: &str) -> Result<(), CatalogError> {
        self.change(|state| {
            let users = |attached: bool| -> Vec<String> {
                state
                    .definitions
                    .values()
                    .filter_map(|d| match d {
                        Definition::KafkaTable(t) => Some(t),
                        Definition::View(_) => None,
                    })
                    .filter(|t| t.attached == attached)
                    .filter(|t| t.collection.as_ref().is_some_and(|c| c.name == name))
                    .map(|t| t.name.to_string())
                    .collect()
            };
            for (attached, tables) in [(true, users(true)), (false, users(false))] {
                if !tables.is_empty() {
                    return Err(CatalogError::CollectionInUse {
                        name: name.to_string(),
                        tables,
                        detached: !attached,
                    });
                }
            }
            state
                .collections
                .remove(name)
                .map(|_| ())
                .ok_or_else(|| CatalogError::NoCollection(name.to_string()))
        })
    }

    /// Applies `f` to a copy of the state, makes the copy durable, and only
    /// then makes it the catalog's state. In a shared catalog `f` may run
    /// more than once: again after a change made elsewhere at the same time.
    fn change(
        &self,
        f: impl Fn(&mut State) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        match &self.store {
            Store::File { path, key } => {
                let mut state = self.write();
                let mut next = state.clone();
                f(&mut next)?;
                file::persist(path, key.as_ref(), &next)?;
                *state = next;
                Ok(())
            }
            Store::Shared(journal) => self.change_shared(journal.as_ref(), f),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed
        // (it is swapped whole), so a poisoned lock is still consistent.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// A plain-data lock, still consistent after a panic elsewhere.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
