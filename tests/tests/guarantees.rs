//! Each view's delivery guarantee, as a user sees it: `system.kafka_views`
//! says `exactly_once` or `at_least_once` and why, CREATE MATERIALIZED VIEW
//! warns about a view that cannot be exactly once (a PostgreSQL notice, an
//! HTTP header, a native log packet), and `kafka_require_exactly_once = 1`
//! refuses it instead. On the embedded engine and on the remote 18.16
//! server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_postgres::AsyncMessage;

use kafkahouse_tests::kafka::{create_tutorial, run, Setup};
use kafkahouse_tests::{
    error_of, fixture, github_queue_ddl, rows, scalar, Broker, ClickHouseServer, Kafkahouse,
};

/// Notices a connection received, as `SEVERITY: message`.
type Notices = Arc<Mutex<Vec<String>>>;

/// A tokio-postgres client whose connection keeps the server's notices.
async fn connect_keeping_notices(server: &Kafkahouse) -> (tokio_postgres::Client, Notices) {
    let config = format!(
        "host={} port={} user=default dbname=default",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    let (client, mut connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to kafkahouse: {e}"));
    let notices: Notices = Arc::default();
    let kept = notices.clone();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notice(notice) = message {
                let text = format!("{}: {}", notice.severity(), notice.message());
                kept.lock().unwrap_or_else(|p| p.into_inner()).push(text);
            }
        }
    });
    (client, notices)
}

