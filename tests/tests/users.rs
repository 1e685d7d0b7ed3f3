//! Users and passwords on all three frontends, configured as ClickHouse's
//! users.xml configures them: right and wrong passwords from psql,
//! tokio-postgres (SCRAM-SHA-256 and a clear-text password checked against
//! a SHA-256 hash), clickhouse-client, clickhouse-driver,
//! clickhouse-connect and curl; a wrong one is `Code: 516`, the same for an
//! unknown user; a readonly user cannot create, drop, insert or produce;
//! no password reaches the log.

use std::path::Path;
use std::time::Instant;

use kafkahouse_tests::{error_text, sha256_hex, Broker, Kafkahouse};

fn config(dir: &Path, alice_sha256: &str) -> std::path::PathBuf {
    let path = dir.join("kafkahouse.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[users.alice]
password_sha256_hex = "{alice_sha256}"

[users.scram]
password = "scram-secret"

[users.reader]
password = "reader-pw"
profile = "readonly"

[users.elsewhere]
password = "pw"
networks = ["10.0.0.0/8"]
"#
        ),
    )
    .unwrap();
    path
}

async fn pg(
    server: &Kafkahouse,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, String> {
    let config = format!(
        "host={} port={} user={user} password={password} dbname=default",
        server.pg_addr.ip(),
        server.pg_addr.port()
    );
    match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Err(e) => Err(error_text(&e)),
    }
}

