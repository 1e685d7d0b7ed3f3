//! Helpers for the hostile-input tests (tests/tests/hostile_*.rs): raw
//! sockets that send what no client would, the server's memory as
//! /proc/<pid>/status reports it, and the check every case ends with (the
//! process runs and other clients still get answers).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{scalar, Kafkahouse};

/// How long a bad connection may take to be answered or closed.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A small deterministic generator (xorshift64*), so that a failing run
/// can be repeated from the seed it prints.
pub struct Random(u64);

impl Random {
    /// Seeded from `$HOSTILE_SEED` or the clock; prints the seed.
    pub fn new(what: &str) -> Random {
        let seed = std::env::var("HOSTILE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{what}: HOSTILE_SEED={seed}");
        Random(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// What a raw connection got back.
#[derive(Debug)]
pub struct Exchange {
    /// Every byte the server sent.
    pub answer: Vec<u8>,
    /// Whether the server ended the connection (EOF or reset) before the
    /// deadline.
    pub closed: bool,
}

impl Exchange {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.answer).into_owned()
    }

    /// The HTTP status of the answer, if it is one.
    pub fn http_status(&self) -> Option<u16> {
        let text = self.text();
        let rest = text.strip_prefix("HTTP/1.")?;
        rest.get(2..5)?.parse().ok()
    }
}

/// Sends `request` on a new connection to `addr`, half-closes the
/// connection when `then_shutdown`, and reads until the server closes it or
/// `wait` passes. A write the server cuts short counts as an answer (it
/// closed the connection).
pub async fn exchange(
    addr: SocketAddr,
    request: &[u8],
    then_shutdown: bool,
    wait: Duration,
) -> Exchange {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let wrote = stream.write_all(request).await.is_ok();
    if wrote && then_shutdown {
        let _ = stream.shutdown().await;
    }
    read_answer(&mut stream, wait).await
}

/// Reads until EOF, a reset or `wait`.
pub async fn read_answer(stream: &mut TcpStream, wait: Duration) -> Exchange {
    let deadline = tokio::time::Instant::now() + wait;
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Exchange {
                    answer,
                    closed: true,
                }
            }
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Exchange {
                    answer,
                    closed: false,
                }
            }
        }
    }
}

/// A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`, ...).
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

pub const MIB: u64 = 1024 * 1024;

/// The server's peak resident memory (VmHWM).
pub fn peak(server: &Kafkahouse) -> u64 {
    proc_status(server.pid(), "VmHWM")
}

/// Fails unless the server's peak resident memory grew by less than
/// `limit_mib` since `before` (a `peak` reading).
pub fn assert_peak_grew_less_than(server: &Kafkahouse, before: u64, limit_mib: u64, case: &str) {
    let after = peak(server);
    let grown = after.saturating_sub(before) / MIB;
    eprintln!("{case}: VmHWM {} MiB -> {} MiB", before / MIB, after / MIB);
    assert!(
        grown < limit_mib,
        "{case}: the server's peak memory grew by {grown} MiB (limit {limit_mib} MiB)"
    );
}

/// `GET /ping` over a fresh connection: the answer's body, or why none came.
pub async fn ping(server: &Kafkahouse) -> Result<String, String> {
    let request = b"GET /ping HTTP/1.1\r\nHost: kafkahouse\r\nConnection: close\r\n\r\n";
    let stream = tokio::time::timeout(
        Duration::from_secs(30),
        exchange(server.http_addr, request, false, Duration::from_secs(30)),
    )
    .await
    .map_err(|_| "no answer to /ping in 30 s".to_string())?;
    let text = stream.text();
    match (stream.http_status(), text.split_once("\r\n\r\n")) {
        (Some(200), Some((_, body))) => Ok(body.to_string()),
        _ => Err(format!("/ping answered {text:?}")),
    }
}

/// The check after every case: the process runs, `/ping` answers "Ok.\n"
/// and a new PostgreSQL client gets `SELECT 1`.
pub async fn assert_still_serves(server: &mut Kafkahouse, case: &str) {
    assert!(
        server.is_running(),
        "{case}: the server died; its log:\n{}",
        tail(&server.log())
    );
    assert_eq!(
        ping(server).await.as_deref(),
        Ok("Ok.\n"),
        "{case}: /ping after the case"
    );
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        let client = server.connect().await;
        scalar(&client, "SELECT 1").await
    })
    .await
    .unwrap_or_else(|_| panic!("{case}: SELECT 1 over PostgreSQL got no answer in 30 s"));
    assert_eq!(answer, "1", "{case}: SELECT 1 over PostgreSQL");
}

