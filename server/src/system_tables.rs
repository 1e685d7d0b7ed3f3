//! `system.kafka_consumers`: ClickHouse's table of Kafka consumers, answered
//! by kafkahouse (which runs them), with a lag column ClickHouse lacks; and
//! `system.kafka_views`, kafkahouse's own: each materialized view it runs
//! with its delivery guarantee and why; `system.named_collections`,
//! kafkahouse's collections with their values hidden, as ClickHouse shows
//! them by default. Queries over them run in DataFusion on a snapshot. Uses
//! the pipeline's consumer status and guarantee, the catalog's collections
//! and the result types.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, ListBuilder, MapBuilder, RecordBatch,
    StringBuilder, TimestampSecondArray, TimestampSecondBuilder, UInt64Array, UInt8Array,
};
use arrow::datatypes::{
    DataType, Field, Int32Type, Int64Type, Schema, TimeUnit, UInt64Type, UInt8Type,
};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use sqlparser::tokenizer::Token;

use catalog::{ChType, NamedCollection, QualifiedName, ViewDef};
use planner::ObjectName;

use crate::error::{codes, ChError};
use crate::pipeline::guarantee::Guarantee;
use crate::pipeline::status::ConsumerState;
use crate::result::{ResultColumn, ResultSet};

/// Whether a query reads `system.kafka_consumers`.
pub fn reads_kafka_consumers(tables: &[ObjectName]) -> bool {
    reads(tables, "kafka_consumers")
}

/// Whether a query reads `system.kafka_views`.
pub fn reads_kafka_views(tables: &[ObjectName]) -> bool {
    reads(tables, "kafka_views")
}

fn reads(tables: &[ObjectName], name: &str) -> bool {
    tables
        .iter()
        .any(|t| t.database.as_deref() == Some("system") && t.name == name)
}

/// Columns whose ClickHouse names hold a dot; unquoted `a.b` in a query
/// means them, not table `a`'s column `b`.
const DOTTED: [&str; 6] = [
    "assignments.topic",
    "assignments.partition_id",
    "assignments.current_offset",
    "assignments.lag",
    "exceptions.time",
    "exceptions.text",
];

/// Runs `sql` over a snapshot of the consumers.
pub async fn query_kafka_consumers(
    sql: &str,
    consumers: Vec<(String, QualifiedName, ConsumerState)>,
) -> Result<ResultSet, ChError> {
    let batch = snapshot(&consumers).map_err(internal)?;
    run(&quote_dotted(sql), "kafka_consumers", batch).await
}

/// Runs `sql` over the views kafkahouse runs, each with its guarantee.
pub async fn query_kafka_views(
    sql: &str,
    views: Vec<(ViewDef, Guarantee)>,
) -> Result<ResultSet, ChError> {
    let batch = views_snapshot(&views).map_err(internal)?;
    run(sql, "kafka_views", batch).await
}

/// Whether a query reads `system.named_collections`.
pub fn reads_named_collections(tables: &[ObjectName]) -> bool {
    reads(tables, "named_collections")
}

/// Runs `sql` over kafkahouse's named collections: `name`, and
/// `collection` as a Map of each key to `[HIDDEN]` (ClickHouse shows values
/// only with `show_named_collections_secrets`, which kafkahouse never does:
/// a collection holds brokers' passwords).
pub async fn query_named_collections(
    sql: &str,
    collections: Vec<NamedCollection>,
) -> Result<ResultSet, ChError> {
    let mut names = StringBuilder::new();
    let mut maps = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for collection in &collections {
        names.append_value(&collection.name);
        for key in collection.params.keys() {
            maps.keys().append_value(key);
            maps.values().append_value("[HIDDEN]");
        }
        maps.append(true).map_err(internal)?;
    }
    let names: ArrayRef = Arc::new(names.finish());
    let maps: ArrayRef = Arc::new(maps.finish());
    let schema = Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("collection", maps.data_type().clone(), false),
    ]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![names, maps]).map_err(internal)?;
    run(sql, "named_collections", batch).await
}

