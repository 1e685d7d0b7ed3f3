//! The tutorial's "Kafka to ClickHouse" half, end to end: a real
//! Kafka-protocol broker (librdkafka's mock cluster), kafkahouse as a
//! process on its embedded ClickHouse, and the tutorial's statements
//! through the PostgreSQL wire with only the broker address replaced.
//!
//! What views accept and compute is in `kafka_views.rs`, INSERT into Kafka
//! tables (producing) in `kafka_produce.rs`; the helpers all three share are
//! in `kafkahouse_tests::kafka`.

use std::time::Duration;

use kafkahouse_tests::kafka::{create_tutorial, run, Setup, WAIT};
use kafkahouse_tests::{error_of, github, github_queue_ddl, scalar, wait_for, Broker, Kafkahouse};

const PARTITIONS: i32 = 5;

/// The tutorial's "Adding Kafka metadata" steps: detach, add the columns,
/// drop the view, attach, and re-create the view with virtual columns.
async fn add_kafka_metadata(client: &tokio_postgres::Client) {
    run(client, "DETACH TABLE github_queue;").await;
    run(
        client,
        "ALTER TABLE github\n   ADD COLUMN topic String,\n   ADD COLUMN partition UInt64;",
    )
    .await;
    run(client, "DROP VIEW github_mv;").await;
    run(client, "ATTACH TABLE github_queue;").await;
    run(
        client,
        "CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *, _topic AS topic, _partition as partition\nFROM github_queue;",
    )
    .await;
}

/// Distinct rows of `github`: equal to the rows produced when none was lost.
async fn distinct_rows(client: &tokio_postgres::Client) -> String {
    scalar(client, DISTINCT).await
}

const DISTINCT: &str = "SELECT uniqExact(comment_id, created_at, title) FROM github";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_kafka_to_clickhouse() {
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(1, 0, 2_000))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), false).await;
    let count = "SELECT count() FROM github";
    let got = wait_for(&client, count, "2000", WAIT).await;
    assert_eq!(got, "2000", "server log:\n{}", server.log());
    // Every row exactly once: no duplicates across partitions and blocks.
    assert_eq!(distinct_rows(&client).await, "2000");
    // The mock cluster has KIP-848's group protocol: no fallback.
    assert!(
        !server.log().contains("using the classic protocol"),
        "server log:\n{}",
        server.log()
    );

    // DETACH stops consumption; offsets stay with the group.
    run(&client, "DETACH TABLE github_queue;").await;
    broker
        .produce("github", PARTITIONS, &github::rows(1, 2_000, 3_000))
        .await;
    assert_eq!(scalar(&client, count).await, "2000");
    run(&client, "ATTACH TABLE github_queue;").await;
    let got = wait_for(&client, count, "3000", WAIT).await;
    assert_eq!(got, "3000", "server log:\n{}", server.log());

    // "Adding Kafka metadata": detach, alter, re-create the view with
    // virtual columns, attach.
    add_kafka_metadata(&client).await;
    broker
        .produce("github", PARTITIONS, &github::rows(1, 3_000, 3_500))
        .await;
    assert_eq!(wait_for(&client, count, "3500", WAIT).await, "3500");
    assert_eq!(
        scalar(&client, "SELECT count() FROM github WHERE topic = 'github'").await,
        "500"
    );
    assert_eq!(
        scalar(
            &client,
            "SELECT uniqExact(partition) FROM github WHERE topic = 'github'"
        )
        .await,
        PARTITIONS.to_string()
    );

    // SIGKILL, more rows, restart: consumption resumes from the committed
    // offsets by itself, nothing lost or doubled.
    drop(client);
    drop(server);
    broker
        .produce("github", PARTITIONS, &github::rows(1, 3_500, 4_000))
        .await;
    let server = Kafkahouse::embedded(&data);
    let client = server.connect_to("KafkaEngine").await;
    assert_eq!(wait_for(&client, count, "4000", WAIT).await, "4000");
    assert_eq!(distinct_rows(&client).await, "4000");
}

