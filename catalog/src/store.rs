//! The persistent catalog: Kafka tables, the views that read them, and the
//! named collections Kafka tables take their settings from.
//!
//! It is the only truth about these objects (ARCHITECTURE.md, invariant 5):
//! every change is on disk before the call that made it returns.

mod config_collections;
mod errors;

pub use errors::CatalogError;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::types::ChType;

/// `database.name`, as ClickHouse resolves it (names are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    pub database: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(database: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.database, self.name)
    }
}

/// One column of a table definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ChType,
}

/// A table with `ENGINE = Kafka`: where to read, and how rows look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaTableDef {
    pub name: QualifiedName,
    pub columns: Vec<ColumnDef>,
    /// Engine settings by ClickHouse name (`kafka_broker_list`, ...), the
    /// positional engine arguments included.
    pub settings: BTreeMap<String, String>,
    /// `false` between `DETACH TABLE` and `ATTACH TABLE`.
    pub attached: bool,
    /// `ENGINE = Kafka(collection, ...)`: how the table was written, for
    /// `SHOW CREATE TABLE` (`settings` holds what it resolved to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<CollectionUse>,
}

/// A Kafka table written with a named collection: its name, the overrides
/// in the engine's parentheses and the SETTINGS clause, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionUse {
    pub name: String,
    pub overrides: Vec<(String, String)>,
    pub settings: Vec<(String, String)>,
}

impl KafkaTableDef {
    /// The engine settings with ClickHouse's defaults applied.
    pub fn settings(&self) -> Result<crate::kafka::KafkaSettings, crate::kafka::SettingsError> {
        crate::kafka::KafkaSettings::resolve(&self.settings)
    }

    /// `SHOW CREATE TABLE`: the definition in ClickHouse's normal form, with
    /// secret settings hidden.
    pub fn show_create(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("    {} {}", crate::quote::identifier(&c.name), c.ty))
            .collect();
        let shown = |(k, v): (&String, &String)| {
            let shown = if crate::kafka::SECRET_SETTINGS.contains(&k.as_str()) {
                "[HIDDEN]".to_string()
            } else {
                crate::kafka::without_url_password(v)
            };
            format!("{k} = {}", crate::quote::string(&shown))
        };
        let head = format!(
            "CREATE TABLE {}.{}\n(\n{}\n)\n",
            self.name.database,
            self.name.name,
            columns.join(",\n"),
        );
        // Written with a collection: shown as written, as ClickHouse shows it
        // (the collection's own values stay in the collection).
        if let Some(used) = &self.collection {
            let plain = used
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && used
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            let name = if plain {
                used.name.clone()
            } else {
                crate::quote::identifier(&used.name)
            };
            let mut engine = vec![name];
            engine.extend(used.overrides.iter().map(|(k, v)| shown((k, v))));
            let mut out = format!("{head}ENGINE = Kafka({})", engine.join(", "));
            if !used.settings.is_empty() {
                let settings: Vec<String> =
                    used.settings.iter().map(|(k, v)| shown((k, v))).collect();
                out.push_str(&format!("\nSETTINGS {}", settings.join(", ")));
            }
            return out;
        }
        let settings: Vec<String> = self.settings.iter().map(shown).collect();
        format!("{head}ENGINE = Kafka\nSETTINGS {}", settings.join(", "))
    }
}

/// A materialized view: `CREATE MATERIALIZED VIEW name TO destination AS select`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDef {
    pub name: QualifiedName,
    pub source: QualifiedName,
    pub destination: QualifiedName,
    /// The SELECT as the user wrote it (never re-serialised).
    pub select_sql: String,
    /// The engine that runs the SELECT, chosen at CREATE.
    #[serde(default)]
    pub engine: crate::ViewEngine,
}

/// Anything the catalog holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Definition {
    KafkaTable(KafkaTableDef),
    View(ViewDef),
}

impl Definition {
    pub fn name(&self) -> &QualifiedName {
        match self {
            Definition::KafkaTable(t) => &t.name,
            Definition::View(v) => &v.name,
        }
    }
}

