//! Rows going to Kafka tables: `INSERT INTO kafka_table ...` and
//! materialized views `TO kafka_table` that fire when rows are inserted,
//! through kafkahouse, into their source table.
//!
//! Rows are staged in temporary tables of the backend session, so that the
//! backend itself parses the user's values, fills defaults and runs the
//! view's SELECT (ClickHouse semantics throughout); the result is read back
//! in the Kafka table's format and produced.

use std::ops::Range;

use arrow::array::RecordBatch;
use std::sync::atomic::{AtomicU64, Ordering};

use catalog::kafka::KafkaSettings;
use catalog::{KafkaTableDef, QualifiedName};

use super::decode::framing::Framing;
use super::producer::{messages_of_rows, metadata_of, OutMessage, Producers};
use super::sink::encode_batch;
use crate::backend::{BackendSession, InsertFormat, RESULT_FORMAT};
use crate::error::{codes, ChError};
use crate::session::SessionState;
use catalog::quote;

pub use catalog::ProducingView;

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
        quote::identifier(&name.database),
        quote::identifier(&name.name)
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

/// Where the rows of an INSERT kafkahouse runs itself come from.
pub enum InsertSource<'a> {
    /// An INSERT statement (VALUES, FORMAT with its data, SELECT) whose
    /// target table is at `target` in the text.
    Sql { sql: &'a str, target: Range<usize> },
    /// Data a client sent in `format` for the columns `columns_sql`
    /// (`(a, b)`): Native blocks of the native protocol.
    Data {
        columns_sql: &'a str,
        format: &'a str,
        data: Vec<u8>,
    },
}

impl InsertSource<'_> {
    /// Puts the rows into the staging table `stage`.
    pub async fn fill(
        self,
        conn: &mut dyn BackendSession,
        state: &SessionState,
        stage: &str,
    ) -> Result<Option<u64>, ChError> {
        match self {
            InsertSource::Sql { sql, target } => {
                let redirected = format!("{}{stage}{}", &sql[..target.start], &sql[target.end..]);
                Ok(conn
                    .execute(&redirected, state, RESULT_FORMAT)
                    .await?
                    .written_rows)
            }
            InsertSource::Data {
                columns_sql,
                format,
                data,
            } => Ok(conn
                .insert(
                    &format!("INSERT INTO {stage} {columns_sql}"),
                    format,
                    data,
                    state,
                )
                .await?
                .written_rows),
        }
    }
}

/// Puts the rows of `source` (an INSERT into the Kafka table `table`) into
/// a staging table and produces them; returns how many.
pub async fn produce_insert(
    conn: &mut dyn BackendSession,
    state: &SessionState,
    table: &KafkaTableDef,
    source: InsertSource<'_>,
    producers: &Producers,
) -> Result<usize, ChError> {
    let settings = table
        .settings()
        .map_err(|e| ChError::new(e.code, e.message))?;
    let staging = staging_name("produce");
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} {}", quote::identifier(&c.name), c.ty))
        .collect();
    conn.execute(
        &format!("CREATE TEMPORARY TABLE {staging} ({})", columns.join(", ")),
        state,
        RESULT_FORMAT,
    )
    .await?;
    // `_key`, `_timestamp` and `_headers.*` columns of the Kafka table set
    // each message's key, timestamp and headers, whatever its format.
    let metadata: Vec<&str> = table
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|name| {
            matches!(
                *name,
                "_key" | "_timestamp" | "_headers.name" | "_headers.value"
            )
        })
        .collect();
    let with_metadata = !metadata.is_empty();
    let read = async {
        source.fill(conn, state, &staging).await?;
        let in_rows = settings.format == "JSONEachRow";
        let (mut messages, rows) =
            render_messages(conn, state, &staging, &settings, with_metadata && in_rows).await?;
        // Other formats: the metadata read on its own, a message's from its
        // last row, as JSONEachRow's come from its rows.
        if with_metadata && !in_rows {
            let columns: Vec<String> = metadata.iter().map(|c| quote::identifier(c)).collect();
            let body = conn
                .execute(
                    &format!(
                        "SELECT {} FROM {staging} FORMAT JSONEachRow",
                        columns.join(", ")
                    ),
                    state,
                    RESULT_FORMAT,
                )
                .await?
                .body;
            let lines: Vec<&[u8]> = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            let per_message = (settings.max_rows_per_message as usize).max(1);
            for (i, message) in messages.iter_mut().enumerate() {
                let last = ((i + 1) * per_message).min(lines.len());
                if let Some(row) = last.checked_sub(1).and_then(|l| lines.get(l)) {
                    metadata_of(row, message);
                }
            }
        }
        Ok::<_, ChError>((messages, rows))
    }
    .await;
    let (messages, rows) = drop_after(conn, state, &staging, read).await?;
    let count = messages.len();
    producers.send(&settings, messages).await?;
    tracing::debug!(table = %table.name, rows, messages = count, "produced");
    Ok(rows)
}

