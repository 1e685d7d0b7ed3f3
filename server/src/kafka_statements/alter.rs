//! Online changes of a Kafka table's settings: `ALTER TABLE q MODIFY SETTING
//! k = v, ...` and `RESET SETTING k, ...` (which ClickHouse's engine lacks:
//! there it is DROP and CREATE), and `ALTER NAMED COLLECTION` reaching the
//! tables made from the collection (where ClickHouse waits for a DETACH and
//! ATTACH). The new definition is checked as CREATE checks it, persisted,
//! and only that table's consumers restart: they finish the block they are
//! writing and commit it, and the new ones resume from the group's offsets.
//! Uses the catalog, the pipelines and the Kafka settings.

use catalog::kafka::{
    check_columns, merge_collection_settings, merge_engine_settings, KafkaSettings,
};
use catalog::{ChType, Definition, KafkaTableDef, QualifiedName};
use planner::Setting;

use super::errors::{catalog_error, no_collection, settings_error};
use super::{KafkaStatements, Session};
use crate::error::{codes, ChError};
use crate::result::{done, Outcome};

impl KafkaStatements {
    /// `ALTER TABLE name MODIFY | RESET SETTING ...` of a Kafka table;
    /// `None` for any other table (the backend's).
    pub(super) async fn alter_settings(
        &self,
        s: &mut Session<'_>,
        name: &QualifiedName,
        modify: &[Setting],
        reset: &[String],
    ) -> Result<Option<Outcome>, ChError> {
        let Some(mut table) = self.kafka_table(name) else {
            return Ok(None);
        };
        s.check_writable()?;
        let pairs: Vec<(String, String)> = modify
            .iter()
            .map(|s| (s.name.clone(), s.value.clone()))
            .collect();
        // Names are checked as CREATE checks them (Code 115 for unknown ones).
        let reset_pairs: Vec<(String, String)> =
            reset.iter().map(|k| (k.clone(), String::new())).collect();
        merge_engine_settings(&[], &pairs).map_err(settings_error)?;
        merge_engine_settings(&[], &reset_pairs).map_err(settings_error)?;
        match &mut table.collection {
            Some(used) => {
                let collection = self
                    .catalog
                    .collection(&used.name)
                    .ok_or_else(|| no_collection(&used.name))?;
                if let Some((key, _)) = pairs
                    .iter()
                    .find(|(key, _)| collection.not_overridable.contains(key))
                {
                    return Err(ChError::new(
                        codes::BAD_ARGUMENTS,
                        format!("Override not allowed for '{key}'"),
                    ));
                }
                used.settings
                    .retain(|(k, _)| !reset.contains(k) && !pairs.iter().any(|(p, _)| p == k));
                used.overrides.retain(|(k, _)| !reset.contains(k));
                used.settings.extend(pairs.iter().cloned());
                table.settings =
                    merge_collection_settings(&collection.params, &used.overrides, &used.settings)
                        .map_err(settings_error)?;
            }
            None => {
                for key in reset {
                    table.settings.remove(key);
                }
                table.settings.extend(pairs.iter().cloned());
            }
        }
        check_table(&table)?;
        self.catalog
            .replace(Definition::KafkaTable(table))
            .map_err(catalog_error)?;
        // Only this table's consumers restart (its spec changed).
        self.pipelines.reconcile().await;
        let keys: Vec<&str> = pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(reset.iter().map(String::as_str))
            .collect();
        tracing::info!(table = %name, ?keys, "Kafka table settings changed");
        Ok(Some(done("ALTER TABLE", None)))
    }

    /// The Kafka tables made from collection `name`, with their settings
    /// resolved again from `params`; an error names the first table the
    /// new collection would break (then nothing changes).
    pub(super) fn tables_of_collection(
        &self,
        name: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<KafkaTableDef>, ChError> {
        let mut tables = Vec::new();
        for definition in self.catalog.list() {
            let Definition::KafkaTable(mut table) = definition else {
                continue;
            };
            let Some(used) = &table.collection else {
                continue;
            };
            if used.name != name {
                continue;
            }
            table.settings = merge_collection_settings(params, &used.overrides, &used.settings)
                .and_then(|settings| {
                    KafkaSettings::resolve(&settings)?;
                    Ok(settings)
                })
                .map_err(|e| {
                    ChError::new(
                        e.code,
                        format!(
                            "Named collection `{name}` would not suit table {}: {}",
                            table.name, e.message
                        ),
                    )
                })?;
            check_table(&table)?;
            tables.push(table);
        }
        Ok(tables)
    }
}

/// The checks CREATE makes: settings that resolve, columns the format takes.
fn check_table(table: &KafkaTableDef) -> Result<(), ChError> {
    let resolved = KafkaSettings::resolve(&table.settings).map_err(settings_error)?;
    let typed: Vec<(&str, &ChType)> = table
        .columns
        .iter()
        .map(|c| (c.name.as_str(), &c.ty))
        .collect();
    check_columns(&resolved.format, &typed).map_err(settings_error)
}
