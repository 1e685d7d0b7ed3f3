//! Issue 10, "No input kills the server": SQL no user would write. String
//! literals of 100 MB and queries of 10 MB on every protocol (refused as
//! ClickHouse refuses them, `Code: 62 ... Max query size exceeded`, without
//! the memory they would take), 10,000 nested parentheses, types nested
//! 5,000 deep, a Kafka table on a broker that does not exist, a SASL
//! password that must not leak, big queries next to small ones, and INSERT
//! data that the query size limit must not touch. After each case the
//! process must still run and `/ping` and a PostgreSQL `SELECT 1` answer.

use std::time::Instant;

use kafkahouse_tests::hostile::{
    assert_error, assert_peak_grew_less_than, assert_still_serves, http_post, is_clickhouse_error,
    native_outcome, peak, pg_outcome, ping, ANSWER_TIMEOUT,
};
use kafkahouse_tests::{rows, scalar, Broker, Kafkahouse};

fn start() -> (tempfile::TempDir, Kafkahouse) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    (dir, server)
}

/// A query POSTed as the body must fail with `code` and `words` in the
/// ClickHouse error (the time it took is printed).
async fn http_refuses(server: &Kafkahouse, body: Vec<u8>, code: u32, words: &str, case: &str) {
    let started = Instant::now();
    let (status, text) = http_post(server, &[], body)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    eprintln!("{case}: HTTP {status} after {:?}", started.elapsed());
    assert!(status >= 400, "{case}: HTTP {status}");
    assert_error(&text, code, words, case);
}

async fn pg_refuses(server: &Kafkahouse, sql: &str, code: u32, words: &str, case: &str) {
    let started = Instant::now();
    let text = pg_outcome(server, sql).await;
    eprintln!("{case}: answered after {:?}", started.elapsed());
    assert_error(&text, code, words, case);
}

