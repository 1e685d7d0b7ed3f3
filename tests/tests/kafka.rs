//! The tutorial's "Kafka to ClickHouse" half, end to end: a real
//! Kafka-protocol broker (librdkafka's mock cluster), kafkahouse as a
//! process on its embedded ClickHouse, and the tutorial's statements
//! through the PostgreSQL wire with only the broker address replaced.

use std::time::Duration;

use kafkahouse_tests::{
    error_of, error_text, fixture, github, github_queue_ddl, scalar, wait_for, Broker, Kafkahouse,
};

const PARTITIONS: i32 = 5;
const WAIT: Duration = Duration::from_secs(70);

async fn run(client: &tokio_postgres::Client, sql: &str) {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}\n  failed: {}", error_text(&e)));
}

/// A broker with one topic and a kafkahouse on the embedded engine.
struct Setup {
    broker: Broker,
    server: Kafkahouse,
    client: tokio_postgres::Client,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new(topic: &str, partitions: i32) -> Setup {
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

/// The tutorial's steps 2, 3, 5 and 6: the database, the destination, the
/// Kafka table `queue_ddl` and the view. `enum8` writes the DDL in 18.16's
/// dialect (`Enum8` for `Enum`).
async fn create_tutorial(client: &tokio_postgres::Client, queue_ddl: &str, enum8: bool) {
    let dialect = |sql: &str| {
        if enum8 {
            sql.replace("Enum(", "Enum8(")
        } else {
            sql.to_string()
        }
    };
    run(client, "CREATE DATABASE KafkaEngine;").await;
    run(client, "USE KafkaEngine;").await;
    run(client, &dialect(&fixture("sql/github_mergetree.sql"))).await;
    run(client, &dialect(queue_ddl)).await;
    run(
        client,
        "CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue;",
    )
    .await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_checked_when_created() {
    let Setup {
        broker,
        server,
        client,
        _dir,
    } = Setup::new("events", 1).await;
    run(
        &client,
        "CREATE TABLE dest (n UInt32, s String) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    run(
        &client,
        &format!(
            "CREATE TABLE q (n UInt32, s String) ENGINE = Kafka SETTINGS kafka_broker_list = '{}', \
             kafka_topic_list = 'events', kafka_group_name = 'g', kafka_format = 'JSONEachRow'",
            broker.bootstrap
        ),
    )
    .await;
    let unknown = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT nope AS n FROM q",
    )
    .await;
    assert!(unknown.starts_with("Code: 47."), "{unknown}");
    let extra = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT n, s, _offset AS o FROM q",
    )
    .await;
    assert!(extra.starts_with("Code: 16."), "{extra}");
    let no_dest = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv TO missing AS SELECT * FROM q",
    )
    .await;
    assert!(no_dest.starts_with("Code: 60."), "{no_dest}");
    let no_to = error_of(
        &client,
        "CREATE MATERIALIZED VIEW mv ENGINE = Memory AS SELECT * FROM q",
    )
    .await;
    assert!(no_to.starts_with("Code: 48."), "{no_to}");
    assert_eq!(scalar(&client, "EXISTS TABLE mv").await, "0");

