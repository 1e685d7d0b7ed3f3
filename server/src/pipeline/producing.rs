//! Rows going to Kafka tables: `INSERT INTO kafka_table ...` and
//! materialized views `TO kafka_table` that fire when rows are inserted,
//! through kafkahouse, into their source table.
//!
//! Rows are staged in temporary tables of the backend session, so that the
//! backend itself parses the user's values, fills defaults and runs the
//! view's SELECT (ClickHouse semantics throughout); the result is read back
//! in the Kafka table's format and produced.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use catalog::{KafkaTableDef, QualifiedName, ViewDef};

use super::producer::{messages_of_lines, Producers};
use crate::backend::{BackendSession, RESULT_FORMAT};
use crate::error::{codes, ChError};
use crate::executor::quote_identifier;
use crate::session::SessionState;

/// A view whose destination is a Kafka table, with that table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducingView {
    pub view: ViewDef,
    pub table: KafkaTableDef,
}

/// A fresh name for a temporary table of this process.
fn staging_name(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "_kafkahouse_{what}_{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn qualified(name: &QualifiedName) -> String {
    format!(
        "{}.{}",
        quote_identifier(&name.database),
        quote_identifier(&name.name)
    )
}

/// Runs `sql`, then drops the temporary `table` whatever happened.
async fn drop_after<T>(
    conn: &mut dyn BackendSession,
    state: &SessionState,
    table: &str,
    result: Result<T, ChError>,
) -> Result<T, ChError> {
    let dropped = conn
        .execute(
            &format!("DROP TEMPORARY TABLE IF EXISTS {table}"),
            state,
            RESULT_FORMAT,
        )
        .await;
    if let Err(e) = dropped {
        // Temporary: it ends with the session anyway.
        tracing::warn!(table, error = %e, "cannot drop a staging table");
    }
    result
}

/// Runs `insert_sql`, an INSERT whose target (at `target` in the text) is
/// the Kafka table `table`, and produces the rows; returns how many.
pub async fn produce_insert(
    conn: &mut dyn BackendSession,
    state: &SessionState,
    table: &KafkaTableDef,
    insert_sql: &str,
    target: Range<usize>,
    producers: &Producers,
) -> Result<usize, ChError> {
    let settings = table
        .settings()
        .map_err(|e| ChError::new(e.code, e.message))?;
    let staging = staging_name("produce");
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}", quote_identifier(&c.name), c.ty))
        .collect();
    conn.execute(
        &format!("CREATE TEMPORARY TABLE {staging} ({})", columns.join(", ")),
        state,
        RESULT_FORMAT,
    )
    .await?;
    let redirected = format!(
        "{}{staging}{}",
        &insert_sql[..target.start],
        &insert_sql[target.end..]
    );
    let read = async {
        conn.execute(&redirected, state, RESULT_FORMAT).await?;
        conn.execute(
            &format!("SELECT * FROM {staging} FORMAT {}", settings.format),
            state,
            RESULT_FORMAT,
        )
        .await
    }
    .await;
    let body = drop_after(conn, state, &staging, read).await?.body;
    // `_key`, `_timestamp` and `_headers.*` columns of the Kafka table set
    // each message's key, timestamp and headers.
    let with_metadata = settings.format == "JSONEachRow"
        && table.columns.iter().any(|c| {
            matches!(
                c.name.as_str(),
                "_key" | "_timestamp" | "_headers.name" | "_headers.value"
            )
        });
    let (messages, rows) =
        messages_of_lines(&body, settings.max_rows_per_message as usize, with_metadata);
    let count = messages.len();
    producers.send(&settings, messages).await?;
    tracing::debug!(table = %table.name, rows, messages = count, "produced");
    Ok(rows)
}

/// Where rows about to be (or just) inserted into a source table are kept
/// while its producing views run.
pub struct Stage {
    pub name: String,
}