/// The notices received so far, emptied; waits a little for the first one
/// when `expect_one` (the connection task hands them over).
async fn take_notices(notices: &Notices, expect_one: bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let taken: Vec<String> = {
            let mut kept = notices.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *kept)
        };
        if !taken.is_empty() || !expect_one || Instant::now() >= deadline {
            return taken;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `guarantee` and `reason` of view `name` in system.kafka_views.
async fn guarantee_of(client: &tokio_postgres::Client, name: &str) -> (String, String) {
    let got = rows(
        client,
        &format!("SELECT guarantee, reason FROM system.kafka_views WHERE name = '{name}'"),
    )
    .await;
    assert_eq!(got.len(), 1, "{name}: {got:?}");
    (got[0][0].clone(), got[0][1].clone())
}

/// `sql` through clickhouse-client (the native protocol): its stderr and
/// whether it succeeded.
async fn native(server: &Kafkahouse, sql: &str) -> (String, bool) {
    let out = tokio::process::Command::new("clickhouse-client")
        .args(["--host", &server.native_addr.ip().to_string()])
        .args(["--port", &server.native_addr.port().to_string()])
        .args(["--database", "KafkaEngine", "--query", sql])
        .output()
        .await
        .expect("clickhouse-client (scripts/test installs it)");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_tutorial_is_exactly_once_and_other_views_say_why() {
    let Setup {
        broker,
        server,
        client: _,
        _dir,
    } = Setup::new("github", 2).await;
    broker.create_topic("github_out", 1);
    let (client, notices) = connect_keeping_notices(&server).await;

    // The tutorial verbatim: its MergeTree destination gets a
    // deduplication window, and no warning is due.
    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), false).await;
    assert_eq!(take_notices(&notices, false).await, Vec::<String>::new());
    assert_eq!(
        guarantee_of(&client, "github_mv").await,
        ("exactly_once".to_string(), String::new())
    );
    let ddl = scalar(&client, "SHOW CREATE TABLE github").await;
    assert!(
        ddl.contains("non_replicated_deduplication_window = 1000"),
        "{ddl}"
    );

    // Into a Memory table: created, with a warning that says why.
    run(&client, "CREATE TABLE github_mem AS github ENGINE = Memory").await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW github_mem_mv TO github_mem AS SELECT * FROM github_queue",
    )
    .await;
    let warned = take_notices(&notices, true).await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].starts_with("WARNING: KafkaEngine.github_mem_mv delivers at least once")
            && warned[0].contains("Memory"),
        "{warned:?}"
    );
    let (guarantee, reason) = guarantee_of(&client, "github_mem_mv").await;
    assert_eq!(guarantee, "at_least_once");
    assert!(
        reason.contains("KafkaEngine.github_mem is Memory"),
        "{reason}"
    );

    // The tutorial's view into a Kafka table produces at least once.
    run(
        &client,
        &fixture("sql/github_out_queue.sql").replace("host:port", &broker.bootstrap),
    )
    .await;
    run(&client, &fixture("sql/github_out_mv.sql")).await;
    assert_eq!(take_notices(&notices, true).await.len(), 1);
    let (guarantee, reason) = guarantee_of(&client, "github_out_mv").await;
    assert_eq!(guarantee, "at_least_once");
    assert!(
        reason.starts_with("views into Kafka tables produce at least once"),
        "{reason}"
    );

    // The table answers any query, in any format.
    assert_eq!(
        rows(
            &client,
            "SELECT name, source, destination, guarantee FROM system.kafka_views ORDER BY name FORMAT JSONEachRow",
        )
        .await,
        vec![
            vec![r#"{"name":"github_mem_mv","source":"KafkaEngine.github_queue","destination":"KafkaEngine.github_mem","guarantee":"at_least_once"}"#.to_string()],
            vec![r#"{"name":"github_mv","source":"KafkaEngine.github_queue","destination":"KafkaEngine.github","guarantee":"exactly_once"}"#.to_string()],
            vec![r#"{"name":"github_out_mv","source":"KafkaEngine.github","destination":"KafkaEngine.github_out_queue","guarantee":"at_least_once"}"#.to_string()],
        ]
    );
    assert_eq!(
        scalar(
            &client,
            "SELECT count() FROM system.kafka_views WHERE guarantee = 'exactly_once' AND reason = ''"
        )
        .await,
        "1"
    );

    // Required exactly once: the same view is refused, naming the reason;
    // the setting is kafkahouse's, and the backend never sees it.
    run(&client, "SET kafka_require_exactly_once = 1").await;
    let refused = error_of(
        &client,
        "CREATE MATERIALIZED VIEW github_mem_mv2 TO github_mem AS SELECT * FROM github_queue",
    )
    .await;
    assert!(
        refused.starts_with(
            "Code: 36. DB::Exception: KafkaEngine.github_mem_mv2 would deliver at least once"
        ) && refused.contains("Memory"),
        "{refused}"
    );
    assert_eq!(scalar(&client, "EXISTS TABLE github_mem_mv2").await, "0");
    let mixed = error_of(
        &client,
        "SET kafka_require_exactly_once = 0, max_threads = 2",
    )
    .await;
    assert!(mixed.starts_with("Code: 36."), "{mixed}");
    run(&client, "SET kafka_require_exactly_once = 0").await;
    run(
        &client,
        "CREATE MATERIALIZED VIEW github_mem_mv2 TO github_mem AS SELECT * FROM github_queue",
    )
    .await;
    assert_eq!(take_notices(&notices, true).await.len(), 1);

    // Over HTTP: the warning is a response header; the setting may come as
    // a URL parameter, as ClickHouse's settings do.
    let http = reqwest::Client::new();
    let url = format!("http://{}/", server.http_addr);
    let create = |name: &str| {
        format!("CREATE MATERIALIZED VIEW KafkaEngine.{name} TO KafkaEngine.github_mem AS SELECT * FROM KafkaEngine.github_queue")
    };
    let response = http
        .post(&url)
        .body(create("github_mem_mv3"))
        .send()
        .await
        .expect("HTTP request");
    assert!(response.status().is_success());
    let header: Vec<&str> = response
        .headers()
        .get_all("X-Kafkahouse-Warning")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(header.len(), 1, "{:?}", response.headers());
    assert!(
        header[0].contains("github_mem_mv3 delivers at least once"),
        "{header:?}"
    );
    let response = http
        .post(&url)
        .query(&[("kafka_require_exactly_once", "1")])
        .body(create("github_mem_mv4"))
        .send()
        .await
        .expect("HTTP request");
    assert_eq!(
        response
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok()),
        Some("36")
    );

    // Over the native protocol: a server log packet the client prints.
    let (stderr, ok) = native(
        &server,
        "CREATE MATERIALIZED VIEW github_mem_mv5 TO github_mem AS SELECT * FROM github_queue",
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("<Warning>") && stderr.contains("github_mem_mv5 delivers at least once"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_on_18_16_is_at_least_once_for_want_of_tokens() {
    let broker = Broker::start();
    broker.create_topic("github", 1);
    let clickhouse = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let (client, notices) = connect_keeping_notices(&server).await;

    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), true).await;
    let warned = take_notices(&notices, true).await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("18.16"), "{warned:?}");
    let (guarantee, reason) = guarantee_of(&client, "github_mv").await;
    assert_eq!(guarantee, "at_least_once");
    assert!(
        reason.starts_with("server 18.16") && reason.contains("insert_deduplication_token"),
        "{reason}"
    );
    // A remote server's table is the user's: kafkahouse changed nothing.
    let ddl = scalar(&client, "SHOW CREATE TABLE github").await;
    assert!(
        !ddl.contains("non_replicated_deduplication_window"),
        "{ddl}"
    );

    run(&client, "SET kafka_require_exactly_once = 1").await;
    run(&client, "DROP TABLE github_mv").await;
    let refused = error_of(
        &client,
        "CREATE MATERIALIZED VIEW github_mv TO github AS SELECT * FROM github_queue",
    )
    .await;
    assert!(
        refused.starts_with("Code: 36.") && refused.contains("18.16"),
        "{refused}"
    );
}
