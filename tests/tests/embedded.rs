//! kafkahouse on its embedded ClickHouse (libchdb), driven over the
//! PostgreSQL wire by tokio-postgres and by psql itself.

use std::process::Command;

use kafkahouse_tests::{error_of, error_text, fixture, rows, scalar, Kafkahouse};

/// The tutorial's steps 2 and 3 (seed 004) with a few rows, as a user pastes them.
async fn tutorial_setup(client: &tokio_postgres::Client) {
    kafkahouse_tests::kafka::create_github(client, false).await;
    let insert = format!(
        "INSERT INTO github FORMAT JSONEachRow\n{}",
        fixture("data/github_sample.ndjson")
    );
    let done = client
        .simple_query(&insert)
        .await
        .unwrap_or_else(|e| panic!("INSERT: {}", error_text(&e)));
    match done.last() {
        Some(tokio_postgres::SimpleQueryMessage::CommandComplete(n)) => assert_eq!(*n, 5),
        other => panic!("INSERT answered {other:?}"),
    }
}

#[tokio::test]
async fn tutorial_tables_and_rows_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    tutorial_setup(&client).await;

    assert_eq!(scalar(&client, "SELECT count() FROM github").await, "5");
    client
        .simple_query("ALTER TABLE github ADD COLUMN topic String, ADD COLUMN partition UInt64;")
        .await
        .expect("ALTER");
    let got = rows(
        &client,
        "SELECT repo_name, event_type, labels, topic, partition, created_at FROM github ORDER BY created_at LIMIT 2",
    )
    .await;
    assert_eq!(got.len(), 2);
    // Values come back as ClickHouse prints them: enums by name, arrays in
    // ClickHouse syntax, DateTime without fractions; new columns get defaults.
    let first = &got[0];
    assert!(first[1].ends_with("Event"), "event_type {:?}", first[1]);
    assert!(first[2].starts_with('['), "labels {:?}", first[2]);
    assert_eq!(first[3], "");
    assert_eq!(first[4], "0");
    assert_eq!(
        first[5].len(),
        "2011-02-12 00:00:04".len(),
        "{:?}",
        first[5]
    );
    drop(client);
    server.stop();

    let server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    client.simple_query("USE KafkaEngine").await.expect("USE");
    assert_eq!(scalar(&client, "SELECT count() FROM github").await, "5");
    let columns = rows(&client, "DESCRIBE TABLE github").await;
    let names: Vec<&str> = columns.iter().map(|r| r[0].as_str()).collect();
    assert!(
        names.contains(&"topic") && names.contains(&"partition"),
        "{names:?}"
    );
}

#[tokio::test]
async fn errors_are_clickhouse_exceptions_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;

    let missing = error_of(&client, "SELECT * FROM nope").await;
    assert!(missing.starts_with("Code: 60. DB::Exception:"), "{missing}");
    let syntax = error_of(&client, "SELEC 1").await;
    assert!(
        syntax.starts_with("Code: 62. DB::Exception: Syntax error"),
        "{syntax}"
    );
    let db = error_of(&client, "USE nowhere").await;
    assert!(db.starts_with("Code: 81."), "{db}");

    // The same session still works, and still is in `default`.
    assert_eq!(scalar(&client, "SELECT currentDatabase()").await, "default");
    let sqlstate = client
        .simple_query("SELECT * FROM nope")
        .await
        .err()
        .and_then(|e| e.as_db_error().map(|d| d.code().code().to_string()));
    assert_eq!(sqlstate.as_deref(), Some("42P01"));
}

#[tokio::test]
async fn statements_in_one_string_run_in_order_and_stop_at_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;

    let got = rows(
        &client,
        "CREATE TABLE t (a UInt8) ENGINE = Memory; INSERT INTO t VALUES (1), (2); SELECT sum(a) FROM t;",
    )
    .await;
    assert_eq!(got, vec![vec!["3".to_string()]]);

    let err = error_of(
        &client,
        "INSERT INTO t VALUES (10); SELECT * FROM nope; INSERT INTO t VALUES (100)",
    )
    .await;
    assert!(err.contains("Code: 60"), "{err}");
    // The first insert ran, the one after the error did not.
    assert_eq!(scalar(&client, "SELECT sum(a) FROM t").await, "13");

    // Empty statements and a trailing semicolon are fine.
    assert!(client.simple_query(";").await.is_ok());
    assert_eq!(scalar(&client, "SELECT 1;").await, "1");
}