impl Stage {
    /// A temporary table with `source`'s structure (defaults included).
    pub async fn create(
        conn: &mut dyn BackendSession,
        state: &SessionState,
        source: &QualifiedName,
    ) -> Result<Stage, ChError> {
        let name = staging_name("source");
        conn.execute(
            &format!(
                "CREATE TEMPORARY TABLE {name} AS {} ENGINE = Memory",
                qualified(source)
            ),
            state,
            RESULT_FORMAT,
        )
        .await?;
        Ok(Stage { name })
    }

    /// Drops the stage without running anything over it.
    pub async fn drop(self, conn: &mut dyn BackendSession, state: &SessionState) {
        let _ = drop_after(conn, state, &self.name, Ok(())).await;
    }

    /// Runs every view over the staged rows and produces their output, then
    /// drops the stage.
    pub async fn fire_and_drop(
        self,
        conn: &mut dyn BackendSession,
        state: &SessionState,
        source: &QualifiedName,
        views: &[ProducingView],
        producers: &Producers,
    ) -> Result<(), ChError> {
        let fired = async {
            for v in views {
                let select = pointed_at(&v.view.select_sql, source, &self.name);
                let target = "_kafkahouse_target_";
                let sql = format!("INSERT INTO {target} {select}");
                let span = "INSERT INTO ".len().."INSERT INTO ".len() + target.len();
                produce_insert(conn, state, &v.table, &sql, span, producers)
                    .await
                    .map_err(|e| {
                        ChError::new(e.code, format!("view {}: {}", v.view.name, e.message))
                    })?;
            }
            Ok(())
        }
        .await;
        drop_after(conn, state, &self.name, fired).await
    }
}

/// `select` with its references to `source` replaced by `stage`. An
/// unqualified name was resolved to `source` when the view was created, so
/// it still means `source`.
fn pointed_at(select: &str, source: &QualifiedName, stage: &str) -> String {
    let mut out = String::with_capacity(select.len());
    let mut at = 0;
    for (name, span) in planner::table_references(select) {
        let database = name.database.as_deref().unwrap_or(&source.database);
        if database == source.database && name.name == source.name {
            out.push_str(&select[at..span.start]);
            out.push_str(stage);
            at = span.end;
        }
    }
    out.push_str(&select[at..]);
    out
}

/// `CREATE MATERIALIZED VIEW ... TO kafka_table AS SELECT ... FROM t`: the
/// SELECT's columns, as the backend describes them, must all be columns of
/// the Kafka table (ClickHouse's rule for a view's destination).
pub async fn check_producing_view(
    conn: &mut dyn BackendSession,
    state: &SessionState,
    select: &str,
    table: &KafkaTableDef,
) -> Result<(), ChError> {
    let out = conn
        .execute(&format!("DESCRIBE TABLE ({select})"), state, RESULT_FORMAT)
        .await?;
    let described = crate::backend::tsv::parse(&out.body)?;
    for row in described.rows {
        let Some(Some(column)) = row.first() else {
            continue;
        };
        if !table.columns.iter().any(|c| &c.name == column) {
            return Err(ChError::new(
                codes::NO_SUCH_COLUMN_IN_TABLE,
                format!(
                    "No such column {column} in table {} (the view's SELECT produces it)",
                    table.name
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_select_is_pointed_at_the_stage() {
        let source = QualifiedName::new("KafkaEngine", "github");
        assert_eq!(
            pointed_at(
                "SELECT a, b FROM github WHERE a IN (SELECT a FROM other)",
                &source,
                "s1"
            ),
            "SELECT a, b FROM s1 WHERE a IN (SELECT a FROM other)"
        );
        assert_eq!(
            pointed_at("SELECT * FROM KafkaEngine.github", &source, "s1"),
            "SELECT * FROM s1"
        );
        // Another database's table of the same name is left alone.
        assert_eq!(
            pointed_at("SELECT * FROM other_db.github", &source, "s1"),
            "SELECT * FROM other_db.github"
        );
    }
}
