//! End-to-end throughput of kafkahouse: produces N rows of the tutorial's
//! github data into a topic with P partitions (librdkafka's mock cluster),
//! starts kafkahouse on its embedded ClickHouse, runs the tutorial's DDL and
//! reports rows/s until `SELECT count() FROM github` reaches N, and the
//! server's peak memory. Run it through `scripts/bench` (release build).

use std::time::{Duration, Instant};

use kafkahouse_tests::{fixture, github, scalar, Broker, Kafkahouse};

struct Options {
    rows: u64,
    partitions: i32,
    tansu: bool,
}

/// librdkafka's mock cluster keeps about 5 MB per partition and drops older
/// messages: a bench over that would wait forever for deleted rows.
const MOCK_PARTITION_BYTES: u64 = 5 * 1024 * 1024;

fn options() -> Result<Options, String> {
    let mut options = Options {
        rows: 200_000,
        partitions: 64,
        tansu: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--rows" => options.rows = value.parse().map_err(|e| format!("--rows: {e}"))?,
            "--partitions" => {
                options.partitions = value.parse().map_err(|e| format!("--partitions: {e}"))?
            }
            "--broker" => match value.as_str() {
                "mock" => options.tansu = false,
                "tansu" => options.tansu = true,
                other => return Err(format!("--broker: {other} is neither mock nor tansu")),
            },
            other => {
                return Err(format!(
                    "unknown option {other} (use --rows N --partitions P --broker mock|tansu)"
                ))
            }
        }
    }
    Ok(options)
}

/// `VmHWM` of a process, in MiB: its peak resident memory.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let n = options.rows;
    let p = options.partitions;

    if !options.tansu {
        let row_bytes = github::rows(7, 0, 100)
            .iter()
            .map(|r| r.len() as u64)
            .sum::<u64>()
            / 100;
        let per_partition = n.div_ceil(p.max(1) as u64) * row_bytes;
        if per_partition > MOCK_PARTITION_BYTES * 9 / 10 {
            eprintln!(
                "bench: {n} rows in {p} partitions is {} MB per partition; the mock cluster keeps about 5 MB: use more partitions or --broker tansu",
                per_partition / 1_000_000
            );
            std::process::exit(2);
        }
    }
    let broker = if options.tansu {
        Broker::tansu()
    } else {
        Broker::start()
    };
    broker.create_topic("github", p);
    let produce_start = Instant::now();
    for from in (0..n).step_by(20_000) {
        let to = (from + 20_000).min(n);
        broker
            .produce_from("github", p, from, &github::rows(7, from, to))
            .await;
    }
    let produce_secs = produce_start.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().expect("temp dir");
    let lib = kafkahouse_tests::libchdb();
    // BENCH_LOG_LEVEL=kafkahouse=debug shows each block's timing in the
    // server log (printed at the end); quiet by default.
    let log_level = std::env::var("BENCH_LOG_LEVEL").unwrap_or_else(|_| "warn".into());
    let server = Kafkahouse::start(
        &dir.path().join("data"),
        &[
            "--libchdb",
            lib.to_str().expect("utf-8 path"),
            "--log-level",
            &log_level,
        ],
    );
    let client = server.connect().await;
    let run = |sql: String| {
        let client = &client;
        async move {
            if let Err(e) = client.simple_query(&sql).await {
                panic!("{sql}: {}", kafkahouse_tests::error_text(&e));
            }
        }
    };
    run("CREATE DATABASE KafkaEngine".into()).await;
    run("USE KafkaEngine".into()).await;
    run(fixture("sql/github_mergetree.sql")).await;
    run(kafkahouse_tests::github_queue_ddl(&broker.bootstrap)).await;

    let start = Instant::now();
    run("CREATE MATERIALIZED VIEW github_mv TO github AS SELECT * FROM github_queue".into()).await;
    let mut first_rows: Option<Instant> = None;
    let target = n.to_string();
    loop {
        let count = scalar(&client, "SELECT count() FROM github").await;
        if first_rows.is_none() && count != "0" {
            first_rows = Some(Instant::now());
        }
        if count == target {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            eprintln!("bench: gave up at {count} of {n} rows after 600 s");
            std::process::exit(1);
        }
        // Polling count() costs the server CPU too: not too often.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = start.elapsed().as_secs_f64();
    let streaming = first_rows
        .map(|t| t.elapsed().as_secs_f64())
        .unwrap_or(total);
    let peak = peak_rss_mib(server.pid()).unwrap_or(f64::NAN);

    println!("machine:           {}", machine());
    let broker_name = if options.tansu {
        "tansu"
    } else {
        "librdkafka mock cluster"
    };
    println!("rows:              {n} ({p} partitions, {broker_name})");
    println!("produced in:       {produce_secs:.2} s");
    println!(
        "end to end:        {total:.2} s, {:.0} rows/s (includes the consumer group join)",
        n as f64 / total
    );
    println!(
        "after first rows:  {streaming:.2} s, {:.0} rows/s",
        n as f64 / streaming.max(1e-9)
    );
    println!("kafkahouse peak RSS: {peak:.0} MiB");
    if std::env::var_os("BENCH_LOG_LEVEL").is_some() {
        eprintln!("{}", server.log());
    }
}