/// The staged rows as messages in the table's format, at most
/// `kafka_max_rows_per_message` rows each. Row text formats are rendered
/// once and cut into rows (a WithNames header opens every message); other
/// formats (Avro, Protobuf, MsgPack, RawBLOB...) are rendered per message,
/// so each message is a complete document of its own.
async fn render_messages(
    conn: &mut dyn BackendSession,
    state: &SessionState,
    staging: &str,
    settings: &KafkaSettings,
    with_metadata: bool,
) -> Result<(Vec<OutMessage>, usize), ChError> {
    let format = &settings.format;
    let per_message = (settings.max_rows_per_message as usize).max(1);
    let framing = Framing::of(format);
    let select = |tail: String| format!("SELECT * FROM {staging}{tail} FORMAT {format}");
    if matches!(framing, Framing::Lines { .. }) {
        let body = conn
            .execute(&select(String::new()), state, RESULT_FORMAT)
            .await?
            .body;
        if let Some((header, rows)) = framing.split_rows(&body) {
            return Ok(messages_of_rows(header, &rows, per_message, with_metadata));
        }
    }
    let counted = conn
        .execute(
            &format!("SELECT count() FROM {staging}"),
            state,
            "TabSeparated",
        )
        .await?;
    let rows: usize = String::from_utf8_lossy(&counted.body)
        .trim()
        .parse()
        .map_err(|_| ChError::new(codes::UNKNOWN_EXCEPTION, "cannot count the rows to produce"))?;
    let mut messages = Vec::with_capacity(rows.div_ceil(per_message));
    // A temporary Memory table reads back in insertion order.
    for offset in (0..rows).step_by(per_message) {
        let body = conn
            .execute(
                &select(format!(" LIMIT {per_message} OFFSET {offset}")),
                state,
                RESULT_FORMAT,
            )
            .await?
            .body;
        messages.push(OutMessage {
            payload: body,
            ..OutMessage::default()
        });
    }
    Ok((messages, rows))
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

    /// A temporary table with the Kafka table `table`'s columns and
    /// virtual columns (with `_raw_message` and `_error` when
    /// `stream_errors`), for its blocks.
    pub async fn for_kafka_table(
        conn: &mut dyn BackendSession,
        state: &SessionState,
        table: &KafkaTableDef,
        stream_errors: bool,
    ) -> Result<Stage, ChError> {
        let name = staging_name("block");
        let columns: Vec<String> =
            planner::engine_sql::source_columns(&table.columns, stream_errors)
                .iter()
                .map(|(n, t)| format!("{} {t}", quote::identifier(n)))
                .collect();
        conn.execute(
            &format!(
                "CREATE TEMPORARY TABLE {name} ({}) ENGINE = Memory",
                columns.join(", ")
            ),
            state,
            RESULT_FORMAT,
        )
        .await?;
        Ok(Stage { name })
    }

    /// A stage holding `block`, a decoded block of the Kafka table `table`,
    /// inserted in the backend's `format`.
    pub async fn holding_block(
        conn: &mut dyn BackendSession,
        state: &SessionState,
        table: &KafkaTableDef,
        block: &RecordBatch,
        format: InsertFormat,
    ) -> Result<Stage, ChError> {
        let schema = block.schema();
        let stream_errors = schema.field_with_name("_error").is_ok();
        let stage = Self::for_kafka_table(conn, state, table, stream_errors).await?;
        // The block's columns are the stage's, in its order.
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| quote::identifier(f.name()))
            .collect();
        let staged = match encode_batch(block, format) {
            Ok((format, data)) => {
                let insert = format!("INSERT INTO {} ({})", stage.name, names.join(", "));
                conn.insert(&insert, format, data, state).await
            }
            Err(e) => Err(e),
        };
        match staged {
            Ok(_) => Ok(stage),
            Err(e) => {
                stage.drop(conn, state).await;
                Err(e)
            }
        }
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
            for view in views {
                self.fire(conn, state, source, view, producers).await?;
            }
            Ok(())
        }
        .await;
        drop_after(conn, state, &self.name, fired).await
    }

    /// Runs `view` (reading `source`) over the staged rows and produces its
    /// output; the stage stays.
    pub async fn fire(
        &self,
        conn: &mut dyn BackendSession,
        state: &SessionState,
        source: &QualifiedName,
        view: &ProducingView,
        producers: &Producers,
    ) -> Result<(), ChError> {
        let select = pointed_at(&view.view.select_sql, source, &self.name);
        let target = "_kafkahouse_target_";
        let sql = format!("INSERT INTO {target} {select}");
        let span = "INSERT INTO ".len().."INSERT INTO ".len() + target.len();
        let rows = InsertSource::Sql {
            sql: &sql,
            target: span,
        };
        produce_insert(conn, state, &view.table, rows, producers)
            .await
            .map(|_| ())
            .map_err(|e| ChError::new(e.code, format!("view {}: {}", view.view.name, e.message)))
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

/// `CREATE MATERIALIZED VIEW ... TO kafka_table AS SELECT ... FROM
/// kafka_source`: the SELECT is checked over an empty stage with the source's
/// columns and virtual columns, as it will run over each block.
pub async fn check_view_between_kafka_tables(
    conn: &mut dyn BackendSession,
    state: &SessionState,
    select: &str,
    source: &KafkaTableDef,
    stream_errors: bool,
    destination: &KafkaTableDef,
) -> Result<(), ChError> {
    let stage = Stage::for_kafka_table(conn, state, source, stream_errors).await?;
    let pointed = pointed_at(select, &source.name, &stage.name);
    let checked = check_producing_view(conn, state, &pointed, destination)
        .await
        .map_err(|e| ChError::new(e.code, e.message.replace(&stage.name, &source.name.name)));
    drop_after(conn, state, &stage.name, checked).await
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
