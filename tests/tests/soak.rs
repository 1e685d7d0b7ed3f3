//! The long version of the fault suite, run by `scripts/soak` (ignored by
//! the test command): MESSAGES small messages (~100 bytes, a unique id each)
//! over PARTITIONS partitions of librdkafka's mock cluster, consumed on the
//! embedded engine into a plain MergeTree table, with KILLS SIGKILLs of
//! kafkahouse at random moments, each followed by a restart. At the end
//! `count()` and `uniqExact(id)` must both equal MESSAGES: nothing lost,
//! nothing written twice. Figures are printed as it goes.

use std::time::{Duration, Instant};

use kafkahouse_tests::kafka::run;
use kafkahouse_tests::{scalar, wait_for, Broker, Kafkahouse};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/soak"]
async fn sigkills_during_a_long_stream_lose_and_duplicate_nothing() {
    let messages = setting("MESSAGES", 1_000_000);
    let partitions = setting("PARTITIONS", 32) as i32;
    let kills = setting("KILLS", 10);
    let started = Instant::now();
    let broker = Broker::start();
    broker.create_topic("events", partitions);
    let payload = "x".repeat(64);
    let rows: Vec<String> = (0..messages)
        .map(|id| format!("{{\"id\":{id},\"s\":\"{payload}\"}}"))
        .collect();
    broker.produce("events", partitions, &rows).await;
    eprintln!("soak: {messages} messages in {partitions} partitions produced in {:?}", started.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Kafkahouse::embedded(&data);
    let client = server.connect().await;
    run(&client, "CREATE TABLE events (id UInt64, s String) ENGINE = MergeTree ORDER BY id").await;
    run(
        &client,
        &format!(
            "CREATE TABLE events_queue (id UInt64, s String) ENGINE = Kafka('{}', 'events', 'soak', 'JSONEachRow') SETTINGS kafka_max_block_size = 5000",
            broker.bootstrap
        ),
    )
    .await;
    run(&client, "CREATE MATERIALIZED VIEW events_mv TO events AS SELECT * FROM events_queue").await;
    drop(client);

    // Kill moments spread over the stream, not aligned with anything.
    let mut seed = started.elapsed().as_nanos() as u64 | 1;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n.max(1)
    };
    for kill in 0..kills {
        let client = server.connect().await;
        let target = messages * (kill + 1) / (kills + 2) + random(messages / (kills + 2));
        let deadline = Instant::now() + Duration::from_secs(300);
        let reached = loop {
            let n: u64 = scalar(&client, "SELECT count() FROM events").await.parse().unwrap_or(0);
            if n >= target || Instant::now() > deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        drop(client);
        drop(server); // SIGKILL
        eprintln!("soak: kill {} at {reached} rows ({:?})", kill + 1, started.elapsed());
        server = Kafkahouse::embedded(&data);
    }
    let client = server.connect().await;
    let unique = wait_for(
        &client,
        "SELECT uniqExact(id) FROM events",
        &messages.to_string(),
        Duration::from_secs(600),
    )
    .await;
    let total = scalar(&client, "SELECT count() FROM events").await;
    eprintln!("soak: {unique} unique, {total} rows of {messages}, {kills} kills, {:?}", started.elapsed());
    assert_eq!(unique, messages.to_string(), "messages lost");
    assert_eq!(total, messages.to_string(), "messages duplicated");
    server.stop();
}