/// The same flow against Debian's ClickHouse 18.16 over HTTP: blocks go as
/// JSONEachRow there (18.x reads no Arrow), with the tutorial's DDL in
/// 18.16's dialect (`Enum8`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_kafka_to_clickhouse_18() {
    let clickhouse = kafkahouse_tests::ClickHouseServer::start();
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(2, 0, 1_000))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let client = server.connect().await;
    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), true).await;
    let count = "SELECT count() FROM github";
    let got = wait_for(&client, count, "1000", WAIT).await;
    assert_eq!(got, "1000", "server log:\n{}", server.log());
    assert_eq!(distinct_rows(&client).await, "1000");
    // Dates and enums arrived as values, not defaults.
    assert_eq!(
        scalar(
            &client,
            "SELECT countIf(created_at < toDateTime('2011-01-01 00:00:00')) FROM github"
        )
        .await,
        "0"
    );
    // "ClickHouse to Kafka" on 18.16: staged in a temporary table of the
    // HTTP session, produced, and consumed back through the view. (18.16's
    // parser refuses the tutorial's trailing FORMAT on INSERT ... SELECT.)
    run(
        &client,
        "INSERT INTO github_queue SELECT * FROM github LIMIT 100",
    )
    .await;
    run(&client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 60").await;
    assert_eq!(scalar(&client, count).await, "1100");

    add_kafka_metadata(&client).await;
    broker
        .produce("github", PARTITIONS, &github::rows(2, 1_000, 1_100))
        .await;
    assert_eq!(wait_for(&client, count, "1200", WAIT).await, "1200");
    assert_eq!(
        scalar(
            &client,
            "SELECT count() FROM github WHERE topic = 'github' AND partition < 5"
        )
        .await,
        "100"
    );
}

/// SIGKILL while blocks are being written, restart: every row arrives, once.
/// A block inserted but not yet committed when the process died is read
/// again, and its replay is dropped by ClickHouse's deduplication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_stream_loses_nothing() {
    const ROWS: u64 = 20_000;
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(3, 0, ROWS))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    // Small blocks: many inserts and commits, so the kill lands among them.
    let queue = github_queue_ddl(&broker.bootstrap).replace(
        "kafka_num_consumers = 1;",
        "kafka_num_consumers = 1, kafka_max_block_size = 50;",
    );
    create_tutorial(&client, &queue, false).await;

    let count = "SELECT count() FROM github";
    let deadline = std::time::Instant::now() + WAIT;
    let at_kill = loop {
        let n: u64 = scalar(&client, count).await.parse().unwrap();
        if n > 0 || std::time::Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    drop(client);
    drop(server); // SIGKILL
    assert!(
        at_kill > 0 && at_kill < ROWS,
        "killed at {at_kill} of {ROWS} rows: not during the stream"
    );

    let server = Kafkahouse::embedded(&data);
    let client = server.connect_to("KafkaEngine").await;
    let got = wait_for(&client, DISTINCT, &ROWS.to_string(), WAIT).await;
    assert_eq!(got, ROWS.to_string(), "server log:\n{}", server.log());
    let total: u64 = scalar(&client, count).await.parse().unwrap();
    // At most the blocks in flight at the kill are doubled.
    assert!(
        total - ROWS <= 50 * PARTITIONS as u64,
        "{total} rows for {ROWS}"
    );
    // And in fact none: the block in flight was recorded before its
    // inserts, replayed with the same tokens, and dropped by the
    // destination's deduplication window (exactly once).
    assert_eq!(
        total,
        ROWS,
        "duplicates after SIGKILL; server log:\n{}",
        server.log()
    );
}

/// `kafka_skip_broken_messages = N`: up to N unparsable messages per block
/// are skipped and the rest of the block goes in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_messages_are_skipped_when_allowed() {
    let Setup {
        broker,
        server,
        client,
        _dir,
    } = Setup::new("events", 1).await;
    run(
        &client,
        "CREATE TABLE dest (n UInt32) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        &client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow') \
             SETTINGS kafka_skip_broken_messages = 1",
            broker.bootstrap
        ),
    )
    .await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT n FROM q",
    )
    .await;
    let messages: Vec<String> = ["{\"n\":1}", "{\"n\":", "{\"n\":3}", "{\"n\":4}"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    broker.produce("events", 1, &messages).await;
    let got = wait_for(&client, "SELECT sum(n) FROM dest", "8", WAIT).await;
    assert_eq!(got, "8", "server log:\n{}", server.log());
    assert!(server.log().contains("messages that cannot be parsed"));

    // "Modify Kafka engine settings": drop and re-create the Kafka table;
    // its view resumes by itself from the group's offsets.
    run(&client, "DROP TABLE q").await;
    run(
        &client,
        &format!(
            "CREATE TABLE q (n UInt32) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow') \
             SETTINGS kafka_max_block_size = 10",
            broker.bootstrap
        ),
    )
    .await;
    broker
        .produce("events", 1, &["{\"n\":10}".to_string()])
        .await;
    assert_eq!(
        wait_for(&client, "SELECT sum(n) FROM dest", "18", WAIT).await,
        "18"
    );
}

