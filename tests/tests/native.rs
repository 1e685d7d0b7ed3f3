//! ClickHouse's native protocol, driven by Debian's `clickhouse-client`
//! 18.16: the whole tutorial, both halves, pasted as a script.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use kafkahouse_tests::{fixture, github, github_queue_ddl, Broker, Kafkahouse};

/// Runs `script` through clickhouse-client against `server`; returns
/// (stdout, stderr, success).
async fn client(server: &Kafkahouse, args: &[&str], script: &str) -> (String, String, bool) {
    let mut child = tokio::process::Command::new("clickhouse-client")
        .args(["--host", &server.native_addr.ip().to_string()])
        .args(["--port", &server.native_addr.port().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clickhouse-client (scripts/test installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(script.as_bytes()).await.expect("script");
    drop(stdin);
    let out = child.wait_with_output().await.expect("clickhouse-client");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_client_runs_the_whole_tutorial() {
    let broker = Broker::start();
    broker.create_topic("github", 3);
    broker.create_topic("github_out", 1);
    broker
        .produce("github", 3, &github::rows(31, 0, 1_000))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));

    // Steps 2 to 6, verbatim but for the broker address. (18.16's client
    // parses statements itself and knows no SYSTEM SYNC KAFKA: it waits
    // with SYSTEM SYNC REPLICA, which kafkahouse reads the same way.)
    let setup = format!(
        "CREATE DATABASE KafkaEngine;\nUSE KafkaEngine;\n{};\n{}\nCREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue;\nSYSTEM SYNC REPLICA github_queue;\nSELECT count() FROM github;\n",
        fixture("sql/github_mergetree.sql").trim_end(),
        github_queue_ddl(&broker.bootstrap),
    );
    let (out, err, ok) = client(&server, &["--multiquery"], &setup).await;
    assert!(ok, "{err}\nserver log:\n{}", server.log());
    assert_eq!(out, "1000\n");

    // "ClickHouse to Kafka", verbatim but for one thing: 18.16's client
    // refuses a FORMAT after INSERT ... SELECT in its own parser (the
    // statement never reaches the server), so it goes without.
    let back = format!(
        "INSERT INTO github_queue SELECT * FROM github LIMIT 100;\nSYSTEM SYNC REPLICA github_queue;\nSELECT count() FROM github;\n{}\n{}",
        fixture("sql/github_out_queue.sql")
            .trim_end()
            .replace("host:port", &broker.bootstrap),
        fixture("sql/github_out_mv.sql"),
    );
    let (out, err, ok) = client(
        &server,
        &["--multiquery", "--database", "KafkaEngine"],
        &back,
    )
    .await;
    assert!(ok, "{err}\nserver log:\n{}", server.log());
    assert_eq!(out, "1100\n");

    // 10 messages into github come out in github_out.
    broker
        .produce_from("github", 3, 1_000, &github::rows(31, 1_000, 1_010))
        .await;
    let (out, err, ok) = client(
        &server,
        &["--multiquery", "--database", "KafkaEngine"],
        "SYSTEM SYNC REPLICA github_queue;\nSELECT count() FROM github;",
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "1110\n");
    let out = broker.read_topic("github_out", 1, 10, std::time::Duration::from_secs(60));
    assert_eq!(out.len(), 10);

    // Errors are ClickHouse exceptions; the connection goes on.
    let (out, err, ok) = client(
        &server,
        &["--multiquery", "--ignore-error"],
        "SELECT * FROM no_such_table;\nSELECT 'still here';",
    )
    .await;
    assert!(!ok);
    assert!(err.contains("Code: 60."), "{err}");
    assert_eq!(out, "still here\n");

    // Rows the client sends as blocks: VALUES into a table (which fires
    // github_out_mv), and JSONEachRow from stdin into the Kafka table.
    let (_, err, ok) = client(
        &server,
        &[
            "--database",
            "KafkaEngine",
            "--query",
            "INSERT INTO github (title, number) VALUES ('typed', 7)",
        ],
        "",
    )
    .await;
    assert!(ok, "{err}");
    let row = &github::rows(31, 2_000, 2_001)[0];
    let (_, err, ok) = client(
        &server,
        &[
            "--database",
            "KafkaEngine",
            "--query",
            "INSERT INTO github_queue FORMAT JSONEachRow",
        ],
        row,
    )
    .await;
    assert!(ok, "{err}");
    let (out, err, ok) = client(
        &server,
        &["--multiquery", "--database", "KafkaEngine"],
        "SYSTEM SYNC REPLICA github_queue;\nSELECT count(), countIf(title = 'typed' AND number = 7) FROM github;",
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "1112\t1\n");
    let out = broker.read_topic("github_out", 1, 12, std::time::Duration::from_secs(60));
    assert_eq!(out.len(), 12);
    // A row the server cannot read is an exception, and nothing is written.
    let (out, err, ok) = client(
        &server,
        &[
            "--database",
            "KafkaEngine",
            "--query",
            "INSERT INTO github (title, created_at) FORMAT JSONEachRow",
        ],
        "{\"title\": \"bad\", \"created_at\": \"not a time\"}",
    )
    .await;
    assert!(!ok, "{out}");
    assert!(err.contains("Code: 41."), "{err}");

    // A client killed in the middle of sending its rows: nothing of them
    // is written, and the server goes on.
    let mut half = tokio::process::Command::new("clickhouse-client")
        .args(["--host", &server.native_addr.ip().to_string()])
        .args(["--port", &server.native_addr.port().to_string()])
        .args([
            "--database",
            "KafkaEngine",
            "--query",
            "INSERT INTO github (title) FORMAT JSONEachRow",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("clickhouse-client");
    let mut stdin = half.stdin.take().expect("stdin");
    stdin.write_all(b"{\"title\": \"half\"}\n").await.unwrap();
    stdin.flush().await.unwrap();
    half.kill().await.unwrap();
    drop(stdin);
    let (out, err, ok) = client(
        &server,
        &["--database", "KafkaEngine"],
        "SELECT countIf(title = 'half') FROM github",
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "0\n");

    // Garbage instead of the protocol ends that connection only.
    let mut raw = tokio::net::TcpStream::connect(server.native_addr)
        .await
        .unwrap();
    raw.write_all(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff garbage")
        .await
        .unwrap();
    drop(raw);
    let (out, _, ok) = client(&server, &[], "SELECT 1").await;
    assert!(ok);
    assert_eq!(out, "1\n");
}

/// clickhouse-driver, a second native-protocol client: typed results,
/// exceptions with codes, and a session that survives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_driver_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/clients/clickhouse_driver_session.py"
    );
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(server.native_addr.ip().to_string())
        .arg(server.native_addr.port().to_string())
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "rows [(0, '0', 0.0, 0), (1, '1', 0.5, None), (2, '2', 1.0, 2)]\nerror 60\ndatabase [('driver_db',)]\n"
    );
}

/// Ctrl-C in clickhouse-client cancels the running statement: here a
/// SYSTEM SYNC REPLICA that would otherwise wait its full 300 s for a view
/// whose destination is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_a_running_statement() {
    let broker = Broker::start();
    broker.create_topic("cancel_me", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let setup = format!(
        "CREATE TABLE dest (id UInt64) ENGINE = MergeTree ORDER BY id;\nCREATE TABLE q (id UInt64) ENGINE = Kafka('{}', 'cancel_me', 'cancel_group', 'JSONEachRow');\nINSERT INTO q SELECT 1;\nCREATE MATERIALIZED VIEW mv TO dest AS SELECT id FROM q;\nDROP TABLE dest;",
        broker.bootstrap
    );
    let (_, err, ok) = client(&server, &["--multiquery"], &setup).await;
    assert!(ok, "{err}");

    let waiting = tokio::process::Command::new("clickhouse-client")
        .args(["--host", &server.native_addr.ip().to_string()])
        .args(["--port", &server.native_addr.port().to_string()])
        .args(["--query", "SYSTEM SYNC REPLICA q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clickhouse-client");
    // Ctrl-C once the server is running the statement.
    let started = std::time::Instant::now();
    while !server.log().contains("SyncKafka") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the statement never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = waiting.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let finished = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        waiting.wait_with_output(),
    )
    .await
    .expect("the client ended after Ctrl-C, long before the statement's own 300 s")
    .unwrap();
    let _ = finished;
    assert!(
        server.log().contains("query cancelled by the client"),
        "{}",
        server.log()
    );
    let (out, _, ok) = client(&server, &[], "SELECT 'next'").await;
    assert!(ok);
    assert_eq!(out, "next\n");
}
