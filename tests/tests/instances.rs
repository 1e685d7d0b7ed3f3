//! Several kafkahouse instances as one service: a catalog shared through a
//! Kafka topic, one consumer group per Kafka table across instances, and
//! every instance's consumers in `system.kafka_consumers`. Three instances
//! write through the HTTP interface of a fourth kafkahouse that runs the
//! embedded engine (one destination, deduplication tokens honoured), on
//! librdkafka's mock cluster and on tansu.

use std::time::Duration;

use kafkahouse_tests::kafka::{run, WAIT};
use kafkahouse_tests::{error_text, scalar, wait_for, Broker, Kafkahouse};

const CATALOG: &str = "kafkahouse_catalog";
/// The key secrets are sealed with in the shared catalog.
const KEY: &str = "5f0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100";

/// The service: a backend kafkahouse and instances sharing one catalog.
struct Service {
    backend: Kafkahouse,
    dir: tempfile::TempDir,
    bootstrap: String,
}

impl Service {
    fn new(broker: &Broker) -> Service {
        broker.create_topic(CATALOG, 1);
        broker.create_topic(&format!("{CATALOG}-status"), 1);
        let dir = tempfile::tempdir().unwrap();
        let backend = Kafkahouse::embedded(&dir.path().join("backend"));
        Service {
            backend,
            dir,
            bootstrap: broker.bootstrap.clone(),
        }
    }

    /// Instance `name`, started on the shared catalog (its data directory
    /// kept between restarts).
    fn instance(&self, name: &str) -> Kafkahouse {
        let url = format!("http://{}", self.backend.http_addr);
        Kafkahouse::start(
            &self.dir.path().join(name),
            &[
                "--clickhouse-url",
                &url,
                "--catalog-topic",
                CATALOG,
                "--catalog-brokers",
                &self.bootstrap,
                "--catalog-key",
                KEY,
                "--instance-id",
                name,
            ],
        )
    }
}

/// Waits until `sql` on `client` succeeds (`true`) or fails (`false`).
async fn until_succeeds(client: &tokio_postgres::Client, sql: &str, wanted: bool) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let ok = client.simple_query(sql).await.is_ok();
        if ok == wanted {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sql} still {}",
            if ok { "succeeds" } else { "fails" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn queue_ddl(name: &str, bootstrap: &str, topic: &str) -> String {
    format!(
        "CREATE TABLE {name} (id UInt64) ENGINE = Kafka SETTINGS kafka_broker_list = '{bootstrap}', \
         kafka_topic_list = '{topic}', kafka_group_name = '{topic}_group', kafka_format = 'JSONEachRow', \
         kafka_max_block_size = 20000, kafka_sasl_password = 'not-in-the-topic'"
    )
}

async fn catalog_is_shared(broker: Broker) {
    broker.create_topic("events", 4);
    let service = Service::new(&broker);
    let a = service.instance("a");
    let b = service.instance("b");
    let c = service.instance("c");
    let (ca, cb, cc) = (a.connect().await, b.connect().await, c.connect().await);
    run(
        &ca,
        "CREATE TABLE dest (id UInt64) ENGINE = MergeTree ORDER BY id",
    )
    .await;
    run(&ca, &queue_ddl("q", &service.bootstrap, "events")).await;
    run(
        &ca,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT id FROM q",
    )
    .await;
    // DDL returns once the instance that received it has applied it.
    assert_eq!(
        scalar(&ca, "SELECT count() FROM system.kafka_views").await,
        "1"
    );
    for other in [&cb, &cc] {
        until_succeeds(other, "SHOW CREATE TABLE q", true).await;
        let view = wait_for(
            other,
            "SELECT count() FROM system.kafka_views WHERE name = 'mv'",
            "1",
            WAIT,
        )
        .await;
        assert_eq!(view, "1");
        let shown = scalar(other, "SHOW CREATE TABLE q").await;
        assert!(
            shown.contains("[HIDDEN]") && !shown.contains("not-in-the-topic"),
            "{shown}"
        );
    }
    // The password travels sealed: the topic never holds it in clear text.
    let records = broker.read_topic(CATALOG, 1, 3, Duration::from_secs(10));
    assert!(records.len() >= 2, "{records:?}");
    assert!(
        records.iter().all(|r| !r.contains("not-in-the-topic"))
            && records.iter().any(|r| r.contains("sealed:v1:")),
        "{records:?}"
    );

    // DROP on C removes them everywhere.
    run(&cc, "DROP TABLE mv").await;
    run(&cc, "DROP TABLE q").await;
    for other in [&ca, &cb] {
        let views = wait_for(other, "SELECT count() FROM system.kafka_views", "0", WAIT).await;
        assert_eq!(views, "0");
        until_succeeds(other, "SHOW CREATE TABLE q", false).await;
    }

    // Two instances create the same table at once: log order decides.
    let ddl = queue_ddl("r", &service.bootstrap, "events");
    let (on_a, on_b) = tokio::join!(ca.simple_query(&ddl), cb.simple_query(&ddl));
    let outcomes = [on_a.map(|_| ()), on_b.map(|_| ())];
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(error_text))
        .collect();
    assert_eq!(failed.len(), 1, "exactly one CREATE fails: {failed:?}");
    assert!(failed[0].contains("Code: 57"), "{}", failed[0]);
    for client in [&ca, &cb, &cc] {
        until_succeeds(client, "SHOW CREATE TABLE r", true).await;
    }
    // A restarted instance reads the catalog back from the topic.
    drop(cc);
    drop(c);
    let c = service.instance("c");
    let cc = c.connect().await;
    assert!(scalar(&cc, "SHOW CREATE TABLE r")
        .await
        .contains("ENGINE = Kafka"));
}

