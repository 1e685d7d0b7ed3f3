//! The latency mode (`bench --latency`): kafkahouse on its embedded engine
//! consumes while rows are produced at a steady rate; each row keeps its
//! message's timestamp (`_timestamp_ms AS produced`) and the time of its
//! insert (`inserted DateTime64(3) DEFAULT now64(3)`), and the engine
//! reports the distribution of `inserted - produced`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafkahouse_tests::github;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::measure::{self, drain, idle, peak_rss_mib, AnonSampler};
use crate::options::Latency;
use crate::paths::mib;
use crate::setup::{self, github_table};

/// How long to wait for the consumer's partitions, and for its first rows.
const WAIT: Duration = Duration::from_secs(120);

/// Consumers that have partitions, in kafkahouse's own system table
/// (answered by DataFusion, where `length` of an array is the length of its
/// text, "[]" is 2: `cardinality` counts the elements).
const ASSIGNED: &str =
    "SELECT count() FROM system.kafka_consumers WHERE cardinality(assignments.partition_id) > 0";

pub async fn run(options: Latency) -> Result<(), String> {
    let (p, total) = (options.partitions, options.rate * options.seconds);
    if !options.tansu && setup::check_mock_capacity(total, p).is_err() {
        eprintln!(
            "bench: warning: {total} rows exceed what {p} partitions of the mock cluster keep (about 5 MB each); rows are lost if kafkahouse falls that far behind"
        );
    }
    let broker = setup::start_broker(options.tansu);
    broker.create_topic("github", p);
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let server = setup::kafkahouse_embedded(dir.path());
    let client = server.connect().await;
    setup::run(&client, "CREATE DATABASE KafkaEngine").await?;
    setup::run(&client, "USE KafkaEngine").await?;
    setup::run(&client, &destination()).await?;
    setup::run(
        &client,
        &setup::kafkahouse_queue(&broker.bootstrap, "bench-latency"),
    )
    .await?;

    let pid = server.pid();
    let idle = idle(pid);
    let sampler = AnonSampler::start(pid);
    let created = Instant::now();
    setup::run(
        &client,
        "CREATE MATERIALIZED VIEW github_mv TO github AS SELECT *, _timestamp_ms AS produced FROM github_queue",
    )
    .await?;
    poll(
        || async { Ok(setup::value(&client, ASSIGNED).await? != "0") },
        "partitions assigned",
    )
    .await?;
    let assigned = Instant::now();
    eprintln!(
        "bench: partitions assigned after {:.2} s; producing {total} rows at {}/s",
        created.elapsed().as_secs_f64(),
        options.rate
    );

    let producer = tokio::spawn(produce_steadily(
        broker.bootstrap.clone(),
        p,
        options.rate,
        options.seconds,
    ));
    let first_rows = poll(
        || async { Ok(setup::pg_count(&client, "github").await? > 0) },
        "first rows",
    )
    .await
    .map(|()| assigned.elapsed().as_secs_f64());
    let produced = producer
        .await
        .map_err(|e| format!("the producer task failed: {e}"))??;
    let first_rows = first_rows?;
    let finished = Instant::now();
    let arrived = drain("latency", finished, total, || {
        setup::pg_count(&client, "github")
    })
    .await?;
    let peak_anon = sampler.finish();
    let peak_rss = peak_rss_mib(pid);

    let stats = setup::row(
        &client,
        "SELECT toString(q[1]), toString(q[2]), toString(m), toString(c), toString(i) FROM (
           SELECT quantiles(0.5, 0.99)(d) AS q, max(d) AS m, count() AS c, uniqExact(inserted) AS i
           FROM (SELECT toUnixTimestamp64Milli(inserted) - toUnixTimestamp64Milli(produced) AS d, inserted FROM github))",
    )
    .await?;
    let commits = setup::row(
        &client,
        "SELECT sum(num_commits), sum(rows_written) FROM system.kafka_consumers",
    )
    .await?;
    setup::print_log("latency", &server);

    let broker_name = setup::broker_name(options.tansu);
    println!("machine:           {}", measure::machine());
    println!(
        "latency mode:      {} msgs/s for {} s into {p} partitions ({broker_name}), kafkahouse embedded",
        options.rate, options.seconds
    );
    println!(
        "produced:          {total} rows in {:.2} s ({:.0} rows/s)",
        produced,
        total as f64 / produced
    );
    println!(
        "view created -> partitions assigned: {:.2} s (as system.kafka_consumers shows it: kafkahouse refreshes it from librdkafka's statistics, every second)",
        (assigned - created).as_secs_f64()
    );
    println!(
        "first rows visible after assignment: {first_rows:.2} s (production started at assignment)"
    );
    println!(
        "last rows visible: {:.2} s after the producer finished",
        arrived.seconds
    );
    println!(
        "inserted - produced: p50 {} ms, p99 {} ms, max {} ms over {} rows (quantiles(0.5, 0.99); produced = the message's timestamp, set when it was sent; inserted = now64(3) at the insert)",
        stats[0], stats[1], stats[2], stats[3]
    );
    println!(
        "inserts by the view: {} (distinct `inserted` values: one per insert, two in the same millisecond count once); offset commits {}, rows written {} (system.kafka_consumers)",
        stats[4], commits[0], commits[1]
    );
    println!(
        "kafkahouse memory: idle RSS {}, peak RSS {}, peak anon above idle {}",
        mib(idle.map(|i| i.rss_mib)),
        mib(peak_rss),
        mib(peak_anon.zip(idle).map(|(peak, idle)| peak - idle.anon_mib))
    );
    Ok(())
}

/// The tutorial's table plus the message's timestamp and the insert's time.
fn destination() -> String {
    let table = github_table("github", false);
    let engine = ") ENGINE = MergeTree";
    let with_times = table.replacen(
        engine,
        &format!(
            ",\n    produced DateTime64(3),\n    inserted DateTime64(3) DEFAULT now64(3)\n{engine}"
        ),
        1,
    );
    assert!(
        with_times != table,
        "the tutorial's table has no `{engine}`"
    );
    with_times
}

/// Polls `done` every 20 ms until it says so, for at most `WAIT`.
async fn poll<F, Fut>(mut done: F, what: &str) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let start = Instant::now();
    while !done().await? {
        if start.elapsed() > WAIT {
            return Err(format!("no {what} after {} s", WAIT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Produces `rate * seconds` rows to topic `github` at `rate` a second
/// (row i to partition i % partitions), each message timestamped when sent;
/// returns the seconds sending took, once every message is acknowledged.
async fn produce_steadily(
    bootstrap: String,
    partitions: i32,
    rate: u64,
    seconds: u64,
) -> Result<f64, String> {
    // The tests' producer settings (tests/src/broker.rs).
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .map_err(|e| format!("producer: {e}"))?;
    let total = rate * seconds;
    let mut deliveries = Vec::with_capacity(total as usize);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let payload = github::row(setup::SEED, sent);
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| format!("clock: {e}"))?
                .as_millis() as i64;
            let record = FutureRecord::<(), String>::to("github")
                .payload(&payload)
                .partition((sent % partitions as u64) as i32)
                .timestamp(now_ms);
            match producer.send_result(record) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    sent += 1;
                }
                // librdkafka's queue is full: let it drain, then go on.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => break,
                Err((e, _)) => return Err(format!("produce: {e}")),
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    for delivery in deliveries {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(format!("produce: {e}")),
            Err(_) => return Err("produce: the delivery report was lost".into()),
        }
    }
    Ok(seconds)
}