/// Runs `sql` in DataFusion with `batch` as `system.<name>`.
async fn run(sql: &str, name: &str, batch: RecordBatch) -> Result<ResultSet, ChError> {
    // `arr[i]` out of range is the type's default in ClickHouse, not NULL.
    let defaults = planner::functions::with_subscript_defaults(sql);
    let sql = defaults.as_deref().unwrap_or(sql);
    let mut config = SessionConfig::new().with_target_partitions(1);
    config.options_mut().sql_parser.enable_ident_normalization = false;
    let ctx = SessionContext::new_with_config(config);
    // ClickHouse's functions with their meaning (`length` of an array is
    // its elements, not the length of its text).
    planner::functions::register(&ctx);
    if let Some(catalog) = ctx.catalog("datafusion") {
        catalog
            .register_schema("system", Arc::new(MemorySchemaProvider::new()))
            .map_err(internal)?;
    }
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(internal)?;
    ctx.register_table(TableReference::partial("system", name), Arc::new(table))
        .map_err(internal)?;
    let frame = ctx
        .sql(sql)
        .await
        .map_err(|e| ChError::new(codes::SYNTAX_ERROR, format!("system.{name}: {e}")))?;
    // An empty answer still has its columns (a client shows the header).
    let schema = frame.schema().inner().clone();
    let batches = frame.collect().await.map_err(internal)?;
    result_of(&schema, &batches)
}