/// Direct SELECT from a Kafka table, allowed by the setting: it reads the
/// messages available to the table's group; offsets move only with
/// `kafka_commit_on_select = 1`, as in ClickHouse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_select_reads_and_commits_only_when_asked() {
    let broker = Broker::start();
    broker.create_topic("events", 1);
    let rows: Vec<String> = (1..=5).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    broker.produce("events", 1, &rows).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    for (name, group, commit) in [("peek", "g1", 0), ("take", "g2", 1)] {
        run(
            &client,
            &format!(
                "CREATE TABLE {name} (n UInt32) ENGINE = Kafka('{}', 'events', '{group}', 'JSONEachRow') \
                 SETTINGS kafka_commit_on_select = {commit}",
                broker.bootstrap
            ),
        )
        .await;
    }
    let refused = error_of(&client, "SELECT n FROM peek").await;
    assert!(refused.starts_with("Code: 620."), "{refused}");

    let select = |table: &str| {
        format!("SELECT n, _offset AS o FROM {table} ORDER BY n LIMIT 3 SETTINGS stream_like_engine_allow_direct_select = 1")
    };
    let first = kafkahouse_tests::rows(&client, &select("peek")).await;
    assert_eq!(
        first.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    // Not committed: the same messages again.
    assert_eq!(
        kafkahouse_tests::rows(&client, &select("peek")).await,
        first
    );

    run(&client, "SET stream_like_engine_allow_direct_select = 1").await;
    let taken = kafkahouse_tests::rows(&client, "SELECT count() AS c FROM take").await;
    assert_eq!(taken, vec![vec!["5".to_string()]]);
    // Committed: nothing is left for this group.
    let again = kafkahouse_tests::rows(&client, "SELECT count() AS c FROM take").await;
    assert_eq!(again, vec![vec!["0".to_string()]]);
}

/// The same consumption against tansu, an independent Kafka-protocol
/// broker: group join, resume after DETACH/ATTACH, exact counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_on_an_independent_broker() {
    let broker = Broker::tansu();
    broker.create_topic("github", 3);
    broker.produce("github", 3, &github::rows(4, 0, 600)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), false).await;
    let count = "SELECT count() FROM github";
    let got = wait_for(&client, count, "600", WAIT).await;
    assert_eq!(got, "600", "server log:\n{}", server.log());
    run(&client, "DETACH TABLE github_queue;").await;
    broker
        .produce("github", 3, &github::rows(4, 600, 700))
        .await;
    run(&client, "ATTACH TABLE github_queue;").await;
    assert_eq!(wait_for(&client, count, "700", WAIT).await, "700");
    assert_eq!(distinct_rows(&client).await, "700");
    // tansu has no KIP-848: the first consumer found out (nothing assigned
    // in 5 s) and went classic; the one after ATTACH started classic.
    let log = server.log();
    assert_eq!(
        log.matches("using the classic protocol").count(),
        1,
        "server log:\n{log}"
    );
}

