//! ClickHouse's HTTP interface, driven as curl or clickhouse-connect drive
//! it: query in the URL or the body, data in the body, settings and
//! sessions as URL parameters, ClickHouse's errors and headers.

use std::io::{Read, Write};
use std::time::Duration;

use kafkahouse_tests::{fixture, github, github_queue_ddl, Broker, Kafkahouse};

struct Http {
    base: String,
    client: reqwest::Client,
}

struct Answer {
    status: u16,
    code: Option<String>,
    format: Option<String>,
    body: String,
}

impl Http {
    fn new(server: &Kafkahouse) -> Http {
        Http {
            base: format!("http://{}", server.http_addr),
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("HTTP request");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (code, format) = (
            header("X-ClickHouse-Exception-Code"),
            header("X-ClickHouse-Format"),
        );
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        Answer {
            status,
            code,
            format,
            body,
        }
    }

    async fn get(&self, params: &[(&str, &str)]) -> Answer {
        self.send(self.client.get(format!("{}/", self.base)).query(params))
            .await
    }

    async fn post(&self, params: &[(&str, &str)], body: &str) -> Answer {
        self.send(
            self.client
                .post(format!("{}/", self.base))
                .query(params)
                .body(body.to_string()),
        )
        .await
    }

    /// POSTs `sql` as the body and insists on success.
    async fn run(&self, sql: &str) -> String {
        let a = self.post(&[], sql).await;
        assert_eq!(a.status, 200, "{sql}\n  -> {}", a.body);
        a.body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_settings_sessions_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = Http::new(&server);

    let ping = http
        .send(http.client.get(format!("{}/ping", http.base)))
        .await;
    assert_eq!((ping.status, ping.body.as_str()), (200, "Ok.\n"));
    assert_eq!(http.get(&[]).await.body, "Ok.\n");

    let a = http.get(&[("query", "SELECT 1, 'a\tb'")]).await;
    assert_eq!((a.status, a.body.as_str()), (200, "1\ta\\tb\n"));
    assert_eq!(a.format.as_deref(), Some("TabSeparated"));
    let a = http
        .post(
            &[("default_format", "JSONEachRow")],
            "SELECT number FROM numbers(2)",
        )
        .await;
    assert_eq!(a.body, "{\"number\":0}\n{\"number\":1}\n");
    let a = http
        .get(&[
            ("query", "SELECT currentDatabase()"),
            ("database", "system"),
        ])
        .await;
    assert_eq!(a.body, "system\n");
    let a = http
        .get(&[
            ("query", "SELECT getSetting('max_threads')"),
            ("max_threads", "3"),
        ])
        .await;
    assert_eq!(a.body, "3\n");

    // Sessions keep USE and SET; a URL setting lasts one query.
    let s = [("session_id", "s1")];
    http.post(&s, "SET max_threads = 5").await;
    let a = http
        .get(&[
            ("session_id", "s1"),
            ("query", "SELECT getSetting('max_threads')"),
            ("max_threads", "7"),
        ])
        .await;
    assert_eq!(a.body, "7\n");
    let a = http
        .get(&[
            ("session_id", "s1"),
            ("query", "SELECT getSetting('max_threads')"),
        ])
        .await;
    assert_eq!(a.body, "5\n");
    let a = http
        .get(&[
            ("session_id", "gone"),
            ("session_check", "1"),
            ("query", "SELECT 1"),
        ])
        .await;
    assert_eq!((a.status, a.code.as_deref()), (404, Some("372")));

    // Errors: ClickHouse's text, code header and status.
    let a = http.get(&[("query", "SELEC 1")]).await;
    assert_eq!((a.status, a.code.as_deref()), (400, Some("62")));
    assert!(
        a.body.starts_with("Code: 62. DB::Exception: Syntax error"),
        "{}",
        a.body
    );
    let a = http.get(&[("query", "SELECT * FROM no_such_table")]).await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (404, Some("60")),
        "{}",
        a.body
    );
    let a = http
        .get(&[("query", "CREATE TABLE t (a UInt8) ENGINE = Memory")])
        .await;
    assert_eq!((a.status, a.code.as_deref()), (403, Some("164")));
    // GET is readonly = 2 as in ClickHouse: every change is refused, those
    // kafkahouse runs itself too, settings may still change, and the next
    // POST of the same session may change things again.
    for sql in [
        "RENAME TABLE a TO b",
        "EXCHANGE TABLES a AND b",
        "CREATE TABLE k (a UInt8) ENGINE = Kafka('127.0.0.1:1', 't', 'g', 'JSONEachRow')",
        "CREATE NAMED COLLECTION nc AS kafka_broker_list = 'b:9092'",
    ] {
        let a = http.get(&[("session_id", "ro"), ("query", sql)]).await;
        assert_eq!(
            (a.status, a.code.as_deref()),
            (403, Some("164")),
            "{sql}: {}",
            a.body
        );
    }
    let a = http
        .get(&[("session_id", "ro"), ("query", "SET max_threads = 2")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = http
        .post(
            &[("session_id", "ro")],
            "CREATE TABLE ro_t (a UInt8) ENGINE = Memory",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = http.post(&[("session_id", "ro")], "DROP TABLE ro_t").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = http.post(&[], "SELECT 1; SELECT 2").await;
    assert_eq!(a.code.as_deref(), Some("62"));

    // Data in the body: text through JSONEachRow, and TabSeparated.
    http.run("CREATE TABLE t (a UInt8, s String) ENGINE = MergeTree ORDER BY a")
        .await;
    let a = http
        .post(
            &[("query", "INSERT INTO t FORMAT JSONEachRow")],
            "{\"a\":1,\"s\":\"x\"}\n{\"a\":2,\"s\":\"y\"}\n",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = http
        .post(
            &[("query", "INSERT INTO default.t (s, a) FORMAT TabSeparated")],
            "z\t3\n",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = http
        .get(&[("query", "SELECT a, s FROM t ORDER BY a FORMAT CSV")])
        .await;
    assert_eq!(a.body, "1,\"x\"\n2,\"y\"\n3,\"z\"\n");
    let a = http
        .post(
            &[("query", "INSERT INTO t FORMAT JSONEachRow")],
            "{\"a\":\"many\"}\n",
        )
        .await;
    assert_eq!(a.status, 500);
    assert!(a.body.starts_with("Code: "), "{}", a.body);

    // Garbage instead of HTTP: that connection fails, the server goes on.
    let mut raw = std::net::TcpStream::connect(server.http_addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"\x16\x03\x01 not http at all\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = raw.read_to_end(&mut reply);
    assert!(
        reply.is_empty() || String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(
        http.get(&[("query", "SELECT count() FROM t")]).await.body,
        "3\n"
    );

    // A client that disconnects in the middle of its INSERT data: nothing
    // of it is inserted, and the server goes on.
    let mut raw = std::net::TcpStream::connect(server.http_addr).unwrap();
    let rows = "{\"a\":7,\"s\":\"half\"}\n";
    write!(
        raw,
        "POST /?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{rows}"
    )
    .unwrap();
    raw.flush().unwrap();
    drop(raw);
    assert_eq!(
        http.get(&[("query", "SELECT count() FROM t")]).await.body,
        "3\n"
    );
    assert_eq!(
        http.get(&[("query", "SELECT count() FROM t WHERE s = 'half'")])
            .await
            .body,
        "0\n"
    );
}

/// The tutorial over HTTP: Kafka table, view, SYSTEM SYNC KAFKA, the
/// INSERT ... SELECT back into Kafka, and system.kafka_consumers rendered
/// by kafkahouse itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_over_http() {
    let broker = Broker::start();
    broker.create_topic("github", 3);
    broker.produce("github", 3, &github::rows(21, 0, 500)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = Http::new(&server);
    let db = [("database", "KafkaEngine")];

    http.run("CREATE DATABASE KafkaEngine").await;
    let post = |sql: String| {
        let http = &http;
        async move {
            let a = http.post(&db, &sql).await;
            assert_eq!(a.status, 200, "{sql}\n  -> {}", a.body);
        }
    };
    post(fixture("sql/github_mergetree.sql")).await;
    post(github_queue_ddl(&broker.bootstrap)).await;
    post("CREATE MATERIALIZED VIEW github_mv TO github AS\nSELECT *\nFROM github_queue;".into())
        .await;
    post("SYSTEM SYNC KAFKA github_queue TIMEOUT 60".into()).await;
    let count = [
        ("database", "KafkaEngine"),
        ("query", "SELECT count() FROM github"),
    ];
    assert_eq!(http.get(&count).await.body, "500\n");

    post("INSERT INTO github_queue SELECT * FROM github LIMIT 100 FORMAT JSONEachRow".into()).await;
    // Data in the body into a Kafka table goes to Kafka too.
    let row = &github::rows(21, 1_000, 1_001)[0];
    let a = http
        .post(
            &[
                ("database", "KafkaEngine"),
                ("query", "INSERT INTO github_queue FORMAT JSONEachRow"),
            ],
            row,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    post("SYSTEM SYNC KAFKA github_queue TIMEOUT 60".into()).await;
    assert_eq!(http.get(&count).await.body, "601\n");

    let a = http
        .get(&[(
            "query",
            "SELECT table, num_messages_read >= 601 AS read FROM system.kafka_consumers FORMAT JSONEachRow",
        )])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, "{\"table\":\"github_queue\",\"read\":1}\n");
    let a = http
        .get(&[
            ("database", "KafkaEngine"),
            ("query", "SHOW CREATE TABLE github_queue"),
            ("default_format", "TSVWithNames"),
        ])
        .await;
    assert!(
        a.body
            .starts_with("statement\nCREATE TABLE KafkaEngine.github_queue"),
        "{}",
        a.body
    );
}

/// clickhouse-connect, a real ClickHouse HTTP client, through the tutorial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_connect_runs_the_tutorial() {
    let broker = Broker::start();
    broker.create_topic("github", 3);
    broker.produce("github", 3, &github::rows(22, 0, 400)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let queue = dir.path().join("queue.sql");
    std::fs::write(&queue, github_queue_ddl("BROKER")).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/clients/clickhouse_connect_tutorial.py"
    );
    let ddl = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/github_mergetree.sql");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(server.http_addr.ip().to_string())
        .arg(server.http_addr.port().to_string())
        .arg(&broker.bootstrap)
        .arg(ddl)
        .arg(&queue)
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    assert_eq!(
        stdout,
        "count 400\ncount 500\nconsumers [('github_queue', 500)]\nerror True\n"
    );
}

/// The `clickhouse` crate, Rust's ClickHouse client, over the HTTP
/// interface: typed inserts and fetches (RowBinary, with its schema
/// validation), and its error for a missing table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clickhouse_crate_inserts_and_fetches() {
    #[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
    struct Event {
        id: u64,
        name: String,
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let client = clickhouse::Client::default()
        .with_url(format!("http://{}", server.http_addr))
        // Uncompressed here; the crate's default compression is tested
        // below.
        .with_compression(clickhouse::Compression::None);
    client
        .query("CREATE TABLE events (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
        .execute()
        .await
        .unwrap();
    let mut insert = client.insert::<Event>("events").await.unwrap();
    for id in 0..3 {
        insert
            .write(&Event {
                id,
                name: format!("e{id}"),
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();
    let got: Vec<Event> = client
        .query("SELECT id, name FROM events WHERE id >= ? ORDER BY id")
        .bind(1)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            Event {
                id: 1,
                name: "e1".into()
            },
            Event {
                id: 2,
                name: "e2".into()
            }
        ]
    );
    let e = client
        .query("SELECT count() FROM no_such_table")
        .fetch_one::<u64>()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Code: 60"), "{e}");
}

/// The `clickhouse` crate with its default settings compresses INSERT data
/// in ClickHouse's own blocks (`decompress=1`, LZ4; or ZSTD): it needed
/// `Compression::None` before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clickhouse_crate_with_its_default_compression() {
    #[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
    struct Event {
        id: u64,
        name: String,
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let url = format!("http://{}", server.http_addr);
    let client = clickhouse::Client::default().with_url(&url);
    client
        .query("CREATE TABLE events (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
        .execute()
        .await
        .unwrap();
    for (client, from) in [
        (client.clone(), 0u64),
        (
            clickhouse::Client::default()
                .with_url(&url)
                .with_compression(clickhouse::Compression::Zstd(3)),
            100_000,
        ),
    ] {
        let mut insert = client.insert::<Event>("events").await.unwrap();
        for id in from..from + 50_000 {
            insert
                .write(&Event {
                    id,
                    name: format!("event number {id}"),
                })
                .await
                .unwrap();
        }
        insert.end().await.unwrap();
    }
    let count: u64 = client
        .query("SELECT count() FROM events WHERE name = concat('event number ', toString(id))")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(count, 100_000);
}

/// `compress=1`: the answer comes in ClickHouse's compressed blocks, each
/// with its CityHash128 checksum, LZ4 unless `network_compression_method`
/// says zstd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_1_answers_in_compressed_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = Http::new(&server);
    let expected: String = (0..100_000).map(|n| format!("{n}\n")).collect();
    for (method, byte) in [("lz4", 0x82u8), ("zstd", 0x90)] {
        let response = http
            .client
            .get(format!("{}/", http.base))
            .query(&[
                ("query", "SELECT number FROM numbers(100000)"),
                ("compress", "1"),
                ("network_compression_method", method),
            ])
            .send()
            .await
            .expect("HTTP request");
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.expect("body");
        let mut rest = &body[..];
        let mut plain = Vec::new();
        while !rest.is_empty() {
            let hash = naive_cityhash::cityhash128(&rest[16..16 + u32_at(rest, 17) as usize]);
            assert_eq!(u64_at(rest, 0), hash.lo, "{method}: checksum");
            assert_eq!(u64_at(rest, 8), hash.hi, "{method}: checksum");
            assert_eq!(rest[16], byte, "{method}: method byte");
            let (size, raw) = (u32_at(rest, 17) as usize, u32_at(rest, 21) as usize);
            let data = &rest[25..16 + size];
            plain.extend(match byte {
                0x82 => lz4_flex::block::decompress(data, raw).expect("lz4 block"),
                _ => zstd::bulk::decompress(data, raw).expect("zstd block"),
            });
            rest = &rest[16 + size..];
        }
        assert_eq!(String::from_utf8(plain).unwrap(), expected, "{method}");
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