/// `CREATE NAMED COLLECTION name AS key = value, ...`: settings kept under a
/// name (global, not in a database) for `ENGINE = Kafka(name)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCollection {
    pub name: String,
    pub params: BTreeMap<String, String>,
    /// Keys a table may not override (`NOT OVERRIDABLE`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub not_overridable: std::collections::BTreeSet<String>,
    /// Defined in kafkahouse's configuration file: immutable to queries,
    /// replaced from the file at every start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_config: bool,
}

#[derive(Serialize, Deserialize)]
struct CatalogFile {
    version: u32,
    definitions: Vec<Definition>,
    /// Absent in catalogs written before named collections existed.
    #[serde(default)]
    named_collections: Vec<NamedCollection>,
}

const FILE_NAME: &str = "catalog.json";
const FORMAT_VERSION: u32 = 1;

/// Definitions kept in memory and mirrored to `<dir>/catalog.json`.
#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    state: RwLock<State>,
}

/// Everything the catalog file holds; swapped whole on every change.
#[derive(Debug, Clone, Default)]
struct State {
    definitions: BTreeMap<QualifiedName, Definition>,
    collections: BTreeMap<String, NamedCollection>,
}

impl Catalog {
    /// Opens the catalog in `dir`, creating the directory when missing.
    pub fn open(dir: &Path) -> Result<Catalog, CatalogError> {
        fs::create_dir_all(dir).map_err(|source| CatalogError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let state = match fs::read(&path) {
            Ok(bytes) => {
                let file: CatalogFile =
                    serde_json::from_slice(&bytes).map_err(|source| CatalogError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                State {
                    definitions: file
                        .definitions
                        .into_iter()
                        .map(|d| (d.name().clone(), d))
                        .collect(),
                    collections: file
                        .named_collections
                        .into_iter()
                        .map(|c| (c.name.clone(), c))
                        .collect(),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(source) => return Err(CatalogError::Read { path, source }),
        };
        tracing::debug!(path = %path.display(), count = state.definitions.len(), "catalog opened");
        Ok(Catalog {
            path,
            state: RwLock::new(state),
        })
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
                .insert(definition.name().clone(), definition);
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
                .insert(definition.name().clone(), definition);
            Ok(())
        })
    }

    /// Removes a definition and returns it.
    pub fn remove(&self, name: &QualifiedName) -> Result<Definition, CatalogError> {
        let mut removed = None;
        self.change(|state| {
            removed = Some(
                state
                    .definitions
                    .remove(name)
                    .ok_or_else(|| CatalogError::NotFound(name.clone()))?,
            );
            Ok(())
        })?;
        removed.ok_or_else(|| CatalogError::NotFound(name.clone()))
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
                .insert(collection.name.clone(), collection);
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

    /// Applies `f` to a copy of the state, writes the copy to disk, and only
    /// then makes it the catalog's state.
    fn change(
        &self,
        f: impl FnOnce(&mut State) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut state = self.write();
        let mut next = state.clone();
        f(&mut next)?;
        self.persist(&next)?;
        *state = next;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed
        // (it is swapped whole), so a poisoned lock is still consistent.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the whole file to a temporary name, syncs it and renames it over
    /// the old one, so a crash leaves either the old or the new catalog.
    fn persist(&self, state: &State) -> Result<(), CatalogError> {
        let write_err = |source| CatalogError::Write {
            path: self.path.clone(),
            source,
        };
        let file = CatalogFile {
            version: FORMAT_VERSION,
            definitions: state.definitions.values().cloned().collect(),
            named_collections: state.collections.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| write_err(e.into()))?;
        let tmp = self.path.with_extension("json.tmp");
        {
            // Engine settings can hold a SASL password: owner-only file.
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(write_err)?;
            f.write_all(&bytes).map_err(write_err)?;
            f.sync_all().map_err(write_err)?;
        }
        fs::rename(&tmp, &self.path).map_err(write_err)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(write_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Definition {
        Definition::KafkaTable(KafkaTableDef {
            name: QualifiedName::new("KafkaEngine", name),
            columns: vec![ColumnDef {
                name: "labels".into(),
                ty: ChType::parse("Array(LowCardinality(String))").unwrap(),
            }],
            settings: BTreeMap::from([
                (
                    "kafka_broker_list".to_string(),
                    "localhost:9092".to_string(),
                ),
                ("kafka_topic_list".to_string(), "github".to_string()),
            ]),
            attached: true,
            collection: None,
        })
    }

    #[test]
    fn definitions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        catalog.create(table("github_queue")).unwrap();
        catalog
            .create(Definition::View(ViewDef {
                name: QualifiedName::new("KafkaEngine", "github_mv"),
                source: QualifiedName::new("KafkaEngine", "github_queue"),
                destination: QualifiedName::new("KafkaEngine", "github"),
                select_sql: "SELECT * FROM github_queue".into(),
                engine: crate::ViewEngine::ClickHouse,
            }))
            .unwrap();
        drop(catalog);

        let reopened = Catalog::open(dir.path()).unwrap();
        assert_eq!(reopened.list().len(), 2);
        assert_eq!(
            reopened.get(&QualifiedName::new("KafkaEngine", "github_queue")),
            Some(table("github_queue"))
        );
    }

    #[test]
    fn duplicate_and_missing_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        catalog.create(table("q")).unwrap();
        assert!(matches!(
            catalog.create(table("q")),
            Err(CatalogError::AlreadyExists(_))
        ));
        let missing = QualifiedName::new("KafkaEngine", "nope");
        assert!(matches!(
            catalog.remove(&missing),
            Err(CatalogError::NotFound(_))
        ));
        catalog
            .remove(&QualifiedName::new("KafkaEngine", "q"))
            .unwrap();
        assert!(Catalog::open(dir.path()).unwrap().list().is_empty());
    }

    #[test]
    fn replace_flips_attachment_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        catalog.create(table("q")).unwrap();
        let Definition::KafkaTable(mut t) = table("q") else {
            unreachable!()
        };
        t.attached = false;
        catalog.replace(Definition::KafkaTable(t)).unwrap();
        let reopened = Catalog::open(dir.path()).unwrap();
        match reopened.get(&QualifiedName::new("KafkaEngine", "q")) {
            Some(Definition::KafkaTable(t)) => assert!(!t.attached),
            other => panic!("got {other:?}"),
        }
    }

    #[test]
    fn show_create_hides_the_sasl_password() {
        let Definition::KafkaTable(mut t) = table("q") else {
            unreachable!()
        };
        t.settings
            .insert("kafka_sasl_password".into(), "hunter2".into());
        let shown = t.show_create();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("kafka_sasl_password = '[HIDDEN]'"),
            "{shown}"
        );
        assert!(
            shown.contains("`labels` Array(LowCardinality(String))"),
            "{shown}"
        );
    }

    #[test]
    fn named_collections_survive_reopening_and_alter() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let params = BTreeMap::from([
            ("kafka_broker_list".to_string(), "b:9092".to_string()),
            ("kafka_format".to_string(), "CSV".to_string()),
        ]);
        catalog
            .create_collection(NamedCollection {
                name: "kc".into(),
                params: params.clone(),
                ..Default::default()
            })
            .unwrap();
        assert!(matches!(
            catalog.create_collection(NamedCollection {
                name: "kc".into(),
                params: BTreeMap::new(),
                ..Default::default()
            }),
            Err(CatalogError::CollectionExists(_))
        ));
        catalog
            .alter_collection(
                "kc",
                &[("kafka_format".into(), "JSONEachRow".into())],
                &["kafka_broker_list".into()],
                &[],
            )
            .unwrap();
        let reopened = Catalog::open(dir.path()).unwrap();
        let kc = reopened.collection("kc").unwrap();
        assert_eq!(
            kc.params,
            BTreeMap::from([("kafka_format".to_string(), "JSONEachRow".to_string())])
        );
        reopened.drop_collection("kc").unwrap();
        assert!(matches!(
            reopened.drop_collection("kc"),
            Err(CatalogError::NoCollection(_))
        ));
    }

    #[test]
    fn a_catalog_without_named_collections_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(FILE_NAME),
            br#"{"version":1,"definitions":[]}"#,
        )
        .unwrap();
        assert!(Catalog::open(dir.path()).unwrap().collection("x").is_none());
    }

    #[test]
    fn a_corrupt_file_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        assert!(matches!(
            Catalog::open(dir.path()),
            Err(CatalogError::Corrupt { .. })
        ));
    }
}
