//! Fuzz targets over the wire (issue 10): pgwire's PostgreSQL frontend
//! message decoder (`fuzz_pg_decoder`), opensrv-clickhouse's native protocol
//! server loop over a socket (`fuzz_native_decoder`), and the HTTP interface
//! of a running kafkahouse fed raw HTTP/1.1 requests (`fuzz_http`). Driven by
//! kafkahouse_tests::fuzz (bounded under `cargo test`, timed with
//! `KAFKAHOUSE_FUZZ_SECONDS`, see scripts/fuzz).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkahouse_tests::fuzz::{self, sql, Bytes, Target, TrackingAllocator};
use kafkahouse_tests::Kafkahouse;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::TestCaseError;

/// Measures the largest single allocation of the code under test.
#[global_allocator]
static ALLOCATOR: TrackingAllocator = TrackingAllocator;

/// The most a decoder may ask for at once for inputs of at most a few tens
/// of kilobytes: more means it believed a length it was told before having
/// the bytes.
const ALLOCATION_LIMIT: usize = 16 << 20;

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(why()))
    }
}

/// Lengths a peer may announce: the edges of every limit and integer width.
fn interesting_length() -> impl Strategy<Value = u64> {
    prop_oneof![
        select(&[
            0u64, 1, 3, 4, 5, 8, 9, 255, 1023, 1024, 1025, 9_999, 10_000, 10_001, 65_535, 65_536,
            1 << 20, 0xFF_FFFF, 0x3FFF_FFFE, 0x3FFF_FFFF, 0x4000_0000, (1 << 31) - 1, 1 << 31,
            u32::MAX as u64, 1 << 32, 1 << 40, 1 << 48, 1 << 62, 1 << 63, u64::MAX,
        ][..]),
        any::<u64>(),
    ]
}

#[path = "fuzz/http.rs"]
mod http;
#[path = "fuzz/native.rs"]
mod native;
#[path = "fuzz/pg.rs"]
mod pg;

use http::*;
use native::*;
use pg::*;

#[test]
fn fuzz_pg_decoder() {
    let target = Target::new("fuzz_pg_decoder", module_path!(), 1000).forked();
    fuzz::run(&target, pg_case, |case| {
        let (result, largest) = fuzz::largest_allocation(|| pg_decode_all(&case));
        result?;
        check(largest <= ALLOCATION_LIMIT, || {
            format!("decoding {} bytes allocated {largest} bytes at once", case.input.0.len())
        })
    });
}

#[test]
fn fuzz_native_decoder() {
    let target = Target::new("fuzz_native_decoder", module_path!(), 300).forked();
    let input = || {
        (
            prop_oneof![
                4 => proptest::collection::vec(n_packet(), 0..6),
                // A valid handshake first, so that queries and data are read.
                4 => proptest::collection::vec(n_packet(), 0..5).prop_map(|mut p| {
                    p.insert(0, NPacket::Hello {
                        client: NStr::Text("clickhouse-client".into()),
                        major: NVarint::Value(24),
                        minor: NVarint::Value(3),
                        revision: NVarint::Value(54_406),
                        database: NStr::Text("default".into()),
                        user: NStr::Text("default".into()),
                        password: NStr::Text(String::new()),
                    });
                    p
                }),
            ],
            proptest::collection::vec(any::<u8>(), 0..4),
        )
    };
    fuzz::run(&target, input, |(packets, tail)| {
        let mut bytes = encode_native(&packets);
        bytes.extend(tail);
        let (result, largest) = fuzz::largest_allocation(|| native_serve(&bytes));
        result?;
        check(largest <= ALLOCATION_LIMIT, || {
            format!("serving {} bytes allocated {largest} bytes at once", bytes.len())
        })
    });
}

#[test]
fn fuzz_http() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Kafkahouse::embedded(&dir.path().join("data"));
    let address = server.http_addr;
    let server = Mutex::new(server);
    let cases = AtomicU64::new(0);
    let slow = AtomicU64::new(0);
    let log_tail = |server: &Kafkahouse| {
        let log = server.log();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(log.len());
        log[start..].to_string()
    };
    let target = Target::new("fuzz_http", module_path!(), 200);
    fuzz::run(&target, http_case, |case| {
        let (request, complete) = case.request();
        let answer = exchange(address, &request, complete);
        {
            let mut server = server.lock().unwrap_or_else(|p| p.into_inner());
            if !server.is_running() {
                return Err(TestCaseError::fail(format!(
                    "kafkahouse (pid {}) exited; its log ends with:\n{}",
                    server.pid(),
                    log_tail(&server)
                )));
            }
        }
        match answer {
            Ok(answer) => check(answer.is_empty() || answer.starts_with(b"HTTP/1."), || {
                format!("the answer is not HTTP: {:?}", Bytes(answer[..answer.len().min(200)].to_vec()))
            })?,
            Err(e) if complete => {
                return Err(TestCaseError::fail(format!("no answer to a complete request: {e}")))
            }
            Err(_) => {
                slow.fetch_add(1, Ordering::Relaxed);
            }
        }
        if (cases.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(PING_EVERY) {
            ping(address).map_err(TestCaseError::fail)?;
        }
        Ok(())
    });
    let mut server = server.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(server.is_running(), "kafkahouse exited; its log ends with:\n{}", log_tail(&server));
    if let Err(e) = ping(address) {
        panic!("after {} requests: {e}; the log ends with:\n{}", cases.load(Ordering::Relaxed), log_tail(&server));
    }
    println!(
        "fuzz_http: {} requests sent in all (shrinking included), {} incomplete ones never answered",
        cases.load(Ordering::Relaxed),
        slow.load(Ordering::Relaxed)
    );
}
