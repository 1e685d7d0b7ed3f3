//! Faults against real processes, counted in rows: the broker going away
//! mid-stream, offset commits failing, a second kafkahouse joining and
//! leaving the group. Every message must land exactly once: `count()` and
//! `uniqExact` of the rows in the destination both equal what was produced.
//! Short enough for the test command; `scripts/soak` runs longer versions.

use std::time::Duration;

use kafkahouse_tests::kafka::{create_tutorial, run, WAIT};
use kafkahouse_tests::{github, github_queue_ddl, scalar, wait_for, Broker, Kafkahouse};

const PARTITIONS: i32 = 8;
const DISTINCT: &str = "SELECT uniqExact(comment_id, created_at, title) FROM github";
const COUNT: &str = "SELECT count() FROM github";

/// The tutorial's Kafka table with small blocks (many commits to break).
fn queue(broker: &Broker) -> String {
    github_queue_ddl(&broker.bootstrap).replace(
        "kafka_num_consumers = 1;",
        "kafka_num_consumers = 1, kafka_max_block_size = 100;",
    )
}

/// Waits until the destination holds `rows` distinct rows, then checks that
/// it holds no more than that.
async fn assert_exactly(client: &tokio_postgres::Client, rows: u64, server: &Kafkahouse) {
    let distinct = wait_for(client, DISTINCT, &rows.to_string(), WAIT).await;
    assert_eq!(
        distinct,
        rows.to_string(),
        "rows lost; server log:\n{}",
        server.log()
    );
    let total = scalar(client, COUNT).await;
    assert_eq!(
        total,
        rows.to_string(),
        "rows duplicated; server log:\n{}",
        server.log()
    );
}

/// The broker goes away for a while mid-stream, then answers slowly, and
/// offset commits fail for a while after: consumption resumes by itself (no
/// restart), failed commits are retried, nothing is lost or written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_and_failed_commits_neither_lose_nor_duplicate() {
    const ROWS: u64 = 8_000;
    // 5 s here; OUTAGE_SECONDS=20 for the longer outage.
    let outage = Duration::from_secs(
        std::env::var("OUTAGE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(11, 0, ROWS))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    create_tutorial(&client, &queue(&broker), false).await;
    wait_for(&client, "SELECT count() > 0 FROM github", "1", WAIT).await;

    // The outage itself is the fault: the broker is down this long.
    broker.broker_down();
    let at_outage: u64 = scalar(&client, COUNT).await.parse().unwrap();
    tokio::time::sleep(outage).await;
    broker.fail_commits(5);
    // Back, but slow: every request 50 ms longer for the rest of the run.
    broker.delay_requests(Duration::from_millis(50));
    broker.broker_up();
    assert!(at_outage < ROWS, "the stream was over before the outage");
    assert_exactly(&client, ROWS, &server).await;
    assert!(
        server.log().contains("offset commit failed; will retry"),
        "no commit failed: the fault was not injected"
    );
}

/// A second kafkahouse joins the group and leaves it again, five times, while
/// the first consumes. The second writes through the first one's HTTP
/// interface (one engine holds the destination), with the same view, so a
/// partition moving between them replays its recorded block with the same
/// tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_joining_and_leaving_duplicates_nothing() {
    const ROWS: u64 = 12_000;
    const ROUNDS: u64 = 5;
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(13, 0, ROWS / 2))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let a = Kafkahouse::embedded(&dir.path().join("a"));
    let client = a.connect().await;
    create_tutorial(&client, &queue(&broker), false).await;
    wait_for(&client, "SELECT count() > 0 FROM github", "1", WAIT).await;

    for round in 0..ROUNDS {
        let b = Kafkahouse::remote(
            &dir.path().join(format!("b{round}")),
            &format!("http://{}", a.http_addr),
        );
        let other = b.connect().await;
        // The same Kafka table and view, in a database of its own (the
        // names in A's catalog are taken): same group, same destination,
        // the same SELECT text, so the same tokens.
        run(&other, "CREATE DATABASE IF NOT EXISTS b;").await;
        run(&other, "USE b;").await;
        run(&other, &queue(&broker)).await;
        run(
            &other,
            "CREATE MATERIALIZED VIEW github_mv TO KafkaEngine.github AS\nSELECT *\nFROM github_queue;",
        )
        .await;
        let first = round * ROWS / 10 + ROWS / 2;
        broker
            .produce_from(
                "github",
                PARTITIONS,
                first,
                &github::rows(13, first, first + ROWS / 10),
            )
            .await;
        // B has taken part: it consumed partitions of the group.
        wait_for(
            &other,
            "SELECT count() FROM system.kafka_consumers WHERE num_messages_read > 0",
            "1",
            WAIT,
        )
        .await;
        drop(other);
        // SIGTERM: B leaves the group, and A takes its partitions back.
        let mut b = b;
        b.terminate();
    }
    assert_exactly(&client, ROWS, &a).await;
}

