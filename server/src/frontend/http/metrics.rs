//! `GET /metrics`: every Prometheus metric in OpenMetrics text, the events
//! kafkahouse counts as they happen (`crate::metrics`) and every consumer's
//! state read at scrape time from the status `system.kafka_consumers` reads
//! too (lag and committed offset per partition, messages and rows, broken
//! messages, commits, restarts, the newest exception's time), every
//! instance's with a shared catalog.
//!
//! Uses prometheus-client, the metrics' events and the consumers' status.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use catalog::QualifiedName;

use crate::metrics::events;
use crate::pipeline::status::ConsumerState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    database: String,
    table: String,
    instance: String,
    consumer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    database: String,
    table: String,
    topic: String,
    partition: i32,
    instance: String,
}

/// The OpenMetrics text of every metric, with `consumers` (every
/// instance's, as `system.kafka_consumers` lists them).
pub(super) fn render(consumers: &[(String, QualifiedName, ConsumerState)]) -> String {
    let mut registry = Registry::with_prefix("kafkahouse");
    let e = events();
    registry.register(
        "insert_seconds",
        "Time to insert one block through every view of a Kafka table",
        e.insert_seconds.clone(),
    );
    registry.register(
        "commit_seconds",
        "Time to commit one block's offsets",
        e.commit_seconds.clone(),
    );
    registry.register(
        "connections",
        "Client connections accepted, by frontend",
        e.connections.clone(),
    );
    registry.register(
        "queries",
        "Statements received, by frontend",
        e.queries.clone(),
    );

    let lag = Family::<PartitionLabels, Gauge>::default();
    let committed = Family::<PartitionLabels, Gauge>::default();
    let read = Family::<ConsumerLabels, Counter>::default();
    let written = Family::<ConsumerLabels, Counter>::default();
    let broken = Family::<ConsumerLabels, Counter>::default();
    let commits = Family::<ConsumerLabels, Counter>::default();
    let restarts = Family::<ConsumerLabels, Counter>::default();
    let bytes = Family::<ConsumerLabels, Counter>::default();
    let rebalances = Family::<ConsumerLabels, Counter>::default();
    let last_exception = Family::<ConsumerLabels, Gauge>::default();
    let running = Family::<ConsumerLabels, Gauge>::default();
    for (instance, table, c) in consumers {
        let labels = ConsumerLabels {
            database: table.database.clone(),
            table: table.name.clone(),
            instance: instance.clone(),
            consumer: c.consumer_id.clone(),
        };
        read.get_or_create(&labels).inc_by(c.num_messages_read);
        written.get_or_create(&labels).inc_by(c.rows_written);
        broken.get_or_create(&labels).inc_by(c.broken_messages);
        commits.get_or_create(&labels).inc_by(c.num_commits);
        restarts.get_or_create(&labels).inc_by(c.restarts);
        bytes.get_or_create(&labels).inc_by(c.bytes_read);
        rebalances.get_or_create(&labels).inc_by(c.rebalances);
        running.get_or_create(&labels).set(i64::from(c.running));
        if let Some((time, _)) = c.exceptions.back() {
            last_exception.get_or_create(&labels).set(*time);
        }
        for ((topic, partition), p) in &c.assignments {
            let labels = PartitionLabels {
                database: table.database.clone(),
                table: table.name.clone(),
                topic: topic.clone(),
                partition: *partition,
                instance: instance.clone(),
            };
            lag.get_or_create(&labels).set(p.lag.max(0));
            committed.get_or_create(&labels).set(p.committed_offset);
        }
    }
    registry.register(
        "consumer_lag",
        "Messages in a partition past the group's committed offset",
        lag,
    );
    registry.register(
        "committed_offset",
        "The group's committed offset of a partition (-1: none)",
        committed,
    );
    registry.register("messages_read", "Messages read by a consumer", read);
    registry.register(
        "rows_written",
        "Rows written to destinations by a consumer",
        written,
    );
    registry.register(
        "broken_messages",
        "Messages that could not be parsed",
        broken,
    );
    registry.register("commits", "Offset commits of a consumer", commits);
    registry.register(
        "consumer_restarts",
        "Times a consumer was started again after failing",
        restarts,
    );
    registry.register(
        "last_exception_time",
        "Unix time of a consumer's newest exception",
        last_exception,
    );
    registry.register("consumer_running", "1 while a consumer runs", running);
    registry.register("bytes_read", "Payload bytes of the messages read", bytes);
    registry.register(
        "rebalances",
        "Partition assignments and revocations a consumer saw",
        rebalances,
    );
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{connected, insert_took};
    use crate::pipeline::status::PartitionState;
    use std::time::Duration;

    #[test]
    fn consumers_and_events_render_as_openmetrics() {
        let table = QualifiedName::new("db", "q");
        let mut state = ConsumerState {
            consumer_id: "c-0".into(),
            num_messages_read: 10,
            rows_written: 9,
            broken_messages: 1,
            ..ConsumerState::default()
        };
        state.assignments.insert(
            ("t".into(), 3),
            PartitionState {
                committed_offset: 7,
                lag: 2,
            },
        );
        insert_took(&table, Duration::from_millis(3));
        connected("pg");
        let text = render(&[("i1".into(), table, state)]);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains(r#"kafkahouse_consumer_lag{database="db",table="q",topic="t",partition="3",instance="i1"} 2"#),
            "{text}"
        );
        assert!(text.contains("kafkahouse_messages_read_total{"), "{text}");
        assert!(
            text.contains("kafkahouse_insert_seconds_count{database=\"db\",table=\"q\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kafkahouse_connections_total{frontend=\"pg\"} 1"),
            "{text}"
        );
    }
}
