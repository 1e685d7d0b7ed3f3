//! Kafka tables' life: CREATE (positional, SETTINGS or a named collection),
//! DROP, DETACH/ATTACH, DROP DATABASE, and `SYSTEM SYNC KAFKA`. Each change
//! is persisted in the catalog before it answers, then the pipelines are
//! reconciled with it. Uses the catalog, the pipelines and the backend
//! session (for names the backend holds).

use catalog::kafka::{
    check_columns, merge_collection_settings, merge_engine_settings, KafkaSettings,
};
use catalog::{quote, ChType, ColumnDef, Definition, KafkaTableDef, QualifiedName};
use planner::{CreateKafkaTable, ObjectName, Statement};

use super::errors::{already_exists, catalog_error, no_collection, settings_error, unknown_table};
use super::{KafkaStatements, Session};
use crate::backend::RESULT_FORMAT;
use crate::error::{codes, ChError};
use crate::result::{done, Outcome};

/// `SYSTEM SYNC KAFKA` without TIMEOUT waits this long (ClickHouse's
/// `receive_timeout`, which bounds its own SYSTEM SYNC statements).
const SYNC_TIMEOUT_SECONDS: u64 = 300;

impl KafkaStatements {
    pub(super) async fn create_kafka_table(
        &self,
        s: &mut Session<'_>,
        ddl: &CreateKafkaTable,
    ) -> Result<Outcome, ChError> {
        let name = s.qualify(&ddl.name);
        if self.catalog.get(&name).is_some() || backend_has_table(s, &name).await? {
            if ddl.if_not_exists {
                return Ok(done("CREATE TABLE", None));
            }
            return Err(already_exists(&name));
        }
        check_database(s, &name.database).await?;
        refuse_column_expressions(ddl)?;

        let mut columns = Vec::with_capacity(ddl.columns.len());
        for (column, type_text) in &ddl.columns {
            if columns.iter().any(|c: &ColumnDef| &c.name == column) {
                return Err(ChError::new(
                    codes::DUPLICATE_COLUMN,
                    format!("Column {column} is specified more than once"),
                ));
            }
            let ty = ChType::parse(type_text).map_err(|e| {
                let code = if e.too_deep {
                    codes::TOO_DEEP_RECURSION
                } else {
                    codes::UNKNOWN_TYPE
                };
                ChError::new(code, e.to_string())
            })?;
            columns.push(ColumnDef {
                name: column.clone(),
                ty,
            });
        }
        let pairs: Vec<(String, String)> = ddl
            .settings
            .iter()
            .map(|s| (s.name.clone(), s.value.clone()))
            .collect();
        let settings = match &ddl.collection {
            Some((collection, overrides)) => {
                // Read once, when the table is created (see the README).
                let found = self
                    .catalog
                    .collection(collection)
                    .ok_or_else(|| no_collection(collection))?;
                let overrides: Vec<(String, String)> = overrides
                    .iter()
                    .map(|s| (s.name.clone(), s.value.clone()))
                    .collect();
                // A NOT OVERRIDABLE key may be given neither in the engine's
                // arguments nor in SETTINGS, as in ClickHouse.
                if let Some((key, _)) = overrides
                    .iter()
                    .chain(&pairs)
                    .find(|(key, _)| found.not_overridable.contains(key))
                {
                    return Err(ChError::new(
                        codes::BAD_ARGUMENTS,
                        format!("Override not allowed for '{key}'"),
                    ));
                }
                let params = found.params;
                merge_collection_settings(&params, &overrides, &pairs)
            }
            None => merge_engine_settings(&ddl.engine_args, &pairs),
        }
        .map_err(settings_error)?;
        let resolved = KafkaSettings::resolve(&settings).map_err(settings_error)?;
        let typed: Vec<(&str, &ChType)> =
            columns.iter().map(|c| (c.name.as_str(), &c.ty)).collect();
        check_columns(&resolved.format, &typed).map_err(settings_error)?;
        self.catalog
            .create(Definition::KafkaTable(KafkaTableDef {
                name: name.clone(),
                columns,
                settings,
                attached: true,
                collection: ddl.collection.as_ref().map(|(collection, overrides)| {
                    catalog::CollectionUse {
                        name: collection.clone(),
                        overrides: overrides
                            .iter()
                            .map(|s| (s.name.clone(), s.value.clone()))
                            .collect(),
                        settings: pairs.clone(),
                    }
                }),
            }))
            .map_err(catalog_error)?;
        tracing::info!(table = %name, topics = ?resolved.topics, group = %resolved.group_name, "Kafka table created");
        self.pipelines.reconcile().await;
        Ok(done("CREATE TABLE", None))
    }

    /// `DROP TABLE | VIEW` of a Kafka table or one of kafkahouse's views.
    pub(super) async fn drop(
        &self,
        s: &mut Session<'_>,
        name: &QualifiedName,
    ) -> Result<Option<Outcome>, ChError> {
        let Some(definition) = self.catalog.get(name) else {
            return Ok(None);
        };
        s.check_writable()?;
        self.catalog.remove(name).map_err(catalog_error)?;
        self.pipelines.reconcile().await;
        tracing::info!(name = %name, "dropped");
        Ok(Some(done(
            match definition {
                Definition::KafkaTable(_) => "DROP TABLE",
                Definition::View(_) => "DROP VIEW",
            },
            None,
        )))
    }