#[tokio::test]
async fn use_and_set_belong_to_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let a = server.connect().await;
    let b = server.connect().await;

    a.simple_query("CREATE DATABASE other")
        .await
        .expect("CREATE DATABASE");
    a.simple_query("USE other").await.expect("USE");
    a.simple_query("SET max_threads = 3").await.expect("SET");
    assert_eq!(scalar(&a, "SELECT currentDatabase()").await, "other");
    assert_eq!(scalar(&a, "SELECT getSetting('max_threads')").await, "3");
    assert_eq!(scalar(&b, "SELECT currentDatabase()").await, "default");
    assert_ne!(scalar(&b, "SELECT getSetting('max_threads')").await, "3");

    let bad = error_of(&a, "SET no_such_setting = 1").await;
    assert!(bad.starts_with("Code: 115."), "{bad}");

    // A database named in the connection string is where the session starts.
    let c = server.connect_to("other").await;
    assert_eq!(scalar(&c, "SELECT currentDatabase()").await, "other");
    let d = server.connect_to("nowhere").await;
    let err = error_of(&d, "SELECT 1").await;
    assert!(err.starts_with("Code: 81."), "{err}");
}

#[tokio::test]
async fn extended_protocol_types_nulls_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;

    let row = client
        .query_one(
            "SELECT toUInt8(200) AS a, toInt64(-2) AS b, toFloat64(1.5) AS c, 'x' AS d, \
             toDate('2020-01-02') AS e, toDateTime('2020-01-02 03:04:05') AS f, \
             CAST(NULL AS Nullable(Int32)) AS g, true AS h, [1, 2] AS i",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(row.columns()[0].name(), "a");
    assert_eq!(row.get::<_, i16>("a"), 200);
    assert_eq!(row.get::<_, i64>("b"), -2);
    assert_eq!(row.get::<_, f64>("c"), 1.5);
    assert_eq!(row.get::<_, &str>("d"), "x");
    assert_eq!(
        row.get::<_, chrono::NaiveDate>("e"),
        chrono::NaiveDate::from_ymd_opt(2020, 1, 2).unwrap()
    );
    assert_eq!(
        row.get::<_, chrono::NaiveDateTime>("f").to_string(),
        "2020-01-02 03:04:05"
    );
    assert_eq!(row.get::<_, Option<i32>>("g"), None);
    assert!(row.get::<_, bool>("h"));
    assert_eq!(row.get::<_, &str>("i"), "[1,2]");

    // Describe runs the statement with NULL parameters: `s` then has no type
    // but text, while `n` keeps its own.
    let statement = client
        .prepare(
            "SELECT $1 AS s, n FROM (SELECT toInt32(number) AS n FROM numbers(100)) \
             WHERE n = toInt32($2) + 1",
        )
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    for (s, n) in [("hello", 41), ("it's", 1)] {
        let n_text = n.to_string();
        let row = client
            .query_one(&statement, &[&s, &n_text])
            .await
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        assert_eq!(row.get::<_, &str>("s"), s);
        assert_eq!(row.get::<_, i32>("n"), n + 1);
    }

    // DDL and inserts work in the extended protocol too, and run once.
    client
        .execute("CREATE TABLE e (a String) ENGINE = Memory", &[])
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    client
        .execute("INSERT INTO e VALUES ($1)", &[&"o'k"])
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(scalar(&client, "SELECT count() FROM e").await, "1");
    assert_eq!(scalar(&client, "SELECT a FROM e").await, "o'k");

    let err = client.query("SELECT * FROM nope", &[]).await.unwrap_err();
    assert!(error_text(&err).starts_with("Code: 60."), "{err}");
}

#[tokio::test]
async fn user_formats_come_back_as_lines() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    let got = rows(
        &client,
        "SELECT number AS n FROM numbers(2) FORMAT JSONEachRow",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec![r#"{"n":0}"#.to_string()],
            vec![r#"{"n":1}"#.to_string()]
        ]
    );
}

#[tokio::test]
async fn a_client_leaving_mid_result_does_not_hurt_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Kafkahouse::embedded(&dir.path().join("data"));
    let leaving = server.connect().await;
    let task = tokio::spawn(async move {
        let _ = leaving
            .simple_query("SELECT number, toString(number) FROM numbers(2000000)")
            .await;
    });
    // Dropping the task drops the client and closes its socket, whether the
    // result is being computed or written at that moment.
    task.abort();
    let _ = task.await;

    let other = server.connect().await;
    assert_eq!(scalar(&other, "SELECT 42").await, "42");
    assert!(server.is_running());
}

