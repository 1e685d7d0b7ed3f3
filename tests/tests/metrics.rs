//! `GET /metrics`: scraped while a backlog drains and parsed by the
//! Prometheus project's own OpenMetrics parser (`clients/parse_metrics.py`):
//! the lag is seen above 0 and falls to 0, the counters match what was read
//! and written, insert and commit latencies are recorded, and the
//! frontends' connections and queries are counted.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use kafkahouse_tests::kafka::{create_ids_pipeline, id_rows, Setup, WAIT};
use kafkahouse_tests::{pipe, wait_for};

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Scrapes `/metrics` and parses it strictly (a malformed page fails).
async fn scrape(s: &Setup) -> Vec<Sample> {
    let response = reqwest::get(format!("http://{}/metrics", s.server.http_addr))
        .await
        .expect("GET /metrics");
    assert!(response.status().is_success(), "{}", response.status());
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = response.text().await.expect("body");
    let script = format!("{}/clients/parse_metrics.py", env!("CARGO_MANIFEST_DIR"));
    let out = pipe(Command::new("python3").arg(script), text.as_bytes());
    assert!(
        out.status.success(),
        "not valid OpenMetrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            Sample {
                name: v["name"].as_str().unwrap_or_default().to_string(),
                labels: v["labels"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                value: v["value"].as_f64().unwrap_or(f64::NAN),
            }
        })
        .collect()
}

fn sum(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_a_backlog_draining_to_zero_lag() {
    const ROWS: u64 = 200_000;
    const PARTITIONS: i32 = 4;
    let s = Setup::new("events", PARTITIONS).await;
    let rows = id_rows(0, ROWS);
    s.broker.produce("events", PARTITIONS, &rows).await;
    create_ids_pipeline(&s, "events", "kafka_max_block_size = 500").await;

    // Scraped until the lag has been seen above 0 and then at 0 with every
    // row in.
    let deadline = Instant::now() + WAIT;
    let mut most_lag = 0.0f64;
    let last = loop {
        let samples = scrape(&s).await;
        let lag = sum(&samples, "kafkahouse_consumer_lag");
        most_lag = most_lag.max(lag);
        let partitions = samples
            .iter()
            .filter(|x| x.name == "kafkahouse_consumer_lag")
            .count();
        if partitions == PARTITIONS as usize
            && lag == 0.0
            && sum(&samples, "kafkahouse_rows_written_total") == ROWS as f64
        {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "lag {lag} over {partitions} partitions; log:\n{}",
            s.server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(most_lag > 0.0, "the backlog never showed as lag");
    assert_eq!(sum(&last, "kafkahouse_messages_read_total"), ROWS as f64);
    assert_eq!(
        sum(&last, "kafkahouse_committed_offset"),
        ROWS as f64,
        "committed offsets add up to the messages"
    );
    assert!(sum(&last, "kafkahouse_bytes_read_total") >= (ROWS * 8) as f64);
    assert!(sum(&last, "kafkahouse_rebalances_total") >= 1.0);
    assert_eq!(sum(&last, "kafkahouse_broken_messages_total"), 0.0);
    // Every block's insert and commit was timed.
    let inserts = sum(&last, "kafkahouse_insert_seconds_count");
    let commits = sum(&last, "kafkahouse_commit_seconds_count");
    assert!(inserts >= (ROWS / 500) as f64, "{inserts} inserts timed");
    assert!(commits >= (ROWS / 500) as f64, "{commits} commits timed");
    let lag_labels = &last
        .iter()
        .find(|x| x.name == "kafkahouse_consumer_lag")
        .expect("a lag sample")
        .labels;
    for key in ["database", "table", "topic", "partition", "instance"] {
        assert!(lag_labels.contains_key(key), "{lag_labels:?}");
    }
    assert_eq!(
        wait_for(
            &s.client,
            "SELECT count() FROM dest",
            &ROWS.to_string(),
            WAIT
        )
        .await,
        ROWS.to_string()
    );
    // The PostgreSQL connection and its statements were counted.
    let frontend = |name: &str| -> f64 {
        last.iter()
            .filter(|x| {
                x.name == name && x.labels.get("frontend").map(String::as_str) == Some("pg")
            })
            .map(|x| x.value)
            .sum()
    };
    assert!(frontend("kafkahouse_connections_total") >= 1.0);
    assert!(frontend("kafkahouse_queries_total") >= 3.0);
}
