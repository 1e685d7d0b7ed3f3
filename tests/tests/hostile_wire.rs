//! Issue 10, "No input kills the server": bytes no client would send, on
//! the three ports. Garbage, hundreds of connections that say nothing,
//! PostgreSQL lengths announcing gigabytes, an HTTP header of a MiB, a
//! Content-Length of a terabyte and chunk sizes that are not numbers. After
//! each case the process must still run, `/ping` and a PostgreSQL
//! `SELECT 1` must answer, the bad connection must have been ended by the
//! server (with an error where the protocol has one) and no announced size
//! may turn into an allocation. (The native protocol's own length fields
//! are tested in native_limits.rs.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kafkahouse_tests::hostile::{
    assert_peak_grew_less_than, assert_still_serves, exchange, peak, proc_status, read_answer,
    Exchange, Random, ANSWER_TIMEOUT, MIB,
};
use kafkahouse_tests::Kafkahouse;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn start() -> (tempfile::TempDir, Kafkahouse) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    (dir, server)
}

#[derive(Clone, Copy, Debug)]
enum Port {
    Postgres,
    Http,
    Native,
}

const PORTS: [Port; 3] = [Port::Postgres, Port::Http, Port::Native];

fn addr(server: &Kafkahouse, port: Port) -> SocketAddr {
    match port {
        Port::Postgres => server.pg_addr,
        Port::Http => server.http_addr,
        Port::Native => server.native_addr,
    }
}

/// The messages of the PostgreSQL ErrorResponses ('E') in `answer`; None
/// when it holds anything but complete backend messages.
fn pg_errors(answer: &[u8]) -> Option<Vec<String>> {
    let mut errors = Vec::new();
    let mut rest = answer;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?) as usize;
        let body = rest.get(5..1 + len)?;
        if rest[0] == b'E' {
            // Fields: a type byte, a NUL-terminated string; 'M' is the message.
            let message = body
                .split(|b| *b == 0)
                .find_map(|f| f.strip_prefix(b"M"))
                .unwrap_or_default();
            errors.push(String::from_utf8_lossy(message).into_owned());
        }
        rest = &rest[1 + len..];
    }
    Some(errors)
}

/// The native Exception packet (2) that starts `answer`: its code, name
/// (ClickHouse sends "DB::Exception") and message.
fn native_exception(answer: &[u8]) -> Option<(i32, String, String)> {
    fn string(rest: &mut &[u8]) -> Option<String> {
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let (byte, tail) = rest.split_first()?;
            *rest = tail;
            len |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 || shift > 28 {
                break;
            }
        }
        let text = rest.get(..len)?;
        *rest = &rest[len..];
        Some(String::from_utf8_lossy(text).into_owned())
    }
    let (&kind, rest) = answer.split_first()?;
    let code = i32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let mut rest = &rest[4..];
    (kind == 2).then_some(())?;
    Some((code, string(&mut rest)?, string(&mut rest)?))
}

/// The bad connection's end: closed by the server, and what came back is
/// nothing or the protocol's error (an HTTP 4xx status, a PostgreSQL
/// ErrorResponse, a native Exception packet named DB::Exception).
fn refused(port: Port, got: &Exchange, case: &str) -> Result<(), String> {
    let text = got.text();
    let shown: String = text.chars().take(300).collect();
    eprintln!("{case}: closed: {}, answer: {shown:?}", got.closed);
    if !got.closed {
        return Err(format!(
            "{case}: the server kept the connection open; it sent {shown:?}"
        ));
    }
    let clear = match port {
        _ if got.answer.is_empty() => true,
        Port::Http => got.http_status().is_some_and(|s| (400..500).contains(&s)),
        Port::Postgres => {
            pg_errors(&got.answer).is_some_and(|e| !e.is_empty() && e.iter().all(|m| !m.is_empty()))
        }
        Port::Native => native_exception(&got.answer)
            .is_some_and(|(_, name, message)| name == "DB::Exception" && !message.is_empty()),
    };
    if clear {
        Ok(())
    } else {
        let expected = match port {
            Port::Http => "an HTTP 4xx status",
            Port::Postgres => "PostgreSQL ErrorResponses",
            Port::Native => "a native Exception packet named DB::Exception",
        };
        Err(format!(
            "{case}: expected nothing or {expected}, got {shown:?}"
        ))
    }
}