/// `SYSTEM SYNC KAFKA` returns once everything produced before it is in the
/// destination (no polling of count()), and says why when it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_sync_kafka_waits_for_every_view() {
    let s = Setup::new("github", 3).await;
    s.broker
        .produce("github", 3, &github::rows(11, 0, 1_500))
        .await;
    create_tutorial(&s.client, &github_queue_ddl(&s.broker.bootstrap), false).await;
    run(&s.client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 60").await;
    assert_eq!(
        scalar(&s.client, "SELECT count() FROM github").await,
        "1500"
    );

    s.broker
        .produce_from("github", 3, 1_500, &github::rows(11, 1_500, 1_800))
        .await;
    run(&s.client, "SYSTEM SYNC KAFKA KafkaEngine.github_queue").await;
    assert_eq!(
        scalar(&s.client, "SELECT count() FROM github").await,
        "1800"
    );
    assert_eq!(distinct_rows(&s.client).await, "1800");

    let e = error_of(&s.client, "SYSTEM SYNC KAFKA github").await;
    assert!(e.starts_with("Code: 60."), "{e}");

    // A destination that is gone: the view's inserts fail, nothing is
    // committed, and the wait ends with the lag and the consumer's error.
    run(&s.client, "DROP TABLE github").await;
    s.broker
        .produce_from("github", 3, 1_800, &github::rows(11, 1_800, 1_810))
        .await;
    let e = error_of(&s.client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 10").await;
    assert!(e.starts_with("Code: 159."), "{e}");
    assert!(e.contains("behind by 10 message(s)"), "{e}");
    assert!(
        e.contains("last consumer exception: view KafkaEngine.github_mv"),
        "{e}"
    );

    run(&s.client, "DETACH TABLE github_queue").await;
    let e = error_of(&s.client, "SYSTEM SYNC KAFKA github_queue").await;
    assert!(
        e.starts_with("Code: 36.") && e.contains("is detached"),
        "{e}"
    );
}

/// A consumer holds at most `kafkahouse_max_consumer_bytes` of messages:
/// with the least budget (1 MiB) a backlog of about 4 MB over 8 partitions
/// is read a few partitions at a time, paused and resumed many times, and
/// every row still arrives exactly once. A budget below the least is
/// refused at CREATE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_memory_budget_still_delivers_every_row_once() {
    const ROWS: u64 = 6_000;
    const PARTITIONS: i32 = 8;
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(5, 0, ROWS))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    let ddl = github_queue_ddl(&broker.bootstrap);
    let with = |budget: &str| {
        ddl.replace(
            "kafka_num_consumers = 1;",
            &format!("kafka_num_consumers = 1, kafkahouse_max_consumer_bytes = {budget};"),
        )
    };
    assert!(with("1").contains("kafkahouse_max_consumer_bytes = 1;"));
    kafkahouse_tests::kafka::create_github(&client, false).await;
    let refused = error_of(&client, &with("1000")).await;
    assert!(
        refused.contains("Code: 36") && refused.contains("kafkahouse_max_consumer_bytes"),
        "{refused}"
    );
    run(&client, &with("1048576")).await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW github_mv TO github AS SELECT * FROM github_queue",
    )
    .await;
    let got = wait_for(&client, DISTINCT, &ROWS.to_string(), WAIT).await;
    assert_eq!(got, ROWS.to_string(), "server log:\n{}", server.log());
    assert_eq!(
        scalar(&client, "SELECT count() FROM github").await,
        ROWS.to_string()
    );
}

/// `KAFKAHOUSE_KAFKA_GROUP_PROTOCOL=classic` (`--kafka-group-protocol`)
/// keeps consumers on the classic protocol even where the broker has
/// KIP-848 (the mock cluster); by default they use KIP-848 there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classic_group_protocol_can_be_chosen() {
    let broker = Broker::start();
    broker.create_topic("github", 2);
    broker.produce("github", 2, &github::rows(6, 0, 300)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded_with_env(
        &dir.path().join("data"),
        &[("KAFKAHOUSE_KAFKA_GROUP_PROTOCOL", "classic")],
    );
    let client = server.connect().await;
    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), false).await;
    let got = wait_for(&client, "SELECT count() FROM github", "300", WAIT).await;
    assert_eq!(got, "300", "server log:\n{}", server.log());
    let log = server.log();
    let consuming: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("consuming") && l.contains("group_protocol"))
        .collect();
    assert!(!consuming.is_empty(), "server log:\n{log}");
    assert!(
        consuming.iter().all(|l| l.contains("\"classic\"")),
        "{consuming:?}"
    );
}

/// More consumers than partitions under KIP-848: the consumer left without a
/// partition is still a member (it does not fall back to the classic
/// protocol), and every row arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_consumers_than_partitions_stay_on_one_protocol() {
    let broker = Broker::start();
    broker.create_topic("github", 2);
    broker.produce("github", 2, &github::rows(8, 0, 400)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    let ddl = github_queue_ddl(&broker.bootstrap)
        .replace("kafka_num_consumers = 1", "kafka_num_consumers = 3");
    create_tutorial(&client, &ddl, false).await;
    let got = wait_for(&client, DISTINCT, "400", WAIT).await;
    assert_eq!(got, "400", "server log:\n{}", server.log());
    // Each of the three consumers ends its 5 s trial on KIP-848.
    let deadline = std::time::Instant::now() + WAIT;
    let trials_passed = |log: &str| log.matches("staying on it").count();
    while trials_passed(&server.log()) < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log();
    assert_eq!(trials_passed(&log), 3, "server log:\n{log}");
    assert!(
        !log.contains("using the classic protocol"),
        "server log:\n{log}"
    );
    assert_eq!(scalar(&client, "SELECT count() FROM github").await, "400");
}
