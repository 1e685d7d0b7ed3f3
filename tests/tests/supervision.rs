//! Supervision and shutdown, against the real process: SIGTERM ends the
//! server with exit status 0 (while it consumes, and when it never did),
//! and a consumer whose decoding panics (the test-only failpoint
//! `KAFKAHOUSE_FAILPOINTS=decode_panic_once`) is restarted by itself, shows
//! the panic in `system.kafka_consumers`, and catches up.

use kafkahouse_tests::kafka::{create_tutorial, run, Setup, WAIT};
use kafkahouse_tests::{github, github_queue_ddl, rows, scalar, wait_for, Broker, Kafkahouse};

const PARTITIONS: i32 = 3;

/// Every exception text of every consumer, one string.
async fn exceptions(client: &tokio_postgres::Client) -> String {
    rows(client, "SELECT exceptions.text FROM system.kafka_consumers")
        .await
        .concat()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_consuming_exits_with_status_0() {
    let s = Setup::new("github", PARTITIONS).await;
    s.broker
        .produce("github", PARTITIONS, &github::rows(21, 0, 1_000))
        .await;
    create_tutorial(&s.client, &github_queue_ddl(&s.broker.bootstrap), false).await;
    let count = "SELECT count() FROM github";
    let got = wait_for(&s.client, count, "1000", WAIT).await;
    assert_eq!(got, "1000", "server log:\n{}", s.server.log());

    let Setup {
        mut server, client, ..
    } = s;
    drop(client);
    let status = server.terminate();
    let log = server.log();
    assert_eq!(status.code(), Some(0), "exit {status}; server log:\n{log}");
    assert!(log.contains("shutting down"), "server log:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_a_fresh_data_directory_exits_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = server.connect().await;
    assert_eq!(scalar(&client, "SELECT 1").await, "1");
    drop(client);
    let status = server.terminate();
    let log = server.log();
    assert_eq!(status.code(), Some(0), "exit {status}; server log:\n{log}");
}

/// The issue's "a decode that panics: the consumer comes back by itself and
/// the table catches up".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_decoding_panics_is_restarted_and_catches_up() {
    let broker = Broker::start();
    broker.create_topic("github", PARTITIONS);
    broker
        .produce("github", PARTITIONS, &github::rows(22, 0, 2_000))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded_with_env(
        &dir.path().join("data"),
        &[("KAFKAHOUSE_FAILPOINTS", "decode_panic_once")],
    );
    let client = server.connect().await;
    create_tutorial(&client, &github_queue_ddl(&broker.bootstrap), false).await;

    let count = "SELECT count() FROM github";
    let got = wait_for(&client, count, "2000", WAIT).await;
    assert_eq!(got, "2000", "server log:\n{}", server.log());
    let texts = exceptions(&client).await;
    assert!(
        texts.contains("decode task panicked: failpoint decode_panic_once"),
        "{texts}"
    );
    assert!(
        texts.contains("consumer restarted after: decode task panicked"),
        "{texts}"
    );
    // Seen in system.kafka_consumers: running again, restarted once.
    assert_eq!(
        scalar(
            &client,
            "SELECT concat(CAST(is_currently_used AS VARCHAR), ' ', CAST(restarts AS VARCHAR)) FROM system.kafka_consumers"
        )
        .await,
        "1 1"
    );
    // The restarted consumer is a consumer: SYNC KAFKA waits for it.
    broker
        .produce_from("github", PARTITIONS, 2_000, &github::rows(22, 2_000, 2_100))
        .await;
    run(&client, "SYSTEM SYNC KAFKA github_queue TIMEOUT 60").await;
    assert_eq!(scalar(&client, count).await, "2100");
    assert_eq!(
        scalar(
            &client,
            "SELECT uniqExact(comment_id, created_at, title) FROM github"
        )
        .await,
        "2100"
    );
}