    /// `DROP DATABASE`: the backend drops its tables; the catalog drops
    /// kafkahouse's after it.
    pub(super) async fn drop_database(
        &self,
        s: &mut Session<'_>,
        statement: &Statement<'_>,
        database: &str,
    ) -> Result<Option<Outcome>, ChError> {
        s.backend(statement.sql, RESULT_FORMAT).await?;
        for definition in self.catalog.list() {
            if definition.name().database == database {
                self.catalog
                    .remove(definition.name())
                    .map_err(catalog_error)?;
            }
        }
        self.pipelines.reconcile().await;
        Ok(Some(done("DROP DATABASE", None)))
    }

    /// `DETACH | ATTACH TABLE` of a Kafka table: consumption stops or starts,
    /// the definition stays.
    pub(super) async fn set_attached(
        &self,
        s: &mut Session<'_>,
        name: &QualifiedName,
        attached: bool,
    ) -> Result<Option<Outcome>, ChError> {
        let Some(mut table) = self.kafka_table(name) else {
            return Ok(None);
        };
        s.check_writable()?;
        let tag = if attached {
            "ATTACH TABLE"
        } else {
            "DETACH TABLE"
        };
        if table.attached != attached {
            table.attached = attached;
            self.catalog
                .replace(Definition::KafkaTable(table))
                .map_err(catalog_error)?;
            // On DETACH this returns once the consumers have finished (and
            // committed) the block they were writing.
            self.pipelines.reconcile().await;
            tracing::info!(table = %name, attached, "Kafka table {}", if attached { "attached" } else { "detached" });
        }
        Ok(Some(done(tag, None)))
    }

    /// `SYSTEM SYNC KAFKA q [TIMEOUT n]`: returns once every message in the
    /// table's topics as of the call is inserted through every view and
    /// committed; `Code: 159` when that takes longer than the timeout.
    pub(super) async fn sync_kafka(
        &self,
        s: &mut Session<'_>,
        name: &ObjectName,
        timeout_seconds: Option<u64>,
    ) -> Result<Outcome, ChError> {
        let name = s.qualify(name);
        let table = self
            .kafka_table(&name)
            .ok_or_else(|| unknown_table(&name, "Kafka table"))?;
        if !self.pipelines.is_consuming(&name).await {
            let why = if table.attached {
                "has no materialized view reading it"
            } else {
                "is detached"
            };
            return Err(ChError::new(
                codes::BAD_ARGUMENTS,
                format!("SYSTEM SYNC KAFKA {name}: the table {why}, so nothing consumes it"),
            ));
        }
        let settings = table.settings().map_err(settings_error)?;
        let timeout =
            std::time::Duration::from_secs(timeout_seconds.unwrap_or(SYNC_TIMEOUT_SECONDS));
        let pipelines = self.pipelines.clone();
        crate::pipeline::sync::wait_caught_up(&name.to_string(), &settings, timeout, || {
            pipelines.last_exception(&name)
        })
        .await?;
        Ok(done("SYSTEM SYNC KAFKA", None))
    }
}

/// Whether the backend has a table (or view) named `name`.
pub(super) async fn backend_has_table(
    s: &mut Session<'_>,
    name: &QualifiedName,
) -> Result<bool, ChError> {
    let sql = format!(
        "EXISTS TABLE {}",
        quote::qualified(&name.database, &name.name)
    );
    let out = s.backend(&sql, "TabSeparated").await?;
    Ok(String::from_utf8_lossy(&out.body).trim() == "1")
}

/// ClickHouse's error when `database` does not exist in the backend.
async fn check_database(s: &mut Session<'_>, database: &str) -> Result<(), ChError> {
    let sql = format!(
        "SELECT count() FROM system.databases WHERE name = {}",
        quote::string(database)
    );
    let out = s.backend(&sql, "TabSeparated").await?;
    if String::from_utf8_lossy(&out.body).trim() == "1" {
        Ok(())
    } else {
        Err(ChError::new(
            codes::UNKNOWN_DATABASE,
            format!("Database {database} does not exist. (UNKNOWN_DATABASE)"),
        ))
    }
}

/// ClickHouse refuses DEFAULT, MATERIALIZED and EPHEMERAL columns on Kafka
/// tables (since 23.3: a DEFAULT was applied by the format's parser only,
/// inconsistently), with this error. It accepts ALIAS columns, computed
/// when read; kafkahouse does not compute them yet and says so, rather than
/// reading the column from the message.
fn refuse_column_expressions(ddl: &CreateKafkaTable) -> Result<(), ChError> {
    use planner::ColumnExpression;
    if ddl
        .expressions
        .iter()
        .any(|(_, e)| *e != ColumnExpression::Alias)
    {
        return Err(ChError::new(
            codes::BAD_ARGUMENTS,
            "KafkaEngine doesn't support DEFAULT/MATERIALIZED/EPHEMERAL expressions for columns. \
             See https://clickhouse.com/docs/en/engines/table-engines/integrations/kafka/#configuration",
        ));
    }
    if let Some((column, _)) = ddl.expressions.first() {
        return Err(ChError::new(
            codes::NOT_IMPLEMENTED,
            format!(
                "ALIAS columns of Kafka tables are not supported by kafkahouse yet (column {column}): \
                 compute the value in the materialized view's SELECT instead"
            ),
        ));
    }
    Ok(())
}
