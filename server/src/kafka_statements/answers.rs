//! Questions about Kafka tables kafkahouse answers from its catalog and
//! pipelines: DESCRIBE, EXISTS, SHOW CREATE, SHOW TABLES (merged with the
//! backend's), direct SELECTs from a Kafka table, `system.kafka_consumers`
//! and `system.kafka_views`. Uses the catalog, the pipelines, system tables
//! and the backend session.

use catalog::{ChType, Definition, KafkaTableDef, QualifiedName};
use planner::{ObjectName, Setting, Statement};

use super::errors::settings_error;
use super::{KafkaStatements, Session};
use crate::backend::RESULT_FORMAT;
use crate::error::{codes, ChError};
use crate::pipeline::direct_select::DirectAnswer;
use crate::result::{typed_result, Outcome, ResultColumn, ResultSet};

/// The setting that lets a SELECT read a Kafka table directly.
const DIRECT_SELECT: &str = "stream_like_engine_allow_direct_select";

impl KafkaStatements {
    pub(super) fn describe(&self, name: &QualifiedName) -> Option<Outcome> {
        self.kafka_table(name).map(|table| describe(&table))
    }

    pub(super) fn exists(&self, name: &QualifiedName) -> Option<Outcome> {
        self.catalog
            .get(name)
            .map(|_| single("result", ChType::UInt8, "1"))
    }

    pub(super) fn show_create(&self, name: &QualifiedName) -> Option<Outcome> {
        match self.catalog.get(name)? {
            Definition::KafkaTable(table) => {
                Some(single("statement", ChType::String, &table.show_create()))
            }
            Definition::View(view) => Some(single(
                "statement",
                ChType::String,
                &format!(
                    "CREATE MATERIALIZED VIEW {} TO {}\nAS {}",
                    view.name, view.destination, view.select_sql
                ),
            )),
        }
    }

    /// ClickHouse lists Kafka tables and views with the others.
    pub(super) async fn show_tables(
        &self,
        s: &mut Session<'_>,
        statement: &Statement<'_>,
        database: &Option<String>,
    ) -> Result<Option<Outcome>, ChError> {
        let out = s.backend(statement.sql, RESULT_FORMAT).await?;
        let mut result = typed_result(&out.body)?;
        let database = database.clone().unwrap_or_else(|| s.state.database.clone());
        for definition in self.catalog.list() {
            if definition.name().database == database {
                result.rows.push(vec![Some(definition.name().name.clone())]);
            }
        }
        result.rows.sort();
        Ok(Some(Outcome::Rows(result)))
    }

    /// A query reading a Kafka table directly (when allowed),
    /// `system.kafka_consumers` or `system.kafka_views`; `None` for any
    /// other.
    pub(super) async fn query(
        &self,
        s: &mut Session<'_>,
        statement: &Statement<'_>,
        tables: &[ObjectName],
        settings: &[Setting],
    ) -> Result<Option<Outcome>, ChError> {
        if let Some(table) = tables.iter().find_map(|t| self.kafka_table(&s.qualify(t))) {
            if !direct_select_allowed(s, settings) {
                return Err(ChError::new(
                    codes::QUERY_NOT_ALLOWED,
                    "Direct select is not allowed. To enable use setting `stream_like_engine_allow_direct_select`. (QUERY_NOT_ALLOWED)",
                ));
            }
            if tables.len() > 1 {
                return Err(ChError::new(
                    codes::NOT_IMPLEMENTED,
                    "A direct SELECT reads one Kafka table and nothing else",
                ));
            }
            let table_settings = table.settings().map_err(settings_error)?;
            let answer = if s.describing {
                crate::pipeline::direct_select::describe(
                    &table,
                    &table_settings,
                    statement.sql,
                    self.pipelines.parsing(),
                )
                .await?
            } else {
                crate::pipeline::direct_select::run(
                    &table,
                    &table_settings,
                    statement.sql,
                    self.pipelines.parsing(),
                )
                .await?
            };
            let result = match answer {
                DirectAnswer::Batches(batches) => crate::system_tables::to_result(&batches)?,
                DirectAnswer::Text(body) => crate::result::typed_result(&body)?,
            };
            return Ok(Some(Outcome::Rows(result)));
        }
        if crate::system_tables::reads_kafka_consumers(tables) {
            // A FORMAT clause is applied by the frontend's rendering.
            let result = crate::system_tables::query_kafka_consumers(
                planner::without_output_format(statement.sql),
                self.pipelines.all_consumers(),
            )
            .await?;
            return Ok(Some(Outcome::Rows(result)));
        }
        if crate::system_tables::reads_named_collections(tables) {
            let result = crate::system_tables::query_named_collections(
                planner::without_output_format(statement.sql),
                self.catalog.collections(),
            )
            .await?;
            return Ok(Some(Outcome::Rows(result)));
        }
        if crate::system_tables::reads_kafka_views(tables) {
            let mut views = Vec::new();
            for definition in self.catalog.list() {
                if let Definition::View(view) = definition {
                    // A query changes no table: the guarantee is read as the
                    // destination is now (`may_set_window` false).
                    let guarantee = self.guarantee(s, &view, false).await?;
                    views.push((view, guarantee));
                }
            }
            let result = crate::system_tables::query_kafka_views(
                planner::without_output_format(statement.sql),
                views,
            )
            .await?;
            return Ok(Some(Outcome::Rows(result)));
        }
        Ok(None)
    }
}

/// `stream_like_engine_allow_direct_select = 1` in the session (SET) or in
/// the query's own SETTINGS.
fn direct_select_allowed(s: &Session<'_>, settings: &[Setting]) -> bool {
    let on = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    s.state.settings.get(DIRECT_SELECT).is_some_and(|v| on(v))
        || settings
            .iter()
            .any(|setting| setting.name == DIRECT_SELECT && on(&setting.value))
}

/// ClickHouse's DESCRIBE columns for a Kafka table.
fn describe(table: &KafkaTableDef) -> Outcome {
    let names = [
        "name",
        "type",
        "default_type",
        "default_expression",
        "comment",
        "codec_expression",
        "ttl_expression",
    ];
    let rows = table
        .columns
        .iter()
        .map(|c| {
            let mut row = vec![Some(c.name.clone()), Some(c.ty.to_string())];
            row.resize(names.len(), Some(String::new()));
            row
        })
        .collect();
    Outcome::Rows(ResultSet {
        columns: names
            .iter()
            .map(|n| ResultColumn {
                name: n.to_string(),
                ty: Some(ChType::String),
            })
            .collect(),
        rows,
    })
}

fn single(name: &str, ty: ChType, value: &str) -> Outcome {
    Outcome::Rows(ResultSet {
        columns: vec![ResultColumn {
            name: name.to_string(),
            ty: Some(ty),
        }],
        rows: vec![vec![Some(value.to_string())]],
    })
}
