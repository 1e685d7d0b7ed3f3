//! kafkahouse against a real ClickHouse server over HTTP: Debian's 18.16,
//! which the test command installs. Its DDL differs from the tutorial only
//! where 18.16 does: `Enum8` instead of `Enum`, and LowCardinality allowed by
//! the users.xml profile.

use kafkahouse_tests::{error_of, error_text, fixture, rows, scalar, ClickHouseServer, Kafkahouse};

#[tokio::test]
async fn tutorial_statements_against_a_real_server() {
    let clickhouse = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::remote(&data, &clickhouse.url());
    let client = server.connect().await;

    kafkahouse_tests::kafka::create_github(&client, true).await;
    client
        .simple_query(&format!(
            "INSERT INTO github FORMAT JSONEachRow\n{}",
            fixture("data/github_sample.ndjson")
        ))
        .await
        .unwrap_or_else(|e| panic!("INSERT: {}", error_text(&e)));
    assert_eq!(scalar(&client, "SELECT count() FROM github").await, "5");
    client
        .simple_query("ALTER TABLE github ADD COLUMN topic String, ADD COLUMN partition UInt64;")
        .await
        .unwrap_or_else(|e| panic!("ALTER: {}", error_text(&e)));
    let got = rows(
        &client,
        "SELECT event_type, topic, partition FROM github ORDER BY created_at LIMIT 3",
    )
    .await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| r[0].ends_with("Event") && r[1].is_empty() && r[2] == "0"),
        "{got:?}"
    );

    // Typed results through the extended protocol as well.
    let row = client
        .query_one("SELECT count() AS c, max(number) AS m FROM github", &[])
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(row.columns()[1].type_().name(), "int8"); // UInt32 → bigint
    assert!(row.get::<_, i64>("m") > 0);

    // The rows are really in ClickHouse, not only in kafkahouse's view of it.
    drop(client);
    server.stop();
    let server = Kafkahouse::remote(&data, &clickhouse.url());
    let client = server.connect_to("KafkaEngine").await;
    assert_eq!(scalar(&client, "SELECT count() FROM github").await, "5");
}

#[tokio::test]
async fn errors_sessions_and_settings_against_a_real_server() {
    let clickhouse = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let a = server.connect().await;
    let b = server.connect().await;

    // 18.16 words its exceptions differently; they reach the client in the
    // current `Code: N. DB::Exception: ...` form.
    let missing = error_of(&a, "SELECT * FROM nope").await;
    assert_eq!(
        missing,
        "Code: 60. DB::Exception: Table default.nope doesn't exist."
    );
    let syntax = error_of(&a, "SELEC 1").await;
    assert!(
        syntax.starts_with("Code: 62. DB::Exception: Syntax error"),
        "{syntax}"
    );
    assert!(error_of(&a, "USE nowhere").await.starts_with("Code: 81."));

    a.simple_query("CREATE DATABASE other")
        .await
        .expect("CREATE DATABASE");
    a.simple_query("USE other").await.expect("USE");
    a.simple_query("SET max_threads = 3").await.expect("SET");
    let setting = "SELECT value FROM system.settings WHERE name = 'max_threads'";
    assert_eq!(scalar(&a, "SELECT currentDatabase()").await, "other");
    assert_eq!(scalar(&a, setting).await, "3");
    assert_eq!(scalar(&b, "SELECT currentDatabase()").await, "default");
    assert_ne!(scalar(&b, setting).await, "3");
    let bad = error_of(&a, "SET no_such_setting = 1").await;
    assert!(bad.starts_with("Code: 115."), "{bad}");
    // A rejected SET changes nothing.
    assert_eq!(scalar(&a, "SELECT 1").await, "1");
}

#[tokio::test]
async fn a_lost_backend_is_an_error_and_kafkahouse_recovers_with_it() {
    let mut clickhouse = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let client = server.connect().await;
    client
        .simple_query("CREATE TABLE t (a UInt8) ENGINE = TinyLog; INSERT INTO t VALUES (7)")
        .await
        .expect("setup");

    clickhouse.kill();
    let err = error_of(&client, "SELECT a FROM t").await;
    assert!(
        err.starts_with("Code: 210. DB::Exception: Cannot reach ClickHouse"),
        "{err}"
    );
    assert!(server.is_running());

    clickhouse.restart();
    assert_eq!(scalar(&client, "SELECT a FROM t").await, "7");
    let other = server.connect().await;
    assert_eq!(scalar(&other, "SELECT sum(a) FROM t").await, "7");
}

#[test]
fn an_unreachable_backend_at_start_is_a_clear_failure() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/", kafkahouse_tests::free_port());
    match Kafkahouse::try_start(&dir.path().join("data"), &["--clickhouse-url", &url]) {
        Ok(_) => panic!("kafkahouse started without its backend"),
        Err(why) => assert!(why.contains("Cannot reach ClickHouse"), "{why}"),
    }
}