/// On ClickHouse 18.16 (no deduplication tokens) the same SIGKILL loses
/// nothing; what it writes twice is counted and printed, and the view says
/// it is at least once, and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_a_sigkill_loses_nothing_and_the_view_says_at_least_once() {
    const ROWS: u64 = 6_000;
    let clickhouse = kafkahouse_tests::ClickHouseServer::start();
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(17, 0, ROWS))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::remote(&data, &clickhouse.url());
    let client = server.connect().await;
    create_tutorial(&client, &queue(&broker), true).await;
    let guarantee = scalar(
        &client,
        "SELECT guarantee || ': ' || reason FROM system.kafka_views WHERE name = 'github_mv'",
    )
    .await;
    assert!(
        guarantee.starts_with("at_least_once: server 18.16"),
        "{guarantee}"
    );
    wait_for(&client, "SELECT count() > 0 FROM github", "1", WAIT).await;
    drop(client);
    drop(server); // SIGKILL
    let server = Kafkahouse::remote(&data, &clickhouse.url());
    let client = server.connect_to("KafkaEngine").await;
    let distinct = wait_for(&client, DISTINCT, &ROWS.to_string(), WAIT).await;
    assert_eq!(
        distinct,
        ROWS.to_string(),
        "rows lost; server log:\n{}",
        server.log()
    );
    let total: u64 = scalar(&client, COUNT).await.parse().unwrap();
    eprintln!(
        "18.16 after SIGKILL: {} duplicated of {ROWS} (at least once)",
        total - ROWS
    );
}

/// The same SIGKILL on tansu, an independent broker implementation, which
/// drops offset-commit metadata (where the block in flight is recorded):
/// kafkahouse notices, the view says it is at least once and why, and after
/// the kill nothing is lost. (This test expected exactly once before, which
/// tansu cannot give: it failed intermittently when a block was cut afresh.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_on_a_broker_that_drops_commit_metadata_loses_nothing_and_says_so() {
    const ROWS: u64 = 6_000;
    let broker = Broker::tansu();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(19, 0, ROWS))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    create_tutorial(&client, &queue(&broker), false).await;
    wait_for(&client, "SELECT count() > 0 FROM github", "1", WAIT).await;
    let guarantee = wait_for(
        &client,
        "SELECT guarantee FROM system.kafka_views WHERE name = 'github_mv'",
        "at_least_once",
        WAIT,
    )
    .await;
    assert_eq!(guarantee, "at_least_once", "log:\n{}", server.log());
    let reason = scalar(
        &client,
        "SELECT reason FROM system.kafka_views WHERE name = 'github_mv'",
    )
    .await;
    assert!(reason.contains("drops offset-commit metadata"), "{reason}");
    let at_kill: u64 = scalar(&client, COUNT).await.parse().unwrap();
    drop(client);
    drop(server); // SIGKILL
    assert!(at_kill < ROWS, "the stream was over before the kill");
    let server = Kafkahouse::embedded(&data);
    let client = server.connect_to("KafkaEngine").await;
    let distinct = wait_for(&client, DISTINCT, &ROWS.to_string(), WAIT).await;
    assert_eq!(
        distinct,
        ROWS.to_string(),
        "rows lost; server log:\n{}",
        server.log()
    );
    let total: u64 = scalar(&client, COUNT).await.parse().unwrap();
    eprintln!(
        "tansu after SIGKILL: {} duplicated of {ROWS} (at least once)",
        total - ROWS
    );
}

/// A backend that stalls (SIGSTOP: connections accepted, never answered)
/// shows as an exception in `system.kafka_consumers` within the pipeline's
/// request deadline (30 s), and once it answers again (SIGCONT) the rows
/// catch up by themselves, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_backend_shows_as_an_exception_and_catches_up() {
    const ROWS: u64 = 2_000;
    let clickhouse = kafkahouse_tests::ClickHouseServer::start();
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(23, 0, ROWS / 2))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::remote(&dir.path().join("data"), &clickhouse.url());
    let client = server.connect().await;
    create_tutorial(&client, &queue(&broker), true).await;
    wait_for(&client, COUNT, &(ROWS / 2).to_string(), WAIT).await;

    clickhouse.signal("STOP");
    broker
        .produce_from(
            "github",
            PARTITIONS,
            ROWS / 2,
            &github::rows(23, ROWS / 2, ROWS),
        )
        .await;
    // system.kafka_consumers is kafkahouse's own: it answers while the
    // backend is stopped.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let stalled = loop {
        let texts = kafkahouse_tests::rows(
            &client,
            "SELECT exceptions.text FROM system.kafka_consumers",
        )
        .await
        .concat()
        .join("\n");
        if texts.contains("Timeout exceeded") || std::time::Instant::now() > deadline {
            break texts;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    clickhouse.signal("CONT");
    assert!(
        stalled.contains("Timeout exceeded"),
        "no timeout shown ({stalled}); server log:\n{}",
        server.log()
    );
    let got = wait_for(&client, DISTINCT, &ROWS.to_string(), WAIT).await;
    assert_eq!(got, ROWS.to_string(), "server log:\n{}", server.log());
}

/// SIGTERM mid-stream: the server finishes (or gives up) the block it is
/// writing, commits what it inserted, leaves the group and exits cleanly
/// within the insert deadline; started again, it writes every remaining
/// message exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_mid_stream_then_a_restart_loses_and_duplicates_nothing() {
    const ROWS: u64 = 8_000;
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(29, 0, ROWS))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    create_tutorial(&client, &queue(&broker), false).await;
    wait_for(&client, "SELECT count() > 0 FROM github", "1", WAIT).await;
    let at_term: u64 = scalar(&client, COUNT).await.parse().unwrap();
    assert!(at_term < ROWS, "the stream was over before the SIGTERM");
    drop(client);
    let started = std::time::Instant::now();
    let status = server.terminate();
    let took = started.elapsed();
    assert!(status.success(), "exit {status}; log:\n{}", server.log());
    assert!(took < Duration::from_secs(30), "SIGTERM took {took:?}");
    let log = server.log();
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    drop(server);
    let server = Kafkahouse::embedded(&data);
    let client = server.connect_to("KafkaEngine").await;
    assert_exactly(&client, ROWS, &server).await;
}