/// `assignments.lag` → `"assignments.lag"`, so DataFusion reads one column.
fn quote_dotted(sql: &str) -> String {
    let tokens = planner::tokens::significant(sql);
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    let mut i = 0;
    while i < tokens.len() {
        if let (Some(a), Some(dot), Some(b)) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
        {
            if let (Some(x), Token::Period, Some(y)) = (a.name(), &dot.token, b.name()) {
                let name = format!("{x}.{y}");
                if DOTTED.contains(&name.as_str()) {
                    out.push_str(&sql[last..a.start]);
                    out.push_str(&format!("\"{name}\""));
                    last = b.end;
                    i += 3;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&sql[last..]);
    out
}

fn snapshot(
    consumers: &[(String, QualifiedName, ConsumerState)],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let strings = || ListBuilder::new(StringBuilder::new());
    let mut database = StringBuilder::new();
    let mut table = StringBuilder::new();
    let mut consumer_id = StringBuilder::new();
    let mut topics = strings();
    let mut partitions = ListBuilder::new(Int32Builder::new());
    let mut offsets = ListBuilder::new(Int64Builder::new());
    let mut lags = ListBuilder::new(Int64Builder::new());
    let mut exception_times = ListBuilder::new(TimestampSecondBuilder::new());
    let mut exception_texts = strings();
    let mut last_poll = Vec::new();
    let mut read = Vec::new();
    let mut last_commit = Vec::new();
    let mut commits = Vec::new();
    let mut written = Vec::new();
    let mut broken = Vec::new();
    for (_, name, c) in consumers {
        database.append_value(&name.database);
        table.append_value(&name.name);
        consumer_id.append_value(&c.consumer_id);
        for ((topic, partition), state) in &c.assignments {
            topics.values().append_value(topic);
            partitions.values().append_value(*partition);
            offsets.values().append_value(state.committed_offset);
            lags.values().append_value(state.lag);
        }
        topics.append(true);
        partitions.append(true);
        offsets.append(true);
        lags.append(true);
        for (time, text) in &c.exceptions {
            exception_times.values().append_value(*time);
            exception_texts.values().append_value(text);
        }
        exception_times.append(true);
        exception_texts.append(true);
        last_poll.push(c.last_poll_time);
        read.push(c.num_messages_read);
        last_commit.push(c.last_commit_time);
        commits.push(c.num_commits);
        written.push(c.rows_written);
        broken.push(c.broken_messages);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("database", Arc::new(database.finish())),
        ("table", Arc::new(table.finish())),
        ("consumer_id", Arc::new(consumer_id.finish())),
        ("assignments.topic", Arc::new(topics.finish())),
        ("assignments.partition_id", Arc::new(partitions.finish())),
        ("assignments.current_offset", Arc::new(offsets.finish())),
        ("assignments.lag", Arc::new(lags.finish())),
        ("exceptions.time", Arc::new(exception_times.finish())),
        ("exceptions.text", Arc::new(exception_texts.finish())),
        (
            "last_poll_time",
            Arc::new(TimestampSecondArray::from(last_poll)),
        ),
        ("num_messages_read", Arc::new(UInt64Array::from(read))),
        (
            "last_commit_time",
            Arc::new(TimestampSecondArray::from(last_commit)),
        ),
        ("num_commits", Arc::new(UInt64Array::from(commits))),
        ("rows_written", Arc::new(UInt64Array::from(written))),
        ("broken_messages", Arc::new(UInt64Array::from(broken))),
        (
            "is_currently_used",
            Arc::new(UInt8Array::from(
                consumers
                    .iter()
                    .map(|(_, _, c)| u8::from(c.running))
                    .collect::<Vec<_>>(),
            )),
        ),
        // kafkahouse's own: how often the consumer was started over after
        // failing (ClickHouse has no such column).
        (
            "restarts",
            Arc::new(UInt64Array::from(
                consumers
                    .iter()
                    .map(|(_, _, c)| c.restarts)
                    .collect::<Vec<_>>(),
            )),
        ),
        // kafkahouse's own: the instance that runs the consumer (with a
        // shared catalog, every instance's consumers are listed).
        (
            "instance",
            Arc::new(arrow::array::StringArray::from(
                consumers
                    .iter()
                    .map(|(i, _, _)| i.as_str())
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
}

/// `system.kafka_views`: one row per view, every column a String.
fn views_snapshot(views: &[(ViewDef, Guarantee)]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let column = |value: &dyn Fn(&ViewDef, &Guarantee) -> String| -> ArrayRef {
        let mut b = StringBuilder::new();
        for (view, guarantee) in views {
            b.append_value(value(view, guarantee));
        }
        Arc::new(b.finish())
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("database", column(&|v, _| v.name.database.clone())),
        ("name", column(&|v, _| v.name.name.clone())),
        ("source", column(&|v, _| v.source.to_string())),
        ("destination", column(&|v, _| v.destination.to_string())),
        ("guarantee", column(&|_, g| g.name().to_string())),
        ("reason", column(&|_, g| g.reason().to_string())),
        ("engine", column(&|v, _| v.engine.name().to_string())),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
}

/// Arrow results as ClickHouse-typed text.
pub(crate) fn to_result(batches: &[RecordBatch]) -> Result<ResultSet, ChError> {
    let Some(first) = batches.first() else {
        return Ok(ResultSet::default());
    };
    result_of(&first.schema(), batches)
}

/// `batches` of `schema` as ClickHouse-typed text.
fn result_of(schema: &Schema, batches: &[RecordBatch]) -> Result<ResultSet, ChError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| ResultColumn {
            name: f.name().clone(),
            ty: Some(clickhouse_type(f.data_type())),
        })
        .collect();
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| text(c, row, false))
                    .collect(),
            );
        }
    }
    Ok(ResultSet { columns, rows })
}

fn clickhouse_type(data_type: &DataType) -> ChType {
    match data_type {
        DataType::UInt8 => ChType::UInt8,
        // A comparison, which ClickHouse answers as UInt8 (DataFusion's
        // booleans come from comparisons and predicates).
        DataType::Boolean => ChType::UInt8,
        DataType::Int32 => ChType::Int32,
        DataType::Int64 => ChType::Int64,
        DataType::UInt64 => ChType::UInt64,
        DataType::Timestamp(TimeUnit::Second, _) => ChType::DateTime { timezone: None },
        DataType::Timestamp(unit, _) => ChType::DateTime64 {
            precision: match unit {
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                _ => 9,
            },
            timezone: None,
        },
        DataType::List(item) => ChType::Array(Box::new(clickhouse_type(item.data_type()))),
        DataType::Map(..) => ChType::Map(Box::new(ChType::String), Box::new(ChType::String)),
        _ => ChType::String,
    }
}

/// One value as ClickHouse prints it; inside arrays, strings and times are
/// quoted.
fn text(array: &dyn Array, row: usize, quoted: bool) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let quote = |s: String| {
        if quoted {
            catalog::quote::string(&s)
        } else {
            s
        }
    };
    Some(match array.data_type() {
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::Boolean => u8::from(array.as_boolean().value(row)).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Utf8 => quote(array.as_string::<i32>().value(row).to_string()),
        DataType::Timestamp(TimeUnit::Second, _) => {
            let seconds = array
                .as_primitive::<arrow::datatypes::TimestampSecondType>()
                .value(row);
            quote(
                chrono::DateTime::from_timestamp(seconds, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
            )
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            let parts: Vec<String> = (0..items.len())
                .map(|i| text(items.as_ref(), i, true).unwrap_or_else(|| "NULL".into()))
                .collect();
            format!("[{}]", parts.join(","))
        }
        // DateTime64 as ClickHouse prints it: `2020-01-01 00:00:01.000`.
        DataType::Timestamp(unit, _) => {
            let (per_second, digits) = match unit {
                TimeUnit::Millisecond => (1_000i64, 3),
                TimeUnit::Microsecond => (1_000_000, 6),
                _ => (1_000_000_000, 9),
            };
            let ticks = arrow::compute::cast(&array.slice(row, 1), &DataType::Int64).ok()?;
            let t = ticks.as_primitive::<Int64Type>().value(0);
            let time = chrono::DateTime::from_timestamp(t.div_euclid(per_second), 0)?;
            let fraction = t.rem_euclid(per_second);
            quote(format!(
                "{}.{fraction:0digits$}",
                time.format("%Y-%m-%d %H:%M:%S")
            ))
        }
        // `{'k':'v'}`, as ClickHouse prints a Map.
        DataType::Map(..) => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let parts: Vec<String> = (0..entries.len())
                .map(|i| {
                    let key = text(keys.as_ref(), i, true).unwrap_or_else(|| "NULL".into());
                    let value = text(values.as_ref(), i, true).unwrap_or_else(|| "NULL".into());
                    format!("{key}:{value}")
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        _ => arrow::util::display::array_value_to_string(array, row).unwrap_or_default(),
    })
}

fn internal(e: impl std::fmt::Display) -> ChError {
    ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::status::PartitionState;

    fn consumers() -> Vec<(String, QualifiedName, ConsumerState)> {
        let mut state = ConsumerState {
            consumer_id: "kafkahouse-db.q-0".into(),
            num_messages_read: 10,
            num_commits: 2,
            ..ConsumerState::default()
        };
        state.assignments.insert(
            ("github".into(), 0),
            PartitionState {
                committed_offset: 7,
                lag: 3,
            },
        );
        state.exceptions.push_back((0, "it's broken".into()));
        vec![("i1".into(), QualifiedName::new("db", "q"), state)]
    }

    #[tokio::test]
    async fn star_and_dotted_columns() {
        let all = query_kafka_consumers("SELECT * FROM system.kafka_consumers", consumers())
            .await
            .unwrap();
        assert_eq!(all.rows.len(), 1);
        assert_eq!(all.columns[3].name, "assignments.topic");
        assert_eq!(all.rows[0][3].as_deref(), Some("['github']"));
        let picked = query_kafka_consumers(
            "SELECT table, assignments.lag, exceptions.text FROM system.kafka_consumers WHERE database = 'db'",
            consumers(),
        )
        .await
        .unwrap();
        assert_eq!(
            picked.rows,
            vec![vec![
                Some("q".into()),
                Some("[3]".into()),
                Some("['it\\'s broken']".into())
            ]]
        );
        assert_eq!(
            picked.columns[1].ty,
            Some(ChType::Array(Box::new(ChType::Int64)))
        );
        // Out of range, an element is its type's default, as in ClickHouse.
        let last = query_kafka_consumers(
            "SELECT exceptions.text[-1], exceptions.text[5], assignments.lag[9] FROM system.kafka_consumers",
            consumers(),
        )
        .await
        .unwrap();
        assert_eq!(
            last.rows,
            vec![vec![
                Some("it's broken".into()),
                Some(String::new()),
                Some("0".into())
            ]]
        );
    }

    #[tokio::test]
    async fn views_with_their_guarantee() {
        let view = |name: &str, destination: &str| ViewDef {
            name: QualifiedName::new("db", name),
            source: QualifiedName::new("db", "queue"),
            destination: QualifiedName::new("db", destination),
            select_sql: "SELECT * FROM queue".into(),
            engine: if name == "b_mv" {
                catalog::ViewEngine::ClickHouse
            } else {
                catalog::ViewEngine::DataFusion
            },
        };
        let views = || {
            vec![
                (view("a_mv", "a"), Guarantee::ExactlyOnce),
                (
                    view("b_mv", "b"),
                    Guarantee::AtLeastOnce {
                        reason: "db.b is Memory (no deduplication)".into(),
                    },
                ),
            ]
        };
        let all = query_kafka_views("SELECT * FROM system.kafka_views ORDER BY name", views())
            .await
            .unwrap();
        let names: Vec<&str> = all.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "database",
                "name",
                "source",
                "destination",
                "guarantee",
                "reason",
                "engine"
            ]
        );
        assert_eq!(all.rows[0][6].as_deref(), Some("DataFusion"));
        assert_eq!(all.rows[1][6].as_deref(), Some("ClickHouse"));
        assert_eq!(all.rows[0][4].as_deref(), Some("exactly_once"));
        assert_eq!(all.rows[0][5].as_deref(), Some(""));
        let picked = query_kafka_views(
            "SELECT name, reason FROM system.kafka_views WHERE guarantee = 'at_least_once'",
            views(),
        )
        .await
        .unwrap();
        assert_eq!(
            picked.rows,
            vec![vec![
                Some("b_mv".into()),
                Some("db.b is Memory (no deduplication)".into())
            ]]
        );
        assert_eq!(picked.columns[1].ty, Some(ChType::String));
    }
}
