//! The six paths of the throughput comparison, each over the same rows of
//! the same topic (each consumer in its own group, so each reads it all):
//! a plain consumer's ceiling, the rows as a file into ClickHouse 18.16 and
//! into the embedded engine, 18.16's own Kafka engine, and kafkahouse into
//! 18.16 and into its embedded engine.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kafkahouse_tests::{Broker, ClickHouseServer, Kafkahouse};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::measure::{self, drain, idle, peak_rss_mib, reset_peak_rss, AnonSampler, Idle};
use crate::options::Path;
use crate::setup::{self, github_table, Http};

/// What one path measured.
pub struct Outcome {
    pub path: Path,
    pub seconds: f64,
    /// Seconds until the first rows were visible (consumer paths).
    pub first_rows: Option<f64>,
    /// The memory of the process doing the work (kafkahouse, or 18.16).
    pub memory: Option<Memory>,
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmHWM: over kafkahouse's whole life (a process per path); over the
    /// path only for the 18.16 server that several paths share.
    pub peak_rss_mib: Option<f64>,
    /// Before the work started (before the view, or the insert).
    pub idle: Option<Idle>,
    /// The largest RssAnon sampled every 50 ms during the work.
    pub peak_anon_mib: Option<f64>,
}

impl Memory {
    pub fn anon_above_idle(&self) -> Option<f64> {
        Some(self.peak_anon_mib? - self.idle?.anon_mib)
    }

    /// Starts watching process `pid` (its idle memory now, then its
    /// `RssAnon` sampled until `finish`).
    fn watch(pid: u32) -> Watching {
        Watching {
            pid,
            idle: idle(pid),
            sampler: AnonSampler::start(pid),
        }
    }
}

/// A process's memory being watched while a path works.
struct Watching {
    pid: u32,
    idle: Option<Idle>,
    sampler: AnonSampler,
}

impl Watching {
    fn finish(self) -> Memory {
        Memory {
            peak_anon_mib: self.sampler.finish(),
            peak_rss_mib: peak_rss_mib(self.pid),
            idle: self.idle,
        }
    }
}

/// What the paths share.
pub struct Bench<'a> {
    pub rows: u64,
    pub partitions: i32,
    pub broker: &'a Broker,
    /// The rows as one JSONEachRow body (empty when no file path runs).
    pub body: &'a [u8],
    /// The ClickHouse 18.16 server (when a path needs it).
    pub clickhouse: Option<&'a ClickHouseServer>,
}

