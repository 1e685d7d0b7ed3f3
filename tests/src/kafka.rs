//! What the Kafka test files (`tests/kafka*.rs`) share: a broker with a
//! topic and a kafkahouse on the embedded engine, statements that must
//! succeed, the tutorial's tables and view, and how long to wait for
//! consumption.

use std::time::Duration;

use crate::{error_text, fixture, Broker, Kafkahouse};

/// How long a test waits for consumption before it fails.
pub const WAIT: Duration = Duration::from_secs(70);

/// Runs a statement that must succeed; panics with its error otherwise.
pub async fn run(client: &tokio_postgres::Client, sql: &str) {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}\n  failed: {}", error_text(&e)));
}

/// A broker with one topic and a kafkahouse on the embedded engine.
pub struct Setup {
    pub broker: Broker,
    pub server: Kafkahouse,
    pub client: tokio_postgres::Client,
    pub _dir: tempfile::TempDir,
}

impl Setup {
    /// A broker with `topic` of `partitions` partitions, and a kafkahouse
    /// on the embedded engine with a client connected.
    pub async fn new(topic: &str, partitions: i32) -> Setup {
        let broker = Broker::start();
        broker.create_topic(topic, partitions);
        let dir = tempfile::tempdir().unwrap();
        let server = Kafkahouse::embedded(&dir.path().join("data"));
        let client = server.connect().await;
        Setup {
            broker,
            server,
            client,
            _dir: dir,
        }
    }
}

/// `sql` in 18.16's dialect when `enum8` (`Enum8` for `Enum`).
fn dialect(sql: &str, enum8: bool) -> String {
    if enum8 {
        sql.replace("Enum(", "Enum8(")
    } else {
        sql.to_string()
    }
}

/// The tutorial's steps 2 and 3: the KafkaEngine database, in use, and its
/// `github` table. `enum8` writes the DDL in 18.16's dialect.
pub async fn create_github(client: &tokio_postgres::Client, enum8: bool) {
    run(client, "CREATE DATABASE KafkaEngine;").await;
    run(client, "USE KafkaEngine;").await;
    run(
        client,
        &dialect(&fixture("sql/github_mergetree.sql"), enum8),
    )
    .await;
}

/// The tutorial's steps 2, 3, 5 and 6: the database, the destination, the
/// Kafka table `queue_ddl` and the view. `enum8` writes the DDL in 18.16's
/// dialect (`Enum8` for `Enum`).
pub async fn create_tutorial(client: &tokio_postgres::Client, queue_ddl: &str, enum8: bool) {
    create_github(client, enum8).await;
    run(client, &dialect(queue_ddl, enum8)).await;
    run(
        client,
        "CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue;",
    )
    .await;
}

/// Messages `{"id":N}` for N in `from..to`: the ids pipeline's input.
pub fn id_rows(from: u64, to: u64) -> Vec<String> {
    (from..to).map(|i| format!("{{\"id\":{i}}}")).collect()
}

/// The smallest pipeline: `dest (id UInt64)` MergeTree, Kafka table `q`
/// reading JSONEachRow from `topic` in group `g` (with `settings` as its
/// SETTINGS clause when not empty), and view `mv` from `q` to `dest`.
pub async fn create_ids_pipeline(s: &Setup, topic: &str, settings: &str) {
    run(
        &s.client,
        "CREATE TABLE dest (id UInt64) ENGINE = MergeTree ORDER BY id",
    )
    .await;
    let settings = if settings.is_empty() {
        String::new()
    } else {
        format!(" SETTINGS {settings}")
    };
    run(
        &s.client,
        &format!(
            "CREATE TABLE q (id UInt64) ENGINE = Kafka('{}', '{topic}', 'g', 'JSONEachRow'){settings}",
            s.broker.bootstrap
        ),
    )
    .await;
    run(
        &s.client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT id FROM q",
    )
    .await;
}