    // A good one, with a filter and ClickHouse functions, consumes.
    run(
        &client,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT toUInt32(n * 2) AS n, upper(s) AS s FROM q WHERE n > 1",
    )
    .await;
    let rows: Vec<String> = (1..=4)
        .map(|n| format!(r#"{{"n":{n},"s":"r{n}"}}"#))
        .collect();
    broker.produce("events", 1, &rows).await;
    let got = wait_for(&client, "SELECT count() FROM dest", "3", WAIT).await;
    assert_eq!(got, "3", "server log:\n{}", server.log());
    assert_eq!(
        scalar(
            &client,
            "SELECT groupArray(s) FROM (SELECT s FROM dest ORDER BY n)"
        )
        .await,
        "['R2','R3','R4']"
    );
    assert_eq!(scalar(&client, "SELECT sum(n) FROM dest").await, "18");

    // The consumer shows in system.kafka_consumers, with its partition,
    // committed offset and lag (from librdkafka's statistics, every second).
    let state = "SELECT assignments.partition_id, assignments.current_offset, assignments.lag \
                 FROM system.kafka_consumers WHERE table = 'q'";
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let rows = kafkahouse_tests::rows(&client, state).await;
        if rows
            == vec![vec![
                "[0]".to_string(),
                "[4]".to_string(),
                "[0]".to_string(),
            ]]
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consumer state: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An insert that fails is retried, and its error is visible there.
    run(&client, "DROP TABLE dest").await;
    broker
        .produce("events", 1, &[r#"{"n":9,"s":"x"}"#.to_string()])
        .await;
    let errors = "SELECT exceptions.text FROM system.kafka_consumers WHERE table = 'q'";
    loop {
        let text = scalar(&client, errors).await;
        if text.contains("Code: 60.") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline + WAIT,
            "exceptions: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// Every ClickHouse function kafkahouse provides in views, computed by the
/// pipeline (DataFusion) and compared, in ClickHouse, with ClickHouse's own
/// answer for the same inputs stored next to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_functions_agree_with_clickhouse() {
    // (result type, expression): the same text is evaluated by both engines.
    let functions: [(&str, &str); 24] = [
        ("String", "toString(n)"),
        ("UInt8", "toUInt8(n)"),
        ("UInt64", "toUInt64(n)"),
        ("Int32", "toInt32(n)"),
        ("Float64", "toFloat64(n)"),
        ("Date", "toDate(t)"),
        ("DateTime", "toDateTime(ts)"),
        ("DateTime", "toStartOfMinute(t)"),
        ("DateTime", "toStartOfHour(t)"),
        ("DateTime", "toStartOfDay(t)"),
        ("UInt32", "toYYYYMM(t)"),
        ("String", "lower(s)"),
        ("String", "upper(s)"),
        ("String", "concat(s, '-', toString(n))"),
        ("String", "substring(s, 2, 3)"),
        ("UInt64", "length(s)"),
        ("String", "if(n > 5, 'big', 'small')"),
        ("String", "multiIf(n < 3, 'a', n < 6, 'b', 'c')"),
        ("String", "JSONExtractString(j, 'k')"),
        ("Int64", "JSONExtractInt(j, 'i')"),
        ("Float64", "JSONExtractFloat(j, 'f')"),
        ("UInt8", "JSONExtractBool(j, 'b')"),
        ("String", "JSONExtractRaw(j, 'o')"),
        ("Array(String)", "splitByChar(',', csv)"),
    ];
    let broker = Broker::start();
    broker.create_topic("inputs", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;

    let inputs = "s String, n Int64, t DateTime, ts String, j String, csv String";
    let results: Vec<String> = functions
        .iter()
        .enumerate()
        .map(|(i, (ty, _))| format!("r{i} {ty}"))
        .collect();
    run(
        &client,
        &format!(
            "CREATE TABLE results ({inputs}, {}) ENGINE = MergeTree ORDER BY n",
            results.join(", ")
        ),
    )
    .await;
    run(
        &client,
        &format!(
            "CREATE TABLE inputs_queue ({inputs}) ENGINE = Kafka('{}', 'inputs', 'functions', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    let select: Vec<String> = functions
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| format!("{expr} AS r{i}"))
        .collect();
    run(
        &client,
        &format!(
            "CREATE MATERIALIZED VIEW functions_mv TO results AS SELECT *, {} FROM inputs_queue",
            select.join(", ")
        ),
    )
    .await;
    let rows: Vec<String> = [
        (
            "Hello",
            1,
            "2011-02-12 10:11:12",
            r#"{"k":"v","i":3,"f":1.5,"b":true,"o":{"x":1}}"#,
            "a,b,,c",
        ),
        (
            "kafka",
            5,
            "2020-02-29 23:59:59",
            r#"{"k":7,"i":-2,"b":false}"#,
            "single",
        ),
        ("ClickHouse", 7, "1999-12-31 00:00:00", r#"{"o":[1,2]}"#, ""),
    ]
    .iter()
    .map(|(s, n, t, j, csv)| {
        serde_json::json!({"s": s, "n": n, "t": t, "ts": t, "j": j, "csv": csv}).to_string()
    })
    .collect();
    broker.produce("inputs", 1, &rows).await;
    let got = wait_for(&client, "SELECT count() FROM results", "3", WAIT).await;
    assert_eq!(got, "3", "server log:\n{}", server.log());

    let mut disagreements = Vec::new();
    for (i, (_, expr)) in functions.iter().enumerate() {
        let wrong = scalar(
            &client,
            &format!("SELECT countIf(r{i} != {expr}) FROM results"),
        )
        .await;
        if wrong != "0" {
            let sample = scalar(
                &client,
                &format!("SELECT toString(tuple(r{i}, {expr})) FROM results WHERE r{i} != {expr} LIMIT 1"),
            )
            .await;
            disagreements.push(format!("{expr}: kafkahouse vs ClickHouse {sample}"));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// SIGKILL while blocks are being written, restart: every row arrives. A
/// block inserted but not yet committed when the process died is read again
/// (at least once), so the check is on distinct rows.
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