#[tokio::test]
async fn kafka_tables_live_in_the_catalog_and_never_reach_clickhouse() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    client
        .simple_query(
            "CREATE TABLE q (a String, n UInt32) ENGINE = Kafka('localhost:9092', 't', 'g', 'JSONEachRow') \
             SETTINGS kafka_num_consumers = 1, kafka_sasl_password = 'hunter2'",
        )
        .await
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(scalar(&client, "EXISTS TABLE q").await, "1");
    client
        .simple_query("CREATE TABLE plain (a UInt8) ENGINE = Memory")
        .await
        .expect("CREATE TABLE plain");
    assert_eq!(
        rows(&client, "SHOW TABLES").await,
        vec![vec!["plain".to_string()], vec!["q".to_string()]]
    );
    let described = rows(&client, "DESCRIBE TABLE q").await;
    assert_eq!(described[1][..2], ["n".to_string(), "UInt32".to_string()]);
    let shown = scalar(&client, "SHOW CREATE TABLE q").await;
    assert!(shown.contains("ENGINE = Kafka"), "{shown}");
    assert!(
        !shown.contains("hunter2"),
        "the SASL password leaked: {shown}"
    );
    let direct = error_of(&client, "SELECT * FROM q").await;
    assert!(direct.starts_with("Code: 620."), "{direct}");
    let again = error_of(
        &client,
        "CREATE TABLE q (a String) ENGINE = Kafka('b:1', 't', 'g', 'JSONEachRow')",
    )
    .await;
    assert!(again.starts_with("Code: 57."), "{again}");
    drop(client);
    server.stop();

    // The definition survives a restart; chDB never saw a Kafka engine (one
    // there would stop its data directory from opening again).
    let server = Kafkahouse::embedded(&data);
    assert!(
        !server.log().contains("hunter2"),
        "the SASL password reached the log"
    );
    let client = server.connect().await;
    assert_eq!(scalar(&client, "EXISTS TABLE q").await, "1");
    client
        .simple_query("DROP TABLE q")
        .await
        .expect("DROP TABLE");
    assert_eq!(scalar(&client, "EXISTS TABLE q").await, "0");
}

#[tokio::test]
async fn bad_kafka_table_definitions_are_clickhouse_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    let cases = [
        ("CREATE TABLE q (a String) ENGINE = Kafka('b:1', 't', 'g', 'JSONEachRow') SETTINGS kafka_bogus = 1", "Code: 115."),
        ("CREATE TABLE q (a String) ENGINE = Kafka('b:1', 't')", "Code: 36."),
        ("CREATE TABLE q (a Strin) ENGINE = Kafka('b:1', 't', 'g', 'JSONEachRow')", "Code: 50."),
        ("CREATE TABLE q (a String) ENGINE = Kafka('b:1', 't', 'g', 'PrettyCompact')", "Code: 73."),
        ("CREATE TABLE q (a String) ENGINE = Kafka('b:1', 't', 'g', 'Protobuf')", "Code: 36."),
        ("CREATE TABLE q (a String, b String) ENGINE = Kafka('b:1', 't', 'g', 'RawBLOB')", "Code: 36."),
        ("CREATE TABLE q (a String) ENGINE = Kafka('b:1', 't', 'g', 'JSONEachRow') SETTINGS kafka_handle_error_mode = 'ignore'", "Code: 36."),
        ("CREATE TABLE q (a String, a UInt8) ENGINE = Kafka('b:1', 't', 'g', 'JSONEachRow')", "Code: 15."),
        ("CREATE TABLE nowhere.q (a String) ENGINE = Kafka('b:1', 't', 'g', 'JSONEachRow')", "Code: 81."),
        ("CREATE TABLE q (a String) ENGINE = Kafka('b:1' 't')", "Code: 62."),
    ];
    for (sql, code) in cases {
        let e = error_of(&client, sql).await;
        assert!(e.starts_with(code), "{sql}\n  gave {e}");
    }
    // Nothing was created by any of them.
    assert_eq!(scalar(&client, "EXISTS TABLE q").await, "0");
}

#[tokio::test]
async fn one_data_directory_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = Kafkahouse::embedded(&data);
    let lib = kafkahouse_tests::libchdb();
    let second = Kafkahouse::try_start(&data, &["--libchdb", lib.to_str().unwrap()]);
    match second {
        Ok(_) => panic!("a second server started on the same data directory"),
        Err(why) => assert!(why.contains("in use by another kafkahouse"), "{why}"),
    }
}

#[test]
fn psql_runs_the_tutorial_statements() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let script = dir.path().join("tutorial.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE DATABASE KafkaEngine;\nUSE KafkaEngine;\n{};\nINSERT INTO github FORMAT JSONEachRow\n{};\nSELECT count() FROM github;\nALTER TABLE github ADD COLUMN topic String, ADD COLUMN partition UInt64;\nSELECT count(), any(topic), max(partition) FROM github;\n",
            fixture("sql/github_mergetree.sql").trim_end(),
            // psql reads a backslash outside SQL quotes as a meta-command, and
            // JSON's \" is outside SQL quotes to it: plain quotes here.
            fixture("data/github_sample.ndjson").trim_end().replace("\\\"", "'"),
        ),
    )
    .unwrap();
    let output = Command::new("psql")
        .args([
            "-h",
            &server.pg_addr.ip().to_string(),
            "-p",
            &server.pg_addr.port().to_string(),
            "-U",
            "default",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-A",
            "-t",
            "-f",
        ])
        .arg(&script)
        .output()
        .expect("psql is not installed: apt-get install postgresql-client (scripts/test does)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "psql failed: {stderr}\n{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"5"), "{stdout}");
    assert!(lines.contains(&"5||0"), "{stdout}");
    // The server is still fine for the next client.
    runtime.block_on(async {
        let client = server.connect().await;
        assert_eq!(
            scalar(&client, "SELECT count() FROM KafkaEngine.github").await,
            "5"
        );
    });
}