const MAX_QUERY_SIZE: &str = "Max query size exceeded";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_literals_of_100_mb() {
    let (_dir, mut server) = start();
    let sql = format!("SELECT '{}'", "x".repeat(100_000_000));

    let before = peak(&server);
    pg_refuses(
        &server,
        &sql,
        62,
        MAX_QUERY_SIZE,
        "100 MB literal over PostgreSQL",
    )
    .await;
    assert_peak_grew_less_than(&server, before, 500, "100 MB literal over PostgreSQL");
    assert_still_serves(&mut server, "100 MB literal over PostgreSQL").await;

    let before = peak(&server);
    let case = "100 MB literal over HTTP";
    http_refuses(&server, sql.clone().into_bytes(), 62, MAX_QUERY_SIZE, case).await;
    assert_peak_grew_less_than(&server, before, 500, case);
    assert_still_serves(&mut server, case).await;
    drop(sql);

    let before = peak(&server);
    let case = "100 MB literal over the native protocol";
    let started = Instant::now();
    let got = native_outcome(&server, "q = \"SELECT '\" + 'x' * 100_000_000 + \"'\"").await;
    eprintln!("{case}: answered after {:?}", started.elapsed());
    assert_error(&got, 62, MAX_QUERY_SIZE, case);
    assert_peak_grew_less_than(&server, before, 500, case);
    assert_still_serves(&mut server, case).await;
    // The native port itself still answers.
    assert_eq!(
        native_outcome(&server, "q = 'SELECT 1'").await.trim(),
        "ok: [(1,)]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_parentheses() {
    let broker = Broker::start();
    broker.create_topic("deep", 1);
    let (_dir, mut server) = start();
    let nested = |inner: &str| format!("{}{inner}{}", "(".repeat(10_000), ")".repeat(10_000));
    let case = "10,000 parentheses over PostgreSQL";
    let got = pg_outcome(&server, &format!("SELECT {}", nested("1"))).await;
    assert!(is_clickhouse_error(&got), "{case}: {got:.300}");
    assert_still_serves(&mut server, case).await;
    let case = "10,000 parentheses over HTTP";
    let sql = format!("SELECT {}", nested("1"));
    let (status, got) = http_post(&server, &[], sql.into_bytes()).await.expect(case);
    assert!(
        status >= 400 && is_clickhouse_error(&got),
        "{case}: {status} {got:.300}"
    );
    assert_still_serves(&mut server, case).await;

    // In a materialized view's SELECT, which kafkahouse plans itself.
    let client = server.connect().await;
    for sql in [
        format!(
            "CREATE TABLE deep_queue (a UInt64) ENGINE = Kafka('{}', 'deep', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
        "CREATE TABLE deep_dest (a UInt64) ENGINE = MergeTree ORDER BY a".to_string(),
    ] {
        rows(&client, &sql).await;
    }
    let case = "10,000 parentheses in a materialized view";
    let view = |select: &str| {
        format!(
            "CREATE MATERIALIZED VIEW deep_mv TO deep_dest AS SELECT {select} AS a FROM deep_queue"
        )
    };
    let got = pg_outcome(&server, &view(&nested("a"))).await;
    assert!(is_clickhouse_error(&got), "{case}: {got:.300}");
    assert_still_serves(&mut server, case).await;
    // Nothing was left half-made: the same view, written plainly, is created.
    rows(&client, &view("(a)")).await;
    broker.produce("deep", 1, &[r#"{"a":7}"#.to_string()]).await;
    let sum = "SELECT sum(a) FROM deep_dest";
    let got = kafkahouse_tests::wait_for(&client, sum, "7", ANSWER_TIMEOUT).await;
    assert_eq!(got, "7", "the view consumes after the refused one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_table_on_a_broker_that_does_not_exist() {
    let (_dir, mut server) = start();
    let client = server.connect().await;
    let mut created = Vec::new();
    for (name, sql) in [
        ("nowhere_dest", "CREATE TABLE nowhere_dest (a String) ENGINE = MergeTree ORDER BY a"),
        ("nowhere_queue", "CREATE TABLE nowhere_queue (a String) ENGINE = Kafka('127.0.0.1:1', 'topic', 'group', 'JSONEachRow')"),
        ("nowhere_mv", "CREATE MATERIALIZED VIEW nowhere_mv TO nowhere_dest AS SELECT a FROM nowhere_queue"),
    ] {
        let got = pg_outcome(&server, sql).await;
        if got.starts_with("ok") {
            created.push(name);
        } else {
            assert!(is_clickhouse_error(&got), "{sql}: {got}");
        }
        assert_still_serves(&mut server, sql).await;
    }
    eprintln!("created: {created:?}");
    let consumers = "SELECT count() FROM system.kafka_consumers WHERE table = 'nowhere_queue'";
    if created.contains(&"nowhere_mv") {
        // Its consumer is listed while it cannot reach the broker.
        let listed = kafkahouse_tests::wait_for(&client, consumers, "1", ANSWER_TIMEOUT).await;
        assert_eq!(listed, "1", "{consumers}");
    }
    rows(&client, "SELECT * FROM system.kafka_consumers").await;
    assert_eq!(
        scalar(&client, "SELECT count() FROM nowhere_dest").await,
        "0"
    );
    assert_still_serves(&mut server, "system.kafka_consumers").await;
    // Dropping a consumer that never connected does not hang.
    for name in created.iter().rev() {
        let kind = if name.ends_with("_mv") {
            "VIEW"
        } else {
            "TABLE"
        };
        let drop = format!("DROP {kind} {name}");
        let got = tokio::time::timeout(ANSWER_TIMEOUT, client.simple_query(&drop)).await;
        assert!(matches!(got, Ok(Ok(_))), "{drop}: {got:?}");
    }
    assert_still_serves(&mut server, "DROP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_show_create_and_the_log() {
    const SECRET: &str = "hunter2secret";
    let (_dir, mut server) = start();
    let client = server.connect().await;
    let kafka = |name: &str, more: &str| {
        format!(
            "CREATE TABLE {name} (a String) ENGINE = Kafka('127.0.0.1:1', 'topic', 'group', 'JSONEachRow') SETTINGS kafka_security_protocol = 'sasl_plaintext', kafka_sasl_mechanism = 'PLAIN', kafka_sasl_username = 'someone', kafka_sasl_password = '{SECRET}'{more}"
        )
    };
    rows(&client, &kafka("secret_queue", "")).await;
    rows(
        &client,
        "CREATE TABLE secret_dest (a String) ENGINE = MergeTree ORDER BY a",
    )
    .await;
    rows(
        &client,
        "CREATE MATERIALIZED VIEW secret_mv TO secret_dest AS SELECT a FROM secret_queue",
    )
    .await;
    // A statement that fails carries the secret too.
    let refused = pg_outcome(&server, &kafka("secret_bad", ", kafka_bogus = 1")).await;
    assert!(refused.starts_with("Code: 115."), "{refused}");
    assert!(
        !refused.contains(SECRET),
        "the error shows the password: {refused}"
    );

    let shown = scalar(&client, "SHOW CREATE TABLE secret_queue").await;
    assert!(
        !shown.contains(SECRET),
        "SHOW CREATE TABLE over PostgreSQL: {shown}"
    );
    assert!(
        shown.contains("kafka_sasl_password = '[HIDDEN]'"),
        "{shown}"
    );
    assert!(shown.contains("kafka_sasl_username = 'someone'"), "{shown}");
    let (status, shown) = http_post(&server, &[], b"SHOW CREATE TABLE secret_queue".to_vec())
        .await
        .expect("SHOW CREATE TABLE over HTTP");
    assert_eq!(status, 200, "{shown}");
    assert!(
        !shown.contains(SECRET),
        "SHOW CREATE TABLE over HTTP: {shown}"
    );
    assert!(shown.contains("[HIDDEN]"), "{shown}");

    // Once its consumer runs (and has tried the broker), look everywhere.
    let listed = kafkahouse_tests::wait_for(
        &client,
        "SELECT count() FROM system.kafka_consumers WHERE table = 'secret_queue'",
        "1",
        ANSWER_TIMEOUT,
    )
    .await;
    assert_eq!(
        listed, "1",
        "secret_queue's consumer in system.kafka_consumers"
    );
    let (status, consumers) = http_post(
        &server,
        &[],
        b"SELECT * FROM system.kafka_consumers FORMAT JSONEachRow".to_vec(),
    )
    .await
    .expect("system.kafka_consumers");
    assert_eq!(status, 200, "{consumers}");
    assert!(consumers.contains("secret_queue"), "{consumers}");
    assert!(
        !consumers.contains(SECRET),
        "system.kafka_consumers: {consumers}"
    );
    let log = server.log();
    assert!(
        log.contains("secret_queue"),
        "the log says nothing of the table:\n{log}"
    );
    if let Some(line) = log.lines().find(|l| l.contains(SECRET)) {
        panic!("the server log shows the password: {line}");
    }
    assert_still_serves(&mut server, "a SASL password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_types_nested_5000_deep() {
    let (_dir, mut server) = start();
    let nested = |depth: usize| format!("{}UInt8{}", "Array(".repeat(depth), ")".repeat(depth));
    let kafka = |name: &str, depth: usize| {
        format!(
            "CREATE TABLE {name} (a {}) ENGINE = Kafka('127.0.0.1:1', 'topic', 'group', 'JSONEachRow')",
            nested(depth)
        )
    };
    let case = "a Kafka column of Array nested 5,000 deep over PostgreSQL";
    pg_refuses(
        &server,
        &kafka("deep_pg", 5000),
        306,
        "Maximum parse depth",
        case,
    )
    .await;
    assert_still_serves(&mut server, case).await;
    let case = "a Kafka column of Array nested 5,000 deep over HTTP";
    let body = kafka("deep_http", 5000).into_bytes();
    http_refuses(&server, body, 306, "Maximum parse depth", case).await;
    assert_still_serves(&mut server, case).await;
    // The same in an ordinary table, which ClickHouse parses.
    let case = "a MergeTree column of Array nested 5,000 deep";
    let sql = format!(
        "CREATE TABLE deep_mt (a {}) ENGINE = MergeTree ORDER BY tuple()",
        nested(5000)
    );
    let got = pg_outcome(&server, &sql).await;
    assert!(is_clickhouse_error(&got), "{case}: {got:.300}");
    assert_still_serves(&mut server, case).await;

    // 20 deep is an ordinary type.
    let client = server.connect().await;
    rows(&client, &kafka("deep_20", 20)).await;
    let described = rows(&client, "DESCRIBE TABLE deep_20").await;
    assert_eq!(
        described[0][..2],
        ["a".to_string(), nested(20)],
        "{described:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabytes_of_select_columns() {
    let (_dir, mut server) = start();
    let sql = format!("SELECT {}1", "1,".repeat(5_000_000));
    let before = peak(&server);
    let case = "10 MB of SELECT 1,1,... over PostgreSQL";
    pg_refuses(&server, &sql, 62, MAX_QUERY_SIZE, case).await;
    assert_peak_grew_less_than(&server, before, 500, case);
    assert_still_serves(&mut server, case).await;
    let case = "10 MB of SELECT 1,1,... over HTTP";
    http_refuses(&server, sql.into_bytes(), 62, MAX_QUERY_SIZE, case).await;
    assert_peak_grew_less_than(&server, before, 500, case);
    assert_still_serves(&mut server, case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_queries_do_not_stop_other_clients() {
    let (_dir, mut server) = start();
    let sql = format!("SELECT {}1", "1,".repeat(2_500_000));
    let heavy = || http_post(&server, &[], sql.clone().into_bytes());
    let light_pg = async {
        let client = server.connect().await;
        tokio::time::timeout(ANSWER_TIMEOUT, scalar(&client, "SELECT 1")).await
    };
    let (first, second, pong, one) = tokio::join!(heavy(), heavy(), ping(&server), light_pg);
    assert_eq!(
        pong.as_deref(),
        Ok("Ok.\n"),
        "/ping next to two 5 MB queries"
    );
    assert_eq!(one.as_deref(), Ok("1"), "SELECT 1 next to two 5 MB queries");
    for (status, text) in [first, second].map(|r| r.expect("a 5 MB query over HTTP")) {
        assert!(status >= 400, "HTTP {status}");
        assert_error(&text, 62, MAX_QUERY_SIZE, "a 5 MB query next to others");
    }
    assert_still_serves(&mut server, "two 5 MB queries at once").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_data_is_not_limited_by_max_query_size() {
    let (_dir, mut server) = start();
    let client = server.connect().await;
    for table in ["ins_pg", "ins_http", "ins_json"] {
        let sql =
            format!("CREATE TABLE {table} (id UInt32, s String) ENGINE = MergeTree ORDER BY id");
        rows(&client, &sql).await;
    }
    // About 1 MiB of rows, four times max_query_size.
    const ROWS: usize = 40_000;
    let values = |table: &str| {
        let rows: Vec<String> = (0..ROWS)
            .map(|i| format!("({i},'row {i} padding')"))
            .collect();
        format!("INSERT INTO {table} VALUES {}", rows.join(","))
    };
    let sql = values("ins_pg");
    assert!(sql.len() > 4 * 262_144, "{} bytes", sql.len());
    let got = pg_outcome(&server, &sql).await;
    assert!(
        got.starts_with("ok"),
        "INSERT VALUES of {} bytes over PostgreSQL: {got:.300}",
        sql.len()
    );

    let (status, got) = http_post(&server, &[], values("ins_http").into_bytes())
        .await
        .expect("INSERT VALUES over HTTP");
    assert_eq!(status, 200, "INSERT VALUES of 1 MiB over HTTP: {got:.300}");

    let mut body = "INSERT INTO ins_json FORMAT JSONEachRow\n".to_string();
    for i in 0..ROWS {
        body.push_str(&format!("{{\"id\":{i},\"s\":\"row {i} padding\"}}\n"));
    }
    assert!(body.len() > 4 * 262_144, "{} bytes", body.len());
    let (status, got) = http_post(&server, &[], body.into_bytes())
        .await
        .expect("INSERT FORMAT JSONEachRow over HTTP");
    assert_eq!(
        status, 200,
        "INSERT JSONEachRow of 1 MiB over HTTP: {got:.300}"
    );

    for table in ["ins_pg", "ins_http", "ins_json"] {
        let count = scalar(&client, &format!("SELECT count() FROM {table}")).await;
        assert_eq!(count, ROWS.to_string(), "rows in {table}");
    }
    assert_still_serves(&mut server, "1 MiB INSERTs").await;
}