fn assert_refused(port: Port, got: &Exchange, case: &str) {
    if let Err(why) = refused(port, got, case) {
        panic!("{why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_on_every_port() {
    let (_dir, mut server) = start();
    let mut random = Random::new("garbage_bytes_on_every_port");
    let mut failures = Vec::new();
    for port in PORTS {
        let garbage = [
            ("64 KiB of random bytes", random.bytes(64 * 1024)),
            ("64 KiB of 0xFF", vec![0xFF; 64 * 1024]),
            ("64 KiB of zeros", vec![0; 64 * 1024]),
            ("a few random bytes", random.bytes(7)),
        ];
        for (what, bytes) in garbage {
            let case = format!("{what} on {port:?}");
            let got = exchange(addr(&server, port), &bytes, true, ANSWER_TIMEOUT).await;
            failures.extend(refused(port, &got, &case).err());
            assert_still_serves(&mut server, &case).await;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The server's open file descriptors.
fn open_files(server: &Kafkahouse) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_short_connections_on_every_port() {
    let (_dir, mut server) = start();
    let mut random = Random::new("hundreds_of_short_connections_on_every_port");
    let files_before = open_files(&server);
    for port in PORTS {
        let target = addr(&server, port);
        // 200 connections, 20 at a time: nothing, or up to 16 random bytes.
        for _ in 0..10 {
            let batch: Vec<Vec<u8>> = (0..20)
                .map(|_| {
                    let n = random.below(17) as usize;
                    random.bytes(n)
                })
                .collect();
            let connections = batch.into_iter().map(|bytes| async move {
                let mut stream = TcpStream::connect(target).await?;
                stream.write_all(&bytes).await?;
                Ok::<_, std::io::Error>(())
            });
            for result in futures::future::join_all(connections).await {
                // A write the server refused is fine; a refused connect is not.
                if let Err(e) = result {
                    assert!(
                        e.kind() != std::io::ErrorKind::ConnectionRefused,
                        "{port:?}: connection refused: {e}"
                    );
                }
            }
        }
        assert_still_serves(&mut server, &format!("200 short connections on {port:?}")).await;
    }
    // The server closed its ends: no descriptors left behind.
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    let mut files = open_files(&server);
    while files > files_before + 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        files = open_files(&server);
    }
    assert!(
        files <= files_before + 10,
        "the server holds {files} descriptors after the short connections ({files_before} before)"
    );
}

/// A PostgreSQL StartupMessage: `length`, then `version` and `user=default`.
fn startup(length: u32, version: u32) -> Vec<u8> {
    let mut message = length.to_be_bytes().to_vec();
    message.extend_from_slice(&version.to_be_bytes());
    message.extend_from_slice(b"user\0default\0database\0default\0\0");
    message
}

/// A valid startup, read up to ReadyForQuery: the connection, ready.
async fn pg_ready(server: &Kafkahouse) -> TcpStream {
    let mut message = startup(0, 196_608);
    let len = message.len() as u32;
    message[..4].copy_from_slice(&len.to_be_bytes());
    let mut stream = TcpStream::connect(server.pg_addr).await.expect("connect");
    stream.write_all(&message).await.expect("startup");
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
    loop {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout_at(deadline, async {
            use tokio::io::AsyncReadExt;
            stream.read_exact(&mut byte).await
        })
        .await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "no ReadyForQuery after a valid startup: {seen:?}"
        );
        seen.push(byte[0]);
        // ReadyForQuery is 'Z', length 5, status 'I'.
        if seen.ends_with(b"Z\0\0\0\x05I") {
            return stream;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lengths_announcing_gigabytes() {
    let (_dir, mut server) = start();
    let pid = server.pid();
    let (hwm, vm_peak) = (peak(&server), proc_status(pid, "VmPeak"));

    let cases = [
        (
            "a startup packet of 2^31-1 bytes",
            startup(0x7fff_ffff, 196_608),
        ),
        (
            "a startup packet of 2^32-1 bytes",
            startup(0xffff_ffff, 196_608),
        ),
        ("an 8-byte startup packet of a junk protocol version", {
            let mut m = startup(8, 0x1234_5678);
            m.truncate(8);
            m
        }),
    ];
    for (case, bytes) in cases {
        // No half-close: the server must refuse by itself, not wait for
        // 2 GiB to come.
        let got = exchange(server.pg_addr, &bytes, false, ANSWER_TIMEOUT).await;
        assert_refused(Port::Postgres, &got, case);
        assert_still_serves(&mut server, case).await;
    }

    for (case, kind) in [
        ("a Query of 2^31-1 bytes after a valid startup", b'Q'),
        ("a Parse of 2^31-1 bytes after a valid startup", b'P'),
    ] {
        let mut stream = pg_ready(&server).await;
        let mut message = vec![kind];
        message.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        message.extend_from_slice(b"SELECT 1");
        stream.write_all(&message).await.expect("message");
        let got = read_answer(&mut stream, ANSWER_TIMEOUT).await;
        assert_refused(Port::Postgres, &got, case);
        assert_still_serves(&mut server, case).await;
    }

    let rss = proc_status(pid, "VmRSS");
    eprintln!(
        "VmRSS {} MiB, VmPeak {} -> {} MiB",
        rss / MIB,
        vm_peak / MIB,
        proc_status(pid, "VmPeak") / MIB
    );
    assert!(rss < 1024 * MIB, "the server's VmRSS is {} MiB", rss / MIB);
    assert_peak_grew_less_than(&server, hwm, 256, "PostgreSQL lengths");
    // Not even reserved: the address space did not grow by a gigabyte.
    let grown = proc_status(pid, "VmPeak").saturating_sub(vm_peak) / MIB;
    assert!(grown < 1024, "the server's VmPeak grew by {grown} MiB");
}

const HTTP_POST: &str = "POST / HTTP/1.1\r\nHost: kafkahouse\r\nConnection: close\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_huge_header() {
    let (_dir, mut server) = start();
    let hwm = peak(&server);
    let mut request =
        b"GET /ping HTTP/1.1\r\nHost: kafkahouse\r\nConnection: close\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1 << 20));
    request.extend_from_slice(b"\r\n\r\n");
    let got = exchange(server.http_addr, &request, false, ANSWER_TIMEOUT).await;
    eprintln!("1 MiB header: {:?}", got.text());
    assert_refused(Port::Http, &got, "a 1 MiB HTTP header");
    // 2,000 small headers of 512 bytes each.
    let mut request = HTTP_POST.as_bytes().to_vec();
    for i in 0..2000 {
        request.extend(format!("X-H{i}: {}\r\n", "b".repeat(512)).bytes());
    }
    request.extend_from_slice(b"Content-Length: 8\r\n\r\nSELECT 1");
    let got = exchange(server.http_addr, &request, false, ANSWER_TIMEOUT).await;
    assert_refused(Port::Http, &got, "2,000 HTTP headers of 512 bytes");
    assert_still_serves(&mut server, "a 1 MiB HTTP header").await;
    assert_peak_grew_less_than(&server, hwm, 256, "a 1 MiB HTTP header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_content_length_of_a_terabyte() {
    let (_dir, mut server) = start();
    let pid = server.pid();
    let (hwm, vm_peak) = (peak(&server), proc_status(pid, "VmPeak"));
    for (case, length) in [
        ("Content-Length: 1000000000000", "1000000000000"),
        ("Content-Length: 2^64-1", "18446744073709551615"),
        ("Content-Length: 2^64", "18446744073709551616"),
        ("Content-Length: -1", "-1"),
    ] {
        let request = format!("{HTTP_POST}Content-Length: {length}\r\n\r\nSELECT 1");
        // The client stops sending: the server must answer or close.
        let got = exchange(server.http_addr, request.as_bytes(), true, ANSWER_TIMEOUT).await;
        eprintln!("{case}: {:?}", got.text());
        assert_refused(Port::Http, &got, case);
        assert_still_serves(&mut server, case).await;
    }
    assert_peak_grew_less_than(&server, hwm, 256, "a Content-Length of a terabyte");
    let grown = proc_status(pid, "VmPeak").saturating_sub(vm_peak) / MIB;
    assert!(grown < 1024, "the server's VmPeak grew by {grown} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bad_chunk_sizes() {
    let (_dir, mut server) = start();
    let pid = server.pid();
    let (hwm, vm_peak) = (peak(&server), proc_status(pid, "VmPeak"));
    let some_data = "x".repeat(64 * 1024);
    for (case, chunks) in [
        ("chunk size zzz", "zzz\r\nSELECT 1\r\n0\r\n\r\n".to_string()),
        (
            "chunk size FFFFFFFFFFFFFFFF",
            format!("FFFFFFFFFFFFFFFF\r\nSELECT 1 {some_data}"),
        ),
        (
            "chunk size FFFFFFFFFFFFFFFFF (overflows)",
            "FFFFFFFFFFFFFFFFF\r\nSELECT 1\r\n0\r\n\r\n".to_string(),
        ),
        ("chunk size -1", "-1\r\nSELECT 1\r\n0\r\n\r\n".to_string()),
        (
            "a chunk longer than its size",
            format!("2\r\nSELECT 1 {some_data}\r\n0\r\n\r\n"),
        ),
    ] {
        let request = format!("{HTTP_POST}Transfer-Encoding: chunked\r\n\r\n{chunks}");
        let got = exchange(server.http_addr, request.as_bytes(), true, ANSWER_TIMEOUT).await;
        eprintln!("{case}: {:?}", got.text());
        assert_refused(Port::Http, &got, case);
        assert_still_serves(&mut server, case).await;
    }
    assert_peak_grew_less_than(&server, hwm, 256, "bad chunk sizes");
    let grown = proc_status(pid, "VmPeak").saturating_sub(vm_peak) / MIB;
    assert!(grown < 1024, "the server's VmPeak grew by {grown} MiB");
}
