//! kafkahouse's benchmark (run it through `scripts/bench`, a release build).
//!
//! Throughput mode: produces N rows of the tutorial's github data into a
//! topic of P partitions (librdkafka's mock cluster, or tansu), then moves
//! the same rows into the tutorial's table by every path of `options::Path`
//! — a plain consumer's ceiling, file inserts into ClickHouse 18.16 and into
//! the embedded engine, 18.16's own Kafka engine, kafkahouse into 18.16 and
//! kafkahouse embedded, and one against three kafkahouse instances sharing
//! a catalog — and prints each one's rows/s and memory, and the
//! ratios the project targets.
//!
//! Latency mode (`--latency`): kafkahouse embedded, rows produced at a
//! steady rate, the delay from each message's timestamp to its insert.

mod latency;
mod measure;
mod options;
mod paths;
mod report;
mod service;
mod setup;

use kafkahouse_tests::ClickHouseServer;

use options::{Mode, Path, Throughput};

/// 18.16 reads librdkafka's settings from its config only at start-up;
/// without this a new consumer group starts at the end of the topic.
const CLICKHOUSE_KAFKA_CONFIG: &str =
    "<kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>";

#[tokio::main]
async fn main() {
    let mode = match options::parse(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let result = match mode {
        Mode::Throughput(options) => throughput(options).await,
        Mode::Latency(options) => latency::run(options).await,
    };
    if let Err(e) = result {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

async fn throughput(options: Throughput) -> Result<(), String> {
    let (n, p) = (options.rows, options.partitions);
    if !options.tansu {
        setup::check_mock_capacity(n, p)?;
    }
    let broker = setup::start_broker(options.tansu);
    broker.create_topic("github", p);
    let keep_body = options.paths.iter().any(|path| path.needs_body());
    eprintln!("bench: producing {n} rows into {p} partitions");
    let (produce_secs, body) = setup::produce(&broker, n, p, keep_body).await;

    let clickhouse = options
        .paths
        .iter()
        .any(|path| path.needs_clickhouse())
        .then(|| ClickHouseServer::start_with_config(CLICKHOUSE_KAFKA_CONFIG));
    let bench = paths::Bench {
        rows: n,
        partitions: p,
        broker: &broker,
        body: &body,
        clickhouse: clickhouse.as_ref(),
    };
    let mut outcomes = Vec::new();
    let mut failures: Vec<(Path, String)> = Vec::new();
    for &path in &options.paths {
        eprintln!("bench: {} ...", path.name());
        match bench.run(path).await {
            Ok(outcome) => {
                eprintln!(
                    "bench: {}: {:.2} s, {:.0} rows/s",
                    path.name(),
                    outcome.seconds,
                    n as f64 / outcome.seconds
                );
                outcomes.push(outcome);
            }
            Err(e) => {
                eprintln!("bench: {}: {e}", path.name());
                failures.push((path, e));
            }
        }
    }

    let machine = measure::machine();
    report::print(
        &report::Run {
            machine: &machine,
            rows: n,
            partitions: p,
            broker: setup::broker_name(options.tansu),
            produce_secs,
        },
        &outcomes,
        &failures,
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} path(s) failed", failures.len()))
    }
}