impl Bench<'_> {
    pub async fn run(&self, path: Path) -> Result<Outcome, String> {
        match path {
            Path::Ceiling => self.ceiling().await,
            Path::ChFile => self.clickhouse_file().await,
            Path::EmbeddedFile => self.embedded_file().await,
            Path::ChParts => self.clickhouse_parts().await,
            Path::EmbeddedParts => self.embedded_parts().await,
            Path::ChKafka => self.clickhouse_kafka().await,
            Path::Remote => self.remote().await,
            Path::Embedded => self.embedded().await,
            Path::Service1 => self.service(Path::Service1, 1).await,
            Path::Service3 => self.service(Path::Service3, 3).await,
        }
    }

    fn clickhouse(&self) -> Result<(&ClickHouseServer, u32), String> {
        let server = self
            .clickhouse
            .ok_or("no ClickHouse 18.16 server was started")?;
        let pid = server
            .pid()
            .ok_or("the ClickHouse 18.16 server is not running")?;
        Ok((server, pid))
    }

    /// A plain rdkafka consumer assigned every partition from the start,
    /// reading until each reports its end (`enable.partition.eof`): no
    /// group join, no parsing, no inserts.
    async fn ceiling(&self) -> Result<Outcome, String> {
        let (bootstrap, partitions, rows) =
            (self.broker.bootstrap.clone(), self.partitions, self.rows);
        tokio::task::spawn_blocking(move || consume_all(&bootstrap, partitions, rows))
            .await
            .map_err(|e| format!("the consumer thread failed: {e}"))?
    }

    /// The rows as one JSONEachRow body POSTed to 18.16's HTTP interface,
    /// into the tutorial's MergeTree table in 18.16's dialect.
    async fn clickhouse_file(&self) -> Result<Outcome, String> {
        let (server, pid) = self.clickhouse()?;
        let http = Http::new(&server.url());
        http.run("CREATE DATABASE IF NOT EXISTS bench_file").await?;
        http.run(&github_table("bench_file.github", true)).await?;
        reset_peak_rss(pid)?;
        self.post_file(Path::ChFile, &http, pid).await
    }

    /// The same body POSTed to kafkahouse's HTTP interface, kafkahouse on
    /// its embedded engine (the tutorial's DDL verbatim).
    async fn embedded_file(&self) -> Result<Outcome, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let server = setup::kafkahouse_embedded(dir.path());
        let client = server.connect().await;
        setup::run(&client, "CREATE DATABASE bench_file").await?;
        setup::run(&client, &github_table("bench_file.github", false)).await?;
        let http = Http::new(&format!("http://{}", server.http_addr));
        let outcome = self
            .post_file(Path::EmbeddedFile, &http, server.pid())
            .await;
        setup::print_log("embedded-file", &server);
        outcome
    }

    /// The rows as one insert per partition's worth into 18.16 (see
    /// `post_parts`).
    async fn clickhouse_parts(&self) -> Result<Outcome, String> {
        let (server, pid) = self.clickhouse()?;
        let http = Http::new(&server.url());
        http.run("CREATE DATABASE IF NOT EXISTS bench_parts")
            .await?;
        http.run(&github_table("bench_parts.github", true)).await?;
        reset_peak_rss(pid)?;
        self.post_parts(Path::ChParts, &http, pid).await
    }

    /// The same inserts into kafkahouse's embedded engine.
    async fn embedded_parts(&self) -> Result<Outcome, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let server = setup::kafkahouse_embedded(dir.path());
        let client = server.connect().await;
        setup::run(&client, "CREATE DATABASE bench_parts").await?;
        setup::run(&client, &github_table("bench_parts.github", false)).await?;
        let http = Http::new(&format!("http://{}", server.http_addr));
        let outcome = self
            .post_parts(Path::EmbeddedParts, &http, server.pid())
            .await;
        setup::print_log("embedded-parts", &server);
        outcome
    }

    /// Times the rows as one JSONEachRow insert per partition's worth of
    /// rows (rows / partitions each, the size of kafkahouse's blocks when a
    /// backlog is drained), two inserts at a time as kafkahouse's two write
    /// lanes make them: what the backend can take as the parts exactly-once
    /// blocks make, with no Kafka and no decoding in the way.
    async fn post_parts(&self, path: Path, http: &Http, pid: u32) -> Result<Outcome, String> {
        let lines: Vec<&[u8]> = self.body.split_inclusive(|b| *b == b'\n').collect();
        let per_part = lines.len().div_ceil(self.partitions.max(1) as usize).max(1);
        let parts: Vec<Vec<u8>> = lines.chunks(per_part).map(|c| c.concat()).collect();
        let inserts = parts.len();
        let (even, odd): (Vec<_>, Vec<_>) =
            parts.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let lane = |parts: Vec<(usize, Vec<u8>)>| async move {
            for (_, part) in parts {
                http.post("INSERT INTO bench_parts.github FORMAT JSONEachRow", part)
                    .await?;
            }
            Ok::<(), String>(())
        };
        let watching = Memory::watch(pid);
        let start = Instant::now();
        let (a, b) = futures::join!(lane(even), lane(odd));
        a?;
        b?;
        let seconds = start.elapsed().as_secs_f64();
        let memory = watching.finish();
        self.expect_count(http.count("bench_parts.github").await?)?;
        Ok(Outcome {
            path,
            seconds,
            first_rows: None,
            memory: Some(memory),
            notes: vec![format!(
                "{}: {inserts} inserts of about {per_part} rows, two at a time",
                path.name()
            )],
        })
    }

    /// Times the rows as one POST into `bench_file.github` through `http`,
    /// watching the memory of `pid` (the server inserting), and checks the
    /// count afterwards.
    async fn post_file(&self, path: Path, http: &Http, pid: u32) -> Result<Outcome, String> {
        let body = self.body.to_vec();
        let watching = Memory::watch(pid);
        let start = Instant::now();
        http.post("INSERT INTO bench_file.github FORMAT JSONEachRow", body)
            .await?;
        let seconds = start.elapsed().as_secs_f64();
        let memory = watching.finish();
        self.expect_count(http.count("bench_file.github").await?)?;
        Ok(Outcome {
            path,
            seconds,
            first_rows: None,
            memory: Some(memory),
            notes: Vec::new(),
        })
    }

    /// ClickHouse 18.16's own Kafka engine: the tutorial's Kafka table in
    /// 18.16's dialect (same settings), a MergeTree destination and a
    /// materialized view, timed from the view's creation.
    async fn clickhouse_kafka(&self) -> Result<Outcome, String> {
        let (server, pid) = self.clickhouse()?;
        let http = Http::new(&server.url());
        http.run("CREATE DATABASE IF NOT EXISTS bench_kafka")
            .await?;
        http.run(&github_table("bench_kafka.github", true)).await?;
        http.run(&setup::clickhouse_queue(
            "bench_kafka.github_queue",
            &self.broker.bootstrap,
            "bench-ch-kafka",
        ))
        .await?;
        reset_peak_rss(pid)?;
        let watching = Memory::watch(pid);
        let start = Instant::now();
        http.run("CREATE MATERIALIZED VIEW bench_kafka.github_mv TO bench_kafka.github AS SELECT * FROM bench_kafka.github_queue")
            .await?;
        let drained = drain("ch-kafka", start, self.rows, || {
            http.count("bench_kafka.github")
        })
        .await;
        let memory = watching.finish();
        // Its consumer would go on polling the broker during the next paths.
        let mut notes = Vec::new();
        for drop in [
            "DROP TABLE bench_kafka.github_mv",
            "DROP TABLE bench_kafka.github_queue",
        ] {
            if let Err(e) = http.run(drop).await {
                notes.push(format!("ch-kafka: {e}"));
            }
        }
        let drained = drained.map_err(|e| {
            let log = server.error_log();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("{e}; the end of 18.16's error log:\n{}", tail.join("\n"))
        })?;
        Ok(Outcome {
            path: Path::ChKafka,
            seconds: drained.seconds,
            first_rows: Some(drained.first_rows),
            memory: Some(memory),
            notes,
        })
    }

    /// kafkahouse with the 18.16 server as its backend: the tutorial's DDL
    /// through kafkahouse in 18.16's dialect (kafkahouse forwards DDL
    /// verbatim; 18.16 has no plain `Enum`).
    async fn remote(&self) -> Result<Outcome, String> {
        let (clickhouse, clickhouse_pid) = self.clickhouse()?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let server = setup::kafkahouse_remote(dir.path(), &clickhouse.url());
        let client = server.connect().await;
        setup::run(&client, "CREATE DATABASE KafkaEngine").await?;
        setup::run(&client, "USE KafkaEngine").await?;
        setup::run(&client, &github_table("github", true)).await?;
        let queue = setup::kafkahouse_queue(&self.broker.bootstrap, "bench-remote");
        setup::run(&client, &setup::dialect(&queue, true)).await?;
        let http = Http::new(&clickhouse.url());
        reset_peak_rss(clickhouse_pid)?;
        let clickhouse_watching = Memory::watch(clickhouse_pid);
        let outcome = self
            .kafkahouse_view(Path::Remote, &server, &client, || {
                http.count("KafkaEngine.github")
            })
            .await;
        let clickhouse_memory = clickhouse_watching.finish();
        setup::print_log("remote", &server);
        let mut outcome = outcome?;
        outcome.notes.push(format!(
            "remote: the 18.16 server meanwhile: peak RSS {}, peak anon above idle {}",
            mib(clickhouse_memory.peak_rss_mib),
            mib(clickhouse_memory.anon_above_idle())
        ));
        Ok(outcome)
    }

    /// kafkahouse on its embedded engine: the tutorial's DDL verbatim.
    async fn embedded(&self) -> Result<Outcome, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let server = setup::kafkahouse_embedded(dir.path());
        let client = server.connect().await;
        setup::run(&client, "CREATE DATABASE KafkaEngine").await?;
        setup::run(&client, "USE KafkaEngine").await?;
        setup::run(
            &client,
            &kafkahouse_tests::fixture("sql/github_mergetree.sql"),
        )
        .await?;
        let queue = setup::kafkahouse_queue(&self.broker.bootstrap, "bench-embedded");
        setup::run(&client, &queue).await?;
        let outcome = self
            .kafkahouse_view(Path::Embedded, &server, &client, || {
                setup::pg_count(&client, "github")
            })
            .await;
        setup::print_log("embedded", &server);
        outcome
    }

    /// Creates the tutorial's view on a kafkahouse whose tables exist and
    /// times it until `count` reaches the rows, sampling its memory.
    pub(crate) async fn kafkahouse_view<F, Fut>(
        &self,
        path: Path,
        server: &Kafkahouse,
        client: &tokio_postgres::Client,
        count: F,
    ) -> Result<Outcome, String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<u64, String>>,
    {
        let pid = server.pid();
        let watching = Memory::watch(pid);
        let start = Instant::now();
        setup::run(
            client,
            "CREATE MATERIALIZED VIEW github_mv TO github AS SELECT * FROM github_queue",
        )
        .await?;
        let drained = drain(path.name(), start, self.rows, count).await;
        let memory = watching.finish();
        let drained = drained?;
        Ok(Outcome {
            path,
            seconds: drained.seconds,
            first_rows: Some(drained.first_rows),
            memory: Some(memory),
            notes: Vec::new(),
        })
    }

    fn expect_count(&self, count: u64) -> Result<(), String> {
        if count == self.rows {
            Ok(())
        } else {
            Err(format!(
                "{count} rows in the table after inserting {}",
                self.rows
            ))
        }
    }
}

