//! What the tests take from the machine and the repository: the kafkahouse
//! binary, libchdb, the fixtures under `tests/` (and the tutorial's Kafka
//! table built from one), free loopback ports.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

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

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// What `command` prints given `input` on its stdin (stderr kept too).
pub fn pipe(command: &mut std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    child.wait_with_output().expect("output")
}

/// The SHA-256 of `text` in hex (as a users section's
/// `password_sha256_hex`), by coreutils' `sha256sum`.
pub fn sha256_hex(text: &str) -> String {
    let out = pipe(
        &mut std::process::Command::new("sha256sum"),
        text.as_bytes(),
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
