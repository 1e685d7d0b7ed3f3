//! The same answers as ClickHouse in consumption and views, one scenario
//! per difference issue 14 found (each would have caught it): a direct
//! SELECT aggregates over every partition it read (in the embedded engine
//! when DataFusion lacks what it uses) and Describe does not run
//! it, `kafka_skip_broken_messages` counts per message, broken JSON split over
//! two messages stays broken, TSKV is read, times and functions in views are
//! written as ClickHouse writes them. Statements and named collections are in
//! same_answers_ddl.rs, drivers and producing in same_answers_clients.rs.

use kafkahouse_tests::kafka::{run, Setup, WAIT};
use kafkahouse_tests::{rows, wait_for, Broker, Kafkahouse};

/// ClickHouse runs a direct SELECT over everything it read: `count()` over
/// 40 messages in 4 partitions is one row of 40 (it was four rows of 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_select_aggregates_over_every_partition() {
    let broker = Broker::start();
    broker.create_topic("events", 4);
    let messages: Vec<String> = (0..40).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    broker.produce("events", 4, &messages).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    run(
        &client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    let got = rows(
        &client,
        "SELECT count() AS c, sum(n) AS s, count(DISTINCT _partition) AS p FROM q \
         SETTINGS stream_like_engine_allow_direct_select = 1",
    )
    .await;
    assert_eq!(got, [["40", "780", "4"]]);
    // A comparison is ClickHouse's UInt8, 1 or 0 (it printed true/false).
    // Nothing was committed: the same messages are read again.
    let compared = rows(
        &client,
        "SELECT max(n > 38) AS any_big, min(n > 38) AS all_big FROM q \
         SETTINGS stream_like_engine_allow_direct_select = 1",
    )
    .await;
    assert_eq!(compared, [["1", "0"]]);
    // Functions DataFusion lacks run in the embedded engine, as in views.
    let engine = rows(
        &client,
        "SELECT formatDateTime(toDateTime(max(n), 'UTC'), '%F %T') AS f, \
         arrayMap(x -> x * 2, [min(n)]) AS a FROM q \
         SETTINGS stream_like_engine_allow_direct_select = 1",
    )
    .await;
    assert_eq!(engine, [["1970-01-01 00:00:39", "[0]"]]);
}

/// Over the PostgreSQL extended protocol (Parse, Describe, Bind, Execute),
/// Describe ran the statement: a direct SELECT with `kafka_commit_on_select
/// = 1` read and committed the messages there, and Execute found none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_does_not_run_a_direct_select() {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    let messages: Vec<String> = (1..=5).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    setup.broker.produce("events", 1, &messages).await;
    run(
        client,
        &format!(
            "CREATE TABLE take (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow') \
             SETTINGS kafka_commit_on_select = 1",
            setup.broker.bootstrap
        ),
    )
    .await;
    // count() is ClickHouse's UInt64 (numeric over PostgreSQL): read as
    // Int64 here.
    let select = "SELECT toInt64(count()) AS c, toInt64(sum(n)) AS s FROM take \
                  SETTINGS stream_like_engine_allow_direct_select = 1";
    // tokio-postgres's query() is the extended protocol.
    let row = client
        .query_one(select, &[])
        .await
        .unwrap_or_else(|e| panic!("{}", kafkahouse_tests::error_text(&e)));
    assert_eq!((row.get::<_, i64>("c"), row.get::<_, i64>("s")), (5, 15));
    // Committed by that one run: nothing is left.
    let row = client.query_one(select, &[]).await.expect("second select");
    assert_eq!(row.get::<_, i64>("c"), 0);
    // A backend query is described by the backend and typed as it says.
    let row = client
        .query_one("SELECT toUInt8(7) AS small, 'x' AS text", &[])
        .await
        .expect("backend select");
    assert_eq!(
        (row.get::<_, i16>("small"), row.get::<_, &str>("text")),
        (7, "x")
    );
}

/// `count/sum` of what reached `dest`.
const SUMMARY: &str = "SELECT concat(toString(count()), '/', toString(sum(n))) FROM dest";

/// A Kafka table of `columns` in `format` (with `settings`) read from
/// `events` into `dest` (the same columns) by a view; `messages` produced to
/// its one partition.
async fn consume(columns: &str, format: &str, settings: &str, messages: &[&str]) -> Setup {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    run(
        client,
        &format!("CREATE TABLE dest ({columns}) ENGINE = MergeTree ORDER BY n"),
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q ({columns}) ENGINE = Kafka('{}', 'events', 'g', '{format}'){settings}",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT * FROM q",
    )
    .await;
    let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
    setup.broker.produce("events", 1, &messages).await;
    setup
}