fn psql(server: &Kafkahouse, user: &str, password: &str) -> (bool, String) {
    let out = std::process::Command::new("psql")
        .env("PGPASSWORD", password)
        .args(["-h", &server.pg_addr.ip().to_string()])
        .args(["-p", &server.pg_addr.port().to_string()])
        .args(["-U", user, "-d", "default", "-tAc", "SELECT 1"])
        .output()
        .expect("psql (scripts/test installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn clickhouse_client(server: &Kafkahouse, user: &str, password: &str) -> (bool, String) {
    let out = std::process::Command::new("clickhouse-client")
        .args(["--host", &server.native_addr.ip().to_string()])
        .args(["--port", &server.native_addr.port().to_string()])
        .args(["--user", user, "--password", password, "-q", "SELECT 1"])
        .output()
        .expect("clickhouse-client (scripts/test installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn python(kind: &str, host: &str, port: u16, user: &str, password: &str) -> String {
    let script = format!("{}/clients/login.py", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .args([&script, kind, host, &port.to_string(), user, password])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn curl(server: &Kafkahouse, args: &[&str]) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", " HTTP %{http_code}"])
        .args(args)
        .arg(format!("http://{}/?query=SELECT%201", server.http_addr))
        .output()
        .expect("curl");
    // The body's newline out: "1 HTTP 200".
    String::from_utf8_lossy(&out.stdout)
        .replace('\n', "")
        .trim()
        .to_string()
}

const REFUSED: &str =
    "Authentication failed: password is incorrect, or there is no user with such name";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_and_wrong_passwords_on_every_frontend_and_client() {
    let alice = sha256_hex("alice-secret");
    assert_eq!(alice.len(), 64);
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), &alice);
    let server = Kafkahouse::embedded_with_args(
        &dir.path().join("data"),
        &["--config", file.to_str().unwrap()],
    );

    // PostgreSQL wire: a hashed password (clear-text message), SCRAM, and
    // wrong ones; an unknown user reads the same; a network not allowed too.
    let c = pg(&server, "alice", "alice-secret").await.expect("alice");
    assert_eq!(kafkahouse_tests::scalar(&c, "SELECT 1").await, "1");
    let c = pg(&server, "scram", "scram-secret").await.expect("scram");
    assert_eq!(kafkahouse_tests::scalar(&c, "SELECT 1").await, "1");
    for (user, password) in [
        ("alice", "nope"),
        ("scram", "nope"),
        ("nobody", "x"),
        ("elsewhere", "pw"),
    ] {
        let started = Instant::now();
        let e = pg(&server, user, password)
            .await
            .err()
            .unwrap_or_else(|| panic!("{user} got in"));
        assert!(
            e.contains("Code: 516") && e.contains(REFUSED),
            "{user}: {e}"
        );
        assert!(started.elapsed().as_millis() >= 400, "no delay for {user}");
    }
    let (ok, out) = psql(&server, "alice", "alice-secret");
    assert!(ok && out.trim() == "1", "{out}");
    let (ok, out) = psql(&server, "scram", "wrong");
    assert!(!ok && out.contains("Code: 516"), "{out}");

    // Native protocol: the Hello packet's user and password.
    let (ok, out) = clickhouse_client(&server, "alice", "alice-secret");
    assert!(ok && out.trim() == "1", "{out}");
    let (ok, out) = clickhouse_client(&server, "alice", "wrong");
    assert!(
        !ok && out.contains("Code: 516") && out.contains(REFUSED),
        "{out}"
    );
    // HTTP: Basic auth, X-ClickHouse-User/Key, user/password parameters.
    assert_eq!(curl(&server, &["-u", "alice:alice-secret"]), "1 HTTP 200");
    let none = curl(&server, &[]);
    assert!(
        none.contains("Code: 516") && none.ends_with("HTTP 401"),
        "{none}"
    );
    let headers = curl(
        &server,
        &[
            "-H",
            "X-ClickHouse-User: alice",
            "-H",
            "X-ClickHouse-Key: wrong",
        ],
    );
    assert!(
        headers.contains("Code: 516") && headers.ends_with("HTTP 401"),
        "{headers}"
    );
    let headers = curl(
        &server,
        &[
            "-H",
            "X-ClickHouse-User: alice",
            "-H",
            "X-ClickHouse-Key: alice-secret",
        ],
    );
    assert_eq!(headers, "1 HTTP 200");
    // The Python drivers: clickhouse-driver (native), clickhouse-connect (HTTP).
    let host = server.http_addr.ip().to_string();
    for (kind, port, user, password) in [
        ("driver", server.native_addr.port(), "scram", "scram-secret"),
        ("connect", server.http_addr.port(), "alice", "alice-secret"),
    ] {
        assert_eq!(python(kind, &host, port, user, password), "ok 1", "{kind}");
        let wrong = python(kind, &host, port, user, "nope");
        assert!(
            wrong.starts_with("error") && wrong.contains("516"),
            "{kind}: {wrong}"
        );
    }
    // Liveness needs no password, as in ClickHouse.
    let ping = reqwest::get(format!("http://{}/ping", server.http_addr))
        .await
        .unwrap();
    assert!(ping.status().is_success());

    let log = server.log();
    for secret in ["alice-secret", "scram-secret", "reader-pw"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    assert!(
        log.contains("authentication failed"),
        "failures are logged (without passwords)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readonly_user_cannot_change_anything() {
    let broker = Broker::start();
    broker.create_topic("events", 1);
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), &sha256_hex("alice-secret"));
    let server = Kafkahouse::embedded_with_args(
        &dir.path().join("data"),
        &["--config", file.to_str().unwrap()],
    );
    let admin = pg(&server, "scram", "scram-secret").await.unwrap();
    kafkahouse_tests::kafka::run(
        &admin,
        "CREATE TABLE t (n UInt8) ENGINE = MergeTree ORDER BY n",
    )
    .await;
    kafkahouse_tests::kafka::run(
        &admin,
        &format!(
            "CREATE TABLE q (n UInt8) ENGINE = Kafka('{}', 'events', 'g', 'JSONEachRow')",
            broker.bootstrap
        ),
    )
    .await;
    let reader = pg(&server, "reader", "reader-pw").await.unwrap();
    assert_eq!(
        kafkahouse_tests::scalar(&reader, "SELECT count() FROM t").await,
        "0"
    );
    for sql in [
        "CREATE TABLE u (n UInt8) ENGINE = MergeTree ORDER BY n",
        "INSERT INTO t VALUES (1)",
        "DROP TABLE t",
        "INSERT INTO q VALUES (1)",
        "DROP TABLE q",
        "CREATE MATERIALIZED VIEW mv TO t AS SELECT n FROM q",
        "CREATE NAMED COLLECTION kc AS kafka_format = 'CSV'",
        "SET readonly = 0",
    ] {
        let e = kafkahouse_tests::error_of(&reader, sql).await;
        assert!(
            e.contains("Code: 164") || e.contains("readonly"),
            "{sql}: {e}"
        );
    }
    assert_eq!(
        kafkahouse_tests::scalar(&admin, "SELECT count() FROM t").await,
        "0"
    );
    assert!(kafkahouse_tests::scalar(&admin, "SHOW CREATE TABLE q")
        .await
        .contains("Kafka"));
}
