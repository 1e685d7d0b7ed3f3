//! What every path shares: the rows produced once (and kept as one
//! JSONEachRow body for the file inserts), kafkahouse started for a path,
//! statements through its PostgreSQL port or an HTTP interface, and the
//! tutorial's DDL in the dialects and consumer groups the paths need.

use std::path::Path as FsPath;
use std::time::Instant;

use kafkahouse_tests::{fixture, github, Broker, Kafkahouse};

/// The data set's seed: the same rows as the bench always produced.
pub const SEED: u64 = 7;

/// librdkafka's mock cluster keeps about 5 MB per partition and drops older
/// messages: a bench over that would wait forever for deleted rows.
const MOCK_PARTITION_BYTES: u64 = 5 * 1024 * 1024;

/// Refuses a run whose partitions would overflow the mock cluster.
pub fn check_mock_capacity(rows: u64, partitions: i32) -> Result<(), String> {
    let row_bytes = github::rows(SEED, 0, 100)
        .iter()
        .map(|r| r.len() as u64)
        .sum::<u64>()
        / 100;
    let per_partition = rows.div_ceil(partitions.max(1) as u64) * row_bytes;
    if per_partition > MOCK_PARTITION_BYTES * 9 / 10 {
        return Err(format!(
            "{rows} rows in {partitions} partitions is {} MB per partition; the mock cluster keeps about 5 MB: use more partitions or --broker tansu",
            per_partition / 1_000_000
        ));
    }
    Ok(())
}

pub fn start_broker(tansu: bool) -> Broker {
    if tansu {
        Broker::tansu()
    } else {
        Broker::start()
    }
}

pub fn broker_name(tansu: bool) -> &'static str {
    if tansu {
        "tansu"
    } else {
        "librdkafka mock cluster"
    }
}

/// Produces rows `0..rows` (row i to partition i % partitions) into topic
/// `github`; returns the seconds producing took and, when `keep_body`, the
/// rows as one JSONEachRow body (one row a line).
pub async fn produce(
    broker: &Broker,
    rows: u64,
    partitions: i32,
    keep_body: bool,
) -> (f64, Vec<u8>) {
    let mut body = Vec::new();
    let mut producing = 0.0;
    for from in (0..rows).step_by(20_000) {
        let to = (from + 20_000).min(rows);
        let chunk = github::rows(SEED, from, to);
        let start = Instant::now();
        broker
            .produce_from("github", partitions, from, &chunk)
            .await;
        producing += start.elapsed().as_secs_f64();
        if keep_body {
            for row in &chunk {
                body.extend_from_slice(row.as_bytes());
                body.push(b'\n');
            }
        }
    }
    (producing, body)
}

/// `BENCH_LOG_LEVEL=kafkahouse=debug` shows each block's timing in the
/// server logs (printed after each kafkahouse path); quiet by default.
pub fn log_level() -> String {
    std::env::var("BENCH_LOG_LEVEL").unwrap_or_else(|_| "warn".into())
}

/// Prints a kafkahouse's log when `BENCH_LOG_LEVEL` asked for one.
pub fn print_log(what: &str, server: &Kafkahouse) {
    if std::env::var_os("BENCH_LOG_LEVEL").is_some() {
        eprintln!("--- kafkahouse log ({what}) ---\n{}", server.log());
    }
}

/// kafkahouse on its embedded engine with its data under `dir`.
pub fn kafkahouse_embedded(dir: &FsPath) -> Kafkahouse {
    let lib = kafkahouse_tests::libchdb();
    let level = log_level();
    let lib = lib.to_str().expect("libchdb's path is not UTF-8");
    Kafkahouse::start(
        &dir.join("data"),
        &["--libchdb", lib, "--log-level", &level],
    )
}

/// kafkahouse with `url` (a ClickHouse HTTP interface) as its backend.
pub fn kafkahouse_remote(dir: &FsPath, url: &str) -> Kafkahouse {
    let level = log_level();
    Kafkahouse::start(
        &dir.join("data"),
        &["--clickhouse-url", url, "--log-level", &level],
    )
}

/// Runs statements through kafkahouse's PostgreSQL port.
pub async fn run(client: &tokio_postgres::Client, sql: &str) -> Result<(), String> {
    client
        .simple_query(sql)
        .await
        .map(|_| ())
        .map_err(|e| format!("{sql}\n  failed: {}", kafkahouse_tests::error_text(&e)))
}

/// The first row a query answers through kafkahouse's PostgreSQL port,
/// each value as text ("NULL" for NULL).
pub async fn row(client: &tokio_postgres::Client, sql: &str) -> Result<Vec<String>, String> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(|e| format!("{sql}\n  failed: {}", kafkahouse_tests::error_text(&e)))?;
    messages
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .ok_or(format!("{sql}: no row"))
}

