//! What the catalog holds: Kafka tables, views and named collections, and
//! how a Kafka table is shown by `SHOW CREATE TABLE`. Uses serde, the types
//! and the Kafka settings of this crate.

use std::collections::BTreeMap;

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