/// The end of a log, for failure messages.
pub fn tail(log: &str) -> &str {
    let start = log.len().saturating_sub(4000);
    let start = (start..log.len())
        .find(|i| log.is_char_boundary(*i))
        .unwrap_or(log.len());
    &log[start..]
}

/// Whether `text` is a ClickHouse-style error (`Code: N. DB::Exception: ...`).
pub fn is_clickhouse_error(text: &str) -> bool {
    text.contains("Code: ") && text.contains("DB::Exception")
}

/// Fails unless `text` is ClickHouse's error `code` and contains `words`.
pub fn assert_error(text: &str, code: u32, words: &str, case: &str) {
    let shown: String = text.chars().take(500).collect();
    assert!(
        text.contains(&format!("Code: {code}.")) && text.contains("DB::Exception"),
        "{case}: expected Code: {code}, got {shown:?}"
    );
    assert!(
        text.contains(words),
        "{case}: expected {words:?} in {shown:?}"
    );
}

/// A POST to the HTTP interface with `body` and `params` in the URL:
/// (status, body text), or the transport error.
pub async fn http_post(
    server: &Kafkahouse,
    params: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    let response = reqwest::Client::new()
        .post(format!("http://{}/", server.http_addr))
        .query(params)
        .body(body)
        .timeout(ANSWER_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("HTTP request: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| format!("HTTP body: {e}"))?;
    Ok((status, text))
}

/// A simple query over PostgreSQL on a new connection: the error message,
/// or "ok: <rows>" when it succeeded.
pub async fn pg_outcome(server: &Kafkahouse, sql: &str) -> String {
    let client = server.connect().await;
    match tokio::time::timeout(ANSWER_TIMEOUT, client.simple_query(sql)).await {
        Err(_) => format!("no answer in {ANSWER_TIMEOUT:?}"),
        Ok(Ok(messages)) => format!("ok: {} messages", messages.len()),
        Ok(Err(e)) => crate::error_text(&e),
    }
}

/// What the native client prints: the server's exception as ClickHouse
/// shows it (`Code: N. <name>: <message>`, the name as the server sent it;
/// clickhouse-driver would drop a `DB::Exception` name), or `ok: <rows>`.
const NATIVE_CLIENT: &str = r#"
import sys
from clickhouse_driver import Client, connection
from clickhouse_driver.errors import ServerException
from clickhouse_driver.reader import read_binary_int32, read_binary_str, read_binary_uint8

def read_exception(buf, additional_message=None):
    code = read_binary_int32(buf)
    name = read_binary_str(buf)
    message = read_binary_str(buf)
    read_binary_str(buf)
    nested = read_exception(buf) if read_binary_uint8(buf) else None
    return ServerException(name + ': ' + message, code, nested=nested)

connection.read_exception = read_exception
host, port = sys.argv[1], int(sys.argv[2])
"#;

const NATIVE_RUN: &str = r#"
try:
    print('ok:', Client(host, port=port, connect_timeout=30, send_receive_timeout=120).execute(q))
except ServerException as e:
    print('Code: %s. %s' % (e.code, e.message[:2000]))
except Exception as e:
    print('%s: %s' % (type(e).__name__, str(e)[:2000]))
"#;

/// Runs the query `q` (which `script` sets, in Python) over the native
/// protocol with clickhouse-driver: `ok: <rows>`, or the error as above.
pub async fn native_outcome(server: &Kafkahouse, script: &str) -> String {
    let program = format!("{NATIVE_CLIENT}{script}\n{NATIVE_RUN}");
    let started = Instant::now();
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(program)
        .arg(server.native_addr.ip().to_string())
        .arg(server.native_addr.port().to_string())
        .output()
        .await
        .expect("python3 (scripts/test installs clickhouse-driver)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !stdout.is_empty(),
        "python clickhouse-driver failed after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