/// ClickHouse allows `kafka_skip_broken_messages` errors in each message
/// (its count restarts with every message): with N = 1, two broken messages
/// in a row are both skipped and the 50 good rows arrive. kafkahouse counted
/// per block, failed the block and retried it forever with 0 rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_broken_messages_counts_per_message() {
    let good: Vec<String> = (1..=50).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let mut messages: Vec<&str> = good[..25].iter().map(String::as_str).collect();
    messages.extend([r#"{"n":"#, "not json"]);
    messages.extend(good[25..].iter().map(String::as_str));
    let setup = consume(
        "n UInt32",
        "JSONEachRow",
        " SETTINGS kafka_skip_broken_messages = 1",
        &messages,
    )
    .await;
    let got = wait_for(&setup.client, SUMMARY, "50/1275", WAIT).await;
    assert_eq!(got, "50/1275", "server log:\n{}", setup.server.log());
}

/// `{"n":2` and `}` are two broken messages, as ClickHouse parses each
/// message alone; read one after the other they made the valid row
/// `{"n":2}` and both were taken as good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_split_over_two_messages_stays_broken() {
    let setup = consume(
        "n UInt32",
        "JSONEachRow",
        " SETTINGS kafka_skip_broken_messages = 1",
        &[r#"{"n":1}"#, r#"{"n":2"#, "}", r#"{"n":3}"#],
    )
    .await;
    let got = wait_for(&setup.client, SUMMARY, "2/4", WAIT).await;
    assert_eq!(got, "2/4", "server log:\n{}", setup.server.log());
    let broken = wait_for(
        &setup.client,
        "SELECT broken_messages FROM system.kafka_consumers",
        "2",
        WAIT,
    )
    .await;
    assert_eq!(broken, "2");
}

/// TSKV, a ClickHouse input format, was refused for Kafka tables (Code 73).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tskv_messages_are_read() {
    // The broken one (a number that is not) makes each message be parsed
    // alone: good ones still are, without their line break.
    let setup = consume(
        "n UInt32, s String",
        "TSKV",
        " SETTINGS kafka_skip_broken_messages = 1",
        &["n=1\ts=one", "s=two\tn=2", "n=x", "n=3"],
    )
    .await;
    let got = wait_for(
        &setup.client,
        "SELECT arrayStringConcat(groupArray(concat(toString(n), ':', s)), ',') FROM (SELECT * FROM dest ORDER BY n)",
        "1:one,2:two,3:",
        WAIT,
    )
    .await;
    assert_eq!(got, "1:one,2:two,3:", "server log:\n{}", setup.server.log());
}

/// Dates and times in views as ClickHouse writes them: `toString` of a
/// DateTime is `2020-01-01 00:00:01` (it was `2020-01-01T00:00:01Z`), and
/// `toUnixTimestamp`, `toUnixTimestamp64Milli`, `fromUnixTimestamp64Milli`
/// are accepted (they were refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_in_views_as_clickhouse_writes_them() {
    let setup = Setup::new("times", 1).await;
    let client = &setup.client;
    run(
        client,
        "CREATE TABLE dest (s String, ts DateTime, s_ts String, u UInt32, ms Int64, back DateTime64(3)) \
         ENGINE = MergeTree ORDER BY u",
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q (t DateTime('UTC')) ENGINE = Kafka('{}', 'times', 'g', 'JSONEachRow')",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT toString(t) AS s, _timestamp AS ts, \
         toString(_timestamp) AS s_ts, toUnixTimestamp(t) AS u, \
         toUnixTimestamp64Milli(_timestamp_ms) AS ms, \
         fromUnixTimestamp64Milli(toUnixTimestamp64Milli(_timestamp_ms)) AS back FROM q",
    )
    .await;
    setup
        .broker
        .produce("times", 1, &[r#"{"t":"2020-01-01 00:00:01"}"#.to_string()])
        .await;
    let count = wait_for(client, "SELECT count() FROM dest", "1", WAIT).await;
    assert_eq!(count, "1", "server log:\n{}", setup.server.log());
    // The engine itself says how ClickHouse writes the same values.
    let got = kafkahouse_tests::scalar(
        client,
        "SELECT concat(s, ' | ', toString(u), ' | ', toString(s_ts = toString(ts)), ' | ', \
         toString(ms = toUnixTimestamp64Milli(back))) FROM dest",
    )
    .await;
    assert_eq!(
        got,
        "2020-01-01 00:00:01 | 1577836801 | 1 | 1",
        "server log:\n{}",
        setup.server.log()
    );
}

/// ClickHouse's conditional operator `c ? a : b` in a view (refused by the
/// SQL parser before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conditional_operator_in_a_view() {
    let setup = Setup::new("events", 1).await;
    let client = &setup.client;
    run(
        client,
        "CREATE TABLE dest (n UInt32, s String) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow')",
            setup.broker.bootstrap
        ),
    )
    .await;
    run(
        client,
        "CREATE MATERIALIZED VIEW mv TO dest AS \
         SELECT n, n > 5 ? 'big' : n > 2 ? 'middle' : 'small' AS s FROM q",
    )
    .await;
    let messages: Vec<String> = [1, 4, 9]
        .iter()
        .map(|n| format!(r#"{{"n":{n}}}"#))
        .collect();
    setup.broker.produce("events", 1, &messages).await;
    let got = wait_for(
        client,
        "SELECT arrayStringConcat(groupArray(s), ',') FROM (SELECT s FROM dest ORDER BY n)",
        "small,middle,big",
        WAIT,
    )
    .await;
    assert_eq!(
        got,
        "small,middle,big",
        "server log:\n{}",
        setup.server.log()
    );
}

/// In `system.kafka_consumers`, `length()` of an array column counts its
/// elements, as in ClickHouse: an empty `exceptions.text` had length 2
/// (the text `[]`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_lengths_in_system_kafka_consumers() {
    let setup = consume("n UInt32", "JSONEachRow", "", &[r#"{"n":1}"#]).await;
    let client = &setup.client;
    assert_eq!(wait_for(client, SUMMARY, "1/1", WAIT).await, "1/1");
    let got = wait_for(
        client,
        "SELECT concat(toString(length(exceptions.text)), ' ', \
         toString(length(assignments.partition_id))) FROM system.kafka_consumers",
        "0 1",
        WAIT,
    )
    .await;
    assert_eq!(got, "0 1");
}