/// A Kafka table and its view created on A appear on B and C; DROP on C
/// removes them everywhere; two instances creating one table at once: one
/// succeeds, one gets Code 57 (librdkafka's mock cluster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_on_one_instance_reaches_every_instance() {
    catalog_is_shared(Broker::start()).await;
}

/// The same on tansu, an independent broker implementation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_on_one_instance_reaches_every_instance_on_tansu() {
    catalog_is_shared(Broker::tansu()).await;
}

/// 1,000,000 messages over 32 partitions, consumed by three instances in
/// one group; mid-stream one is SIGKILLed and restarted and another stopped
/// with SIGTERM and started again. Every message lands exactly once, and
/// `system.kafka_consumers` on one instance lists all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_write_a_million_messages_exactly_once() {
    const PARTITIONS: i32 = 32;
    // 1,000,000 here; MESSAGES=... for other sizes.
    let messages: u64 = std::env::var("MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let rows = |from: u64, to: u64| -> Vec<String> {
        (from..to).map(|i| format!("{{\"id\":{i}}}")).collect()
    };
    let broker = Broker::start();
    broker.create_topic("events", PARTITIONS);
    let service = Service::new(&broker);
    let a = service.instance("a");
    let b = service.instance("b");
    let c = service.instance("c");
    let ca = a.connect().await;
    run(
        &ca,
        "CREATE TABLE dest (id UInt64) ENGINE = MergeTree ORDER BY id \
         SETTINGS non_replicated_deduplication_window = 1000",
    )
    .await;
    run(&ca, &queue_ddl("q", &service.bootstrap, "events")).await;
    run(
        &ca,
        "CREATE MATERIALIZED VIEW mv TO dest AS SELECT id FROM q",
    )
    .await;
    let guarantee = scalar(&ca, "SELECT guarantee FROM system.kafka_views").await;
    assert_eq!(guarantee, "exactly_once");
    let first = messages / 10;
    broker.produce("events", PARTITIONS, &rows(0, first)).await;

    // One group across the instances: each holds partitions, and A sees all
    // three in system.kafka_consumers.
    let spread = wait_for(
        &ca,
        "SELECT count(DISTINCT instance) FROM system.kafka_consumers WHERE length(assignments.partition_id) > 0",
        "3",
        WAIT,
    )
    .await;
    assert_eq!(spread, "3", "logs:\n{}\n{}\n{}", a.log(), b.log(), c.log());

    let rest = rows(first, messages);
    let producing = broker.produce_from("events", PARTITIONS, first, &rest);
    let restarting = async {
        let count = |at_least: u64| format!("SELECT count() >= {at_least} FROM dest");
        wait_for(&ca, &count(messages / 5), "1", WAIT).await;
        // SIGKILL B mid-stream, and start it again.
        let at_kill: u64 = scalar(&ca, "SELECT count() FROM dest")
            .await
            .parse()
            .unwrap();
        drop(b);
        let b = service.instance("b");
        wait_for(&ca, &count(messages / 2), "1", WAIT).await;
        // SIGTERM C mid-stream: it leaves the group cleanly, committing what
        // it inserted; then it starts again.
        let mut c = c;
        let at_term: u64 = scalar(&ca, "SELECT count() FROM dest")
            .await
            .parse()
            .unwrap();
        eprintln!("rows in at the SIGKILL: {at_kill}; at the SIGTERM: {at_term} of {messages}");
        assert!(at_term < messages, "the stream was over before the SIGTERM");
        let status = c.terminate();
        assert!(status.success(), "SIGTERM exit: {status}\n{}", c.log());
        assert!(c.log().contains("stopped"), "{}", c.log());
        drop(c);
        (b, service.instance("c"))
    };
    // The rest arrives while instances die and restart.
    let ((), (b, c)) = tokio::join!(producing, restarting);

    let expected = messages.to_string();
    let distinct = wait_for(&ca, "SELECT uniqExact(id) FROM dest", &expected, WAIT * 3).await;
    assert_eq!(
        distinct,
        expected,
        "messages lost; logs:\n{}\n{}\n{}",
        a.log(),
        b.log(),
        c.log()
    );
    let total = scalar(&ca, "SELECT count() FROM dest").await;
    assert_eq!(total, expected, "messages written twice");
    // Every partition committed to its end, as seen from any instance.
    let cb = b.connect().await;
    run(&cb, "SYSTEM SYNC KAFKA q TIMEOUT 60").await;
}
