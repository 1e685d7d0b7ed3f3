//! `system.dead_letter_queue`: messages that could not be parsed, from
//! tables with `kafka_handle_error_mode = 'dead_letter_queue'`, with
//! ClickHouse's columns. The rows live in a backend table
//! (`kafkahouse.dead_letter_queue`) so that they survive restarts like the
//! offsets committed past them; queries naming `system.dead_letter_queue`
//! read that table.

use std::time::{SystemTime, UNIX_EPOCH};

use catalog::QualifiedName;

use super::decode::{BadMessage, Message};
use crate::backend::BackendSession;
use crate::error::ChError;
use crate::session::SessionState;

/// Where the rows are kept in the backend.
pub const DATABASE: &str = "kafkahouse";
pub const TABLE: &str = "dead_letter_queue";

/// ClickHouse's columns of system.dead_letter_queue.
const COLUMNS: &str = "table_engine Enum8('Kafka' = 1, 'RabbitMQ' = 2), \
    event_date Date, \
    event_time DateTime, \
    event_time_microseconds DateTime64(6), \
    database LowCardinality(String), \
    `table` LowCardinality(String), \
    error String, \
    raw_message String, \
    kafka_topic_name String, \
    kafka_partition UInt64, \
    kafka_offset UInt64, \
    kafka_key String, \
    rabbitmq_exchange_name String, \
    rabbitmq_message_id String, \
    rabbitmq_message_timestamp DateTime, \
    rabbitmq_message_redelivered UInt8, \
    rabbitmq_message_delivery_tag UInt64, \
    rabbitmq_channel_id String";

/// Creates the table if it is missing.
pub async fn ensure_table(session: &mut dyn BackendSession) -> Result<(), ChError> {
    let state = SessionState::new("default");
    session
        .execute(
            &format!("CREATE DATABASE IF NOT EXISTS {DATABASE}"),
            &state,
            "TabSeparated",
        )
        .await?;
    session
        .execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {DATABASE}.{TABLE} ({COLUMNS}) \
                 ENGINE = MergeTree PARTITION BY event_date ORDER BY (event_time, database, `table`)"
            ),
            &state,
            "TabSeparated",
        )
        .await?;
    Ok(())
}

/// The dead letter rows of a block's broken messages, as JSONEachRow.
pub fn rows(
    table: &QualifiedName,
    topic: &str,
    partition: i32,
    messages: &[Message],
    bad: &[BadMessage],
) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let micros = now.as_micros();
    let seconds = now.as_secs();
    let mut out = Vec::new();
    for b in bad {
        let Some(m) = messages.get(b.index) else {
            continue;
        };
        let row = serde_json::json!({
            "table_engine": "Kafka",
            "event_date": seconds / 86_400,
            "event_time": seconds,
            "event_time_microseconds": format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000),
            "database": table.database,
            "table": table.name,
            "error": b.error,
            "raw_message": String::from_utf8_lossy(&m.payload),
            "kafka_topic_name": topic,
            "kafka_partition": partition.max(0),
            "kafka_offset": m.offset.max(0),
            "kafka_key": m.key.as_deref().map(String::from_utf8_lossy).unwrap_or_default(),
        });
        out.extend_from_slice(row.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Inserts rows made by `rows`.
pub async fn insert(session: &mut dyn BackendSession, rows: Vec<u8>) -> Result<(), ChError> {
    session
        .insert(
            &format!(
                "INSERT INTO {DATABASE}.{TABLE} (table_engine, event_date, event_time, event_time_microseconds, database, `table`, error, raw_message, kafka_topic_name, kafka_partition, kafka_offset, kafka_key)"
            ),
            "JSONEachRow",
            rows,
            &SessionState::new("default"),
        )
        .await?;
    Ok(())
}

/// `sql` with each `system.dead_letter_queue` it reads pointed at the
/// backend table; `None` when it reads none.
pub fn redirect(sql: &str) -> Option<String> {
    let mut found: Vec<std::ops::Range<usize>> = planner::table_references(sql)
        .into_iter()
        .filter(|(name, _)| {
            name.database.as_deref() == Some("system") && name.name == "dead_letter_queue"
        })
        .map(|(_, span)| span)
        .collect();
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(sql.len() + 16);
    let mut last = 0;
    for span in found {
        out.push_str(&sql[last..span.start]);
        out.push_str(&format!("{DATABASE}.{TABLE}"));
        last = span.end;
    }
    out.push_str(&sql[last..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_of_the_system_table_read_the_backend_table() {
        assert_eq!(
            redirect("SELECT count() FROM system.dead_letter_queue WHERE table = 'q'").as_deref(),
            Some("SELECT count() FROM kafkahouse.dead_letter_queue WHERE table = 'q'")
        );
        assert_eq!(redirect("SELECT * FROM system.tables"), None);
    }

    #[test]
    fn rows_carry_the_message() {
        let messages = [Message {
            payload: b"{oops".to_vec(),
            key: Some(b"k".to_vec()),
            offset: 7,
            timestamp_ms: None,
            headers: Vec::new(),
        }];
        let bad = [BadMessage {
            index: 0,
            error: "Cannot parse".into(),
        }];
        let name = QualifiedName {
            database: "default".into(),
            name: "q".into(),
        };
        let text = String::from_utf8(rows(&name, "t", 2, &messages, &bad)).unwrap();
        let row: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(row["raw_message"], "{oops");
        assert_eq!(row["kafka_offset"], 7);
        assert_eq!(row["kafka_partition"], 2);
        assert_eq!(row["kafka_key"], "k");
        assert_eq!(row["table"], "q");
    }
}
