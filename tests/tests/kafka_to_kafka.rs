//! A materialized view from a Kafka table into another Kafka table, as
//! ClickHouse supports it: each block read from the first topic runs through
//! the view's SELECT (in ClickHouse) and its rows are produced into the
//! second topic in that table's format; a second view takes them on into a
//! table, topic to topic to table.

use kafkahouse_tests::kafka::{run, Setup, WAIT};
use kafkahouse_tests::{error_of, rows, scalar, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_between_kafka_tables_relays_its_rows() {
    let s = Setup::new("raw", 2).await;
    s.broker.create_topic("clean", 1);
    let bootstrap = &s.broker.bootstrap;
    run(
        &s.client,
        &format!(
            "CREATE TABLE raw_queue (n UInt32, s String) ENGINE = Kafka('{bootstrap}', 'raw', 'g_raw', 'JSONEachRow')"
        ),
    )
    .await;
    run(
        &s.client,
        &format!(
            "CREATE TABLE clean_queue (m UInt64, s String, part UInt64) \
             ENGINE = Kafka('{bootstrap}', 'clean', 'g_clean', 'CSV')"
        ),
    )
    .await;
    // Checked at CREATE against the destination's columns, as ClickHouse
    // checks it; the error names the source, not a staging table.
    let wrong = error_of(
        &s.client,
        "CREATE MATERIALIZED VIEW relay TO clean_queue AS SELECT n AS nope FROM raw_queue",
    )
    .await;
    assert!(
        wrong.starts_with("Code: 16.") && wrong.contains("nope") && !wrong.contains("_kafkahouse"),
        "{wrong}"
    );
    run(
        &s.client,
        "CREATE MATERIALIZED VIEW relay TO clean_queue AS \
         SELECT n * 10 AS m, upper(s) AS s, _partition AS part FROM raw_queue WHERE n > 1",
    )
    .await;
    run(
        &s.client,
        "CREATE TABLE clean (m UInt64, s String, part UInt64) ENGINE = MergeTree ORDER BY m",
    )
    .await;
    run(
        &s.client,
        "CREATE MATERIALIZED VIEW clean_mv TO clean AS SELECT * FROM clean_queue",
    )
    .await;
    assert_eq!(
        rows(
            &s.client,
            "SELECT name, guarantee, reason LIKE '%replayed%' FROM system.kafka_views ORDER BY name"
        )
        .await,
        [
            ["clean_mv", "exactly_once", "0"],
            ["relay", "at_least_once", "1"]
        ]
    );

    let messages: Vec<String> = (1..=4)
        .map(|n| format!(r#"{{"n":{n},"s":"{}"}}"#, (b'a' + n as u8 - 1) as char))
        .collect();
    s.broker.produce("raw", 2, &messages).await;
    let got = wait_for(&s.client, "SELECT count() FROM clean", "3", WAIT).await;
    assert_eq!(got, "3", "server log:\n{}", s.server.log());
    assert_eq!(
        scalar(
            &s.client,
            "SELECT toString(groupArray((m, s))) FROM (SELECT m, s FROM clean ORDER BY m)"
        )
        .await,
        "[(20,'B'),(30,'C'),(40,'D')]"
    );
    // The second topic holds them in its table's format, CSV.
    let mut produced = s.broker.read_topic("clean", 1, 3, WAIT);
    produced.sort();
    let rows_only: Vec<String> = produced
        .iter()
        .map(|m| {
            m.trim_end()
                .rsplit_once(',')
                .map_or(m.clone(), |(row, _)| row.to_string())
        })
        .collect();
    assert_eq!(
        rows_only,
        ["20,\"B\"", "30,\"C\"", "40,\"D\""],
        "{produced:?}"
    );
    // Each row kept the partition it was read from.
    assert_eq!(
        scalar(&s.client, "SELECT countIf(part IN (0, 1)) FROM clean").await,
        "3"
    );
}