/// The ceiling's consumer (a blocking loop, on its own thread).
fn consume_all(bootstrap: &str, partitions: i32, rows: u64) -> Result<Outcome, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-ceiling")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(|e| format!("consumer: {e}"))?;
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset("github", p, Offset::Beginning)
            .map_err(|e| format!("partition {p}: {e}"))?;
    }
    let start = Instant::now();
    consumer.assign(&list).map_err(|e| format!("assign: {e}"))?;
    let mut at_end = HashSet::new();
    let mut read = 0u64;
    let mut first_rows = None;
    while at_end.len() < partitions as usize {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                read += 1;
                first_rows.get_or_insert_with(|| start.elapsed().as_secs_f64());
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(format!("{e}")),
            None => {}
        }
        if start.elapsed() > measure::DRAIN_TIMEOUT {
            return Err(format!(
                "{} of {partitions} partitions read to the end after {} s",
                at_end.len(),
                measure::DRAIN_TIMEOUT.as_secs()
            ));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if read != rows {
        return Err(format!("read {read} messages of {rows}"));
    }
    Ok(Outcome {
        path: Path::Ceiling,
        seconds,
        first_rows,
        memory: None,
        notes: Vec::new(),
    })
}

/// "123 MiB", or "-" when unknown.
pub fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.0} MiB"))
}