/// The one value a query answers through kafkahouse's PostgreSQL port.
pub async fn value(client: &tokio_postgres::Client, sql: &str) -> Result<String, String> {
    let row = row(client, sql).await?;
    row.into_iter().next().ok_or(format!("{sql}: no column"))
}

/// `SELECT count() FROM table` through kafkahouse's PostgreSQL port.
pub async fn pg_count(client: &tokio_postgres::Client, table: &str) -> Result<u64, String> {
    let sql = format!("SELECT count() FROM {table}");
    let text = value(client, &sql).await?;
    text.parse().map_err(|e| format!("{sql}: {text}: {e}"))
}

/// A ClickHouse HTTP interface (18.16's, or kafkahouse's).
pub struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
        }
    }

    /// `query` with `body` as its data; the answer, or the error's text.
    pub async fn post(&self, query: &str, body: Vec<u8>) -> Result<String, String> {
        let response = self
            .client
            .post(format!("{}/", self.base))
            .query(&[("query", query)])
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{query}: HTTP request to {}: {e}", self.base))?;
        answer(query, response).await
    }

    /// A query without data, sent as the request's body (an empty body
    /// goes without Content-Length, which 18.16 refuses).
    pub async fn run(&self, query: &str) -> Result<String, String> {
        let response = self
            .client
            .post(format!("{}/", self.base))
            .body(query.to_string())
            .send()
            .await
            .map_err(|e| format!("{query}: HTTP request to {}: {e}", self.base))?;
        answer(query, response).await
    }

    pub async fn count(&self, table: &str) -> Result<u64, String> {
        let sql = format!("SELECT count() FROM {table}");
        let text = self.run(&sql).await?;
        text.trim()
            .parse()
            .map_err(|e| format!("{sql}: {}: {e}", text.trim()))
    }
}

/// The text of an answer, or the error's text.
async fn answer(query: &str, response: reqwest::Response) -> Result<String, String> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{query}: reading the answer: {e}"))?;
    if status.is_success() {
        Ok(text)
    } else {
        Err(format!("{query}: {status}: {}", text.trim()))
    }
}

/// The tutorial's `github` table (fixture sql/github_mergetree.sql) named
/// `name` (e.g. `db.github`); `enum8` writes it in 18.16's dialect.
pub fn github_table(name: &str, enum8: bool) -> String {
    let sql = fixture("sql/github_mergetree.sql")
        .trim_end()
        .trim_end_matches(';')
        .replacen(
            "CREATE TABLE github\n",
            &format!("CREATE TABLE {name}\n"),
            1,
        );
    assert!(
        sql.starts_with(&format!("CREATE TABLE {name}\n")),
        "sql/github_mergetree.sql no longer starts with `CREATE TABLE github`"
    );
    dialect(&sql, enum8)
}

/// `Enum8` for `Enum` when `enum8` (18.16 has no plain `Enum`).
pub fn dialect(sql: &str, enum8: bool) -> String {
    if enum8 {
        sql.replace("Enum(", "Enum8(")
    } else {
        sql.to_string()
    }
}

/// The tutorial's Kafka table through kafkahouse (`github_queue_ddl`,
/// settings and all) reading with consumer group `group`.
pub fn kafkahouse_queue(bootstrap: &str, group: &str) -> String {
    let tutorial = kafkahouse_tests::github_queue_ddl(bootstrap);
    let sql = tutorial.replacen(
        "'github', 'clickhouse',",
        &format!("'github', '{group}',"),
        1,
    );
    assert!(
        sql != tutorial,
        "github_queue_ddl no longer names the group 'clickhouse'"
    );
    sql
}

/// The tutorial's Kafka table in 18.16's dialect, named `name`: the same
/// columns (Enum8), the same broker, topic, format and
/// `kafka_num_consumers = 1` as the tutorial, in the SETTINGS form 18.16
/// accepts (it has no `kafka_thread_per_consumer`), group `group`.
pub fn clickhouse_queue(name: &str, bootstrap: &str, group: &str) -> String {
    let table = github_table(name, true);
    let engine = ") ENGINE = MergeTree ORDER BY (event_type, repo_name, created_at)";
    assert!(
        table.ends_with(engine),
        "sql/github_mergetree.sql no longer ends with `{engine}`"
    );
    format!(
        "{}) ENGINE = Kafka SETTINGS kafka_broker_list = '{bootstrap}', kafka_topic_list = 'github', \
         kafka_group_name = '{group}', kafka_format = 'JSONEachRow', kafka_num_consumers = 1",
        &table[..table.len() - engine.len()]
    )
}
