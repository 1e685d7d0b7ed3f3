//! ClickHouse to Kafka: INSERT INTO a Kafka table produces its rows (with
//! keys, timestamps and headers from virtual columns), and views into Kafka
//! tables forward what their source receives, read back from the broker.

use std::time::Duration;

use kafkahouse_tests::kafka::{create_tutorial, run, Setup, WAIT};
use kafkahouse_tests::{error_of, error_text, fixture, github, github_queue_ddl, scalar};

/// INSERT INTO a Kafka table produces: the tutorial's INSERT ... SELECT
/// comes back through the view, VALUES and FORMAT rows appear in the topic in
/// ClickHouse's JSONEachRow, grouped by kafka_max_rows_per_message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_into_a_kafka_table_produces() {
    let s = Setup::new("github", 3).await;
    s.broker.create_topic("out", 1);
    s.broker
        .produce("github", 3, &github::rows(12, 0, 300))
        .await;
    create_tutorial(&s.client, &github_queue_ddl(&s.broker.bootstrap), false).await;
    run(&s.client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 60").await;
    assert_eq!(scalar(&s.client, "SELECT count() FROM github").await, "300");

    // "ClickHouse to Kafka", verbatim.
    let inserted = s
        .client
        .simple_query("INSERT INTO github_queue SELECT * FROM github LIMIT 100 FORMAT JSONEachRow")
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert!(
        matches!(
            inserted.last(),
            Some(tokio_postgres::SimpleQueryMessage::CommandComplete(100))
        ),
        "{inserted:?}"
    );
    run(&s.client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 60").await;
    assert_eq!(scalar(&s.client, "SELECT count() FROM github").await, "400");

    run(
        &s.client,
        &format!(
            "CREATE TABLE out_queue (id UInt64, name String, at DateTime) ENGINE = Kafka('{}', 'out', 'out_group', 'JSONEachRow') SETTINGS kafka_max_rows_per_message = 2",
            s.broker.bootstrap
        ),
    )
    .await;
    run(
        &s.client,
        "INSERT INTO out_queue VALUES (1, 'a', '2020-01-01 00:00:00'), (2, 'b', '2020-01-02 00:00:00'), (3, 'c', '2020-01-03 00:00:00')",
    )
    .await;
    run(
        &s.client,
        "INSERT INTO KafkaEngine.out_queue (name, id) FORMAT JSONEachRow {\"id\": 4, \"name\": \"d\"}",
    )
    .await;
    // A row the backend cannot read fails the INSERT; nothing is produced.
    let e = error_of(
        &s.client,
        "INSERT INTO out_queue VALUES ('not a number', 'x', now())",
    )
    .await;
    assert!(e.starts_with("Code: "), "{e}");
    // The embedded engine's own JSONEachRow (26.x no longer quotes 64-bit
    // integers by default).
    let messages = s.broker.read_topic("out", 1, 3, WAIT);
    assert_eq!(
        messages,
        [
            "{\"id\":1,\"name\":\"a\",\"at\":\"2020-01-01 00:00:00\"}\n{\"id\":2,\"name\":\"b\",\"at\":\"2020-01-02 00:00:00\"}",
            "{\"id\":3,\"name\":\"c\",\"at\":\"2020-01-03 00:00:00\"}",
            "{\"id\":4,\"name\":\"d\",\"at\":\"1970-01-01 00:00:00\"}",
        ]
    );
    // `_key`, `_timestamp` and `_headers.*` columns set each message's key,
    // timestamp and headers (and stay in the payload, as in ClickHouse).
    s.broker.create_topic("keyed", 1);
    run(
        &s.client,
        &format!(
            "CREATE TABLE keyed_queue (id UInt64, _key String, _timestamp DateTime, `_headers.name` Array(String), `_headers.value` Array(String)) ENGINE = Kafka('{}', 'keyed', 'keyed_group', 'JSONEachRow')",
            s.broker.bootstrap
        ),
    )
    .await;
    run(
        &s.client,
        "INSERT INTO keyed_queue VALUES (1, 'k1', '2024-01-01 00:00:01', ['source'], ['psql']), (2, 'k2', '2024-01-01 00:00:02', [], [])",
    )
    .await;
    let keyed = s.broker.read_messages("keyed", 1, 2, WAIT);
    assert_eq!(keyed.len(), 2);
    assert_eq!(keyed[0].key.as_deref(), Some("k1"));
    assert_eq!(keyed[0].timestamp_ms, Some(1_704_067_201_000));
    assert_eq!(
        keyed[0].headers,
        vec![("source".to_string(), "psql".to_string())]
    );
    assert_eq!(keyed[1].key.as_deref(), Some("k2"));
    assert!(keyed[1].headers.is_empty());
    assert!(
        keyed[0].payload.starts_with("{\"id\":1,\"_key\":\"k1\""),
        "{}",
        keyed[0].payload
    );

    // The staging tables are gone from the session.
    assert_eq!(
        scalar(
            &s.client,
            "SELECT count() FROM system.tables WHERE name LIKE '_kafkahouse%'"
        )
        .await,
        "0"
    );
}

/// The tutorial's "ClickHouse to Kafka" chain, verbatim but for the broker:
/// github_out_mv reads github and writes to the Kafka table github_out_queue,
/// so rows that github_mv inserts from topic `github` come out in topic
/// `github_out`, and so do rows inserted into github through kafkahouse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_into_kafka_tables_forward_what_is_inserted() {
    let s = Setup::new("github", 3).await;
    s.broker.create_topic("github_out", 1);
    create_tutorial(&s.client, &github_queue_ddl(&s.broker.bootstrap), false).await;
    run(
        &s.client,
        &fixture("sql/github_out_queue.sql").replace("host:port", &s.broker.bootstrap),
    )
    .await;
    run(&s.client, &fixture("sql/github_out_mv.sql")).await;

    let rows = github::rows(13, 0, 10);
    s.broker.produce("github", 3, &rows).await;
    run(&s.client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 60").await;
    assert_eq!(scalar(&s.client, "SELECT count() FROM github").await, "10");
    let titles = |messages: &[String]| -> Vec<String> {
        let mut t: Vec<String> = messages
            .iter()
            .map(|m| {
                let v: serde_json::Value =
                    serde_json::from_str(m).unwrap_or_else(|e| panic!("{m}: {e}"));
                assert_eq!(v.as_object().map(|o| o.len()), Some(25), "{m}");
                v["title"].as_str().unwrap_or_default().to_string()
            })
            .collect();
        t.sort();
        t
    };
    let out = s.broker.read_topic("github_out", 1, 10, WAIT);
    let mut expected: Vec<String> = rows
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).unwrap();
            v["title"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    expected.sort();
    assert_eq!(titles(&out), expected);

    // An INSERT through kafkahouse fires the view too, with the rows as
    // github received them.
    run(
        &s.client,
        "INSERT INTO github SELECT * FROM github ORDER BY title LIMIT 3",
    )
    .await;
    assert_eq!(scalar(&s.client, "SELECT count() FROM github").await, "13");
    let out = s.broker.read_topic("github_out", 1, 13, WAIT);
    assert_eq!(out.len(), 13);
    assert_eq!(titles(&out[10..]), expected[..3].to_vec());

    // A view whose columns the Kafka table lacks is refused at CREATE.
    let e = error_of(
        &s.client,
        "CREATE MATERIALIZED VIEW bad_out_mv TO github_out_queue AS SELECT title AS nope FROM github",
    )
    .await;
    assert!(e.starts_with("Code: 16.") && e.contains("nope"), "{e}");
    // Dropping the view stops the forwarding.
    run(&s.client, "DROP VIEW github_out_mv").await;
    run(&s.client, "INSERT INTO github SELECT * FROM github LIMIT 1").await;
    assert_eq!(scalar(&s.client, "SELECT count() FROM github").await, "14");
    // An INSERT returns after its messages were acknowledged, so a 14th
    // message would already be in the topic.
    let out = s
        .broker
        .read_topic("github_out", 1, 14, Duration::from_secs(2));
    assert_eq!(out.len(), 13);
}
