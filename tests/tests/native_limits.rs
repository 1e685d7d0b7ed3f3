//! Issue 10 on the native port: packets whose length fields announce more
//! than any client would send (a Hello's name of 2^40 bytes, a block of
//! 2^40 rows or columns, compressed frames of 4 GiB, `FixedString(2^40)`,
//! types nested 5000 deep, strings of 2 GiB or of 512 MiB followed by a
//! few bytes). Each must end only its own connection, with a ClickHouse
//! exception (`Code: N`) where the protocol has room for one: afterwards
//! the process still runs, `/ping` and a new native session still answer,
//! and the server's peak memory did not follow the announced sizes.
//!
//! The packets are encoded here by hand (`wire`), as opensrv-clickhouse
//! reads them at protocol revision 54406.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use kafkahouse_tests::{ChHttp, Kafkahouse};

/// How long the server may take to answer a case.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// The most the server's peak memory may grow over all the cases: the
/// announced sizes are gigabytes to terabytes.
const PEAK_GROWTH_LIMIT: u64 = 128 << 20;

/// Encoding of client packets, and decoding of the server's.
mod wire {
    pub const REVISION: u64 = 54406;

    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub fn string(out: &mut Vec<u8>, s: &str) {
        varint(out, s.len() as u64);
        out.extend(s.as_bytes());
    }

    /// A Hello whose client name announces `name_length` bytes and has
    /// "abc": the whole packet when the length is huge.
    pub fn hello_with_name_length(name_length: u64) -> Vec<u8> {
        let mut out = vec![0];
        varint(&mut out, name_length);
        out.extend(b"abc");
        out
    }

    /// A valid Hello of user `default`.
    pub fn hello() -> Vec<u8> {
        let mut out = vec![0];
        string(&mut out, "native_limits");
        varint(&mut out, 1);
        varint(&mut out, 1);
        varint(&mut out, REVISION);
        string(&mut out, "");
        string(&mut out, "default");
        string(&mut out, "");
        out
    }

    /// A Query packet: no client info (query kind 0), no settings, stage
    /// Complete, then the query text.
    pub fn query(sql: &str, compression: bool) -> Vec<u8> {
        let mut out = query_head(compression);
        string(&mut out, sql);
        out
    }

    /// A Query packet up to its query text.
    pub fn query_head(compression: bool) -> Vec<u8> {
        let mut out = vec![1];
        string(&mut out, ""); // query id
        out.push(0); // client info: none
        string(&mut out, ""); // end of settings
        varint(&mut out, 2); // stage: Complete
        varint(&mut out, u64::from(compression));
        out
    }

    /// A Data packet's start (no temporary table, default block info) up
    /// to its numbers of columns and rows.
    pub fn data_header(columns: u64, rows: u64) -> Vec<u8> {
        let mut out = vec![2];
        string(&mut out, "");
        out.extend(block_header(columns, rows));
        out
    }

    pub fn block_header(columns: u64, rows: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, 1);
        out.push(0);
        varint(&mut out, 2);
        out.extend((-1_i32).to_le_bytes());
        varint(&mut out, 0);
        varint(&mut out, columns);
        varint(&mut out, rows);
        out
    }

    /// A Data packet of one column `c` of `type_name`, its values `data`.
    pub fn data_with_column(rows: u64, type_name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = data_header(1, rows);
        string(&mut out, "c");
        string(&mut out, type_name);
        out.extend(data);
        out
    }

    /// A compressed Data packet whose one frame announces these sizes
    /// (checksum zero: the sizes are checked before it).
    pub fn compressed_data(compressed: u32, original: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![2, 0];
        out.extend([0; 16]);
        out.push(0x82);
        out.extend(compressed.to_le_bytes());
        out.extend(original.to_le_bytes());
        out.extend(payload);
        out
    }

    /// What the server sent, packet by packet.
    #[derive(Debug, PartialEq)]
    pub enum Answer {
        Hello,
        /// A block: its column names and row count.
        Data(Vec<String>, u64),
        Exception {
            code: u32,
            message: String,
        },
        Pong,
        EndOfStream,
    }

    struct Reader<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Option<&[u8]> {
            let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len())?;
            let taken = &self.bytes[self.at..end];
            self.at = end;
            Some(taken)
        }

        fn varint(&mut self) -> Option<u64> {
            let mut v = 0_u64;
            for shift in (0..64).step_by(7) {
                let b = self.take(1)?[0];
                v |= u64::from(b & 0x7f) << shift;
                if b < 0x80 {
                    return Some(v);
                }
            }
            None
        }

        fn string(&mut self) -> Option<String> {
            let n = usize::try_from(self.varint()?).ok()?;
            Some(String::from_utf8_lossy(self.take(n)?).into_owned())
        }

        fn u32(&mut self) -> Option<u32> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
        }

        /// A block as the server sends it (uncompressed): names and rows;
        /// values are read for the fixed-size types and String.
        fn block(&mut self) -> Option<(Vec<String>, u64)> {
            self.varint()?;
            self.take(1)?;
            self.varint()?;
            self.take(4)?;
            self.varint()?;
            let columns = self.varint()?;
            let rows = self.varint()?;
            let mut names = Vec::new();
            for _ in 0..columns {
                names.push(self.string()?);
                let type_name = self.string()?;
                let width = match type_name.as_str() {
                    "UInt8" | "Int8" => 1,
                    "UInt16" | "Int16" => 2,
                    "UInt32" | "Int32" | "Float32" => 4,
                    "UInt64" | "Int64" | "Float64" => 8,
                    "String" => 0,
                    _ if rows == 0 => 0,
                    _ => return None,
                };
                for _ in 0..rows {
                    if width == 0 {
                        self.string()?;
                    } else {
                        self.take(width)?;
                    }
                }
            }
            Some((names, rows))
        }

        /// A compressed block, skipped frame by frame: one frame per block
        /// for the small blocks these tests get.
        fn compressed_block(&mut self) -> Option<()> {
            self.take(16)?;
            self.take(1)?;
            let compressed = self.u32()? as usize;
            self.take(compressed.checked_sub(5)?)?;
            Some(())
        }
    }

    /// The server's packets in `bytes`, as far as they parse (blocks are
    /// compressed when `compressed`).
    pub fn answers(bytes: &[u8], compressed: bool) -> Vec<Answer> {
        let mut r = Reader { bytes, at: 0 };
        let mut out = Vec::new();
        while r.at < bytes.len() {
            let answer = (|| {
                Some(Some(match r.varint()? {
                    0 => {
                        r.string()?;
                        r.varint()?;
                        r.varint()?;
                        r.varint()?;
                        r.string()?; // time zone
                        r.string()?; // display name
                        r.varint()?; // patch
                        Answer::Hello
                    }
                    1 => {
                        r.string()?;
                        if compressed {
                            r.compressed_block()?;
                            Answer::Data(Vec::new(), 0)
                        } else {
                            let (names, rows) = r.block()?;
                            Answer::Data(names, rows)
                        }
                    }
                    2 => {
                        let code = r.u32()?;
                        let name = r.string()?;
                        let message = r.string()?;
                        r.string()?;
                        r.take(1)?;
                        Answer::Exception {
                            code,
                            message: format!("{name}: {message}"),
                        }
                    }
                    3 => {
                        r.varint()?;
                        r.varint()?;
                        r.varint()?;
                        return Some(None);
                    }
                    4 => Answer::Pong,
                    5 => Answer::EndOfStream,
                    _ => return None,
                }))
            })();
            match answer {
                Some(Some(a)) => out.push(a),
                Some(None) => {}
                None => break,
            }
        }
        out
    }
}

use wire::Answer;

/// Sends `packets` one after the other (each once the server answered the
/// previous, as a client would), then reads until the server closes the
/// connection, `enough` says what was read is, or `ANSWER_TIMEOUT` passes.
/// Returns what was read, whether the server closed, and whether all was
/// sent (a client such as clickhouse-client reports a connection reset
/// while it writes, and reads no exception).
async fn exchange(
    addr: SocketAddr,
    packets: &[Vec<u8>],
    enough: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, bool, bool) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut got = Vec::new();
    let mut buf = vec![0_u8; 64 << 10];
    let mut sent = true;
    for (i, packet) in packets.iter().enumerate() {
        // The server may close before all is sent: what it sent is read.
        if stream.write_all(packet).await.is_err() {
            sent = false;
            break;
        }
        if i + 1 < packets.len() {
            // Wait for the answer to this packet before the next.
            match tokio::time::timeout(ANSWER_TIMEOUT, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (got, true, false),
                Ok(Ok(n)) => got.extend(&buf[..n]),
                Err(_) => panic!("no answer to packet {i}"),
            }
        }
    }
    let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
    loop {
        if enough(&got) {
            return (got, false, sent);
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true, sent),
            Ok(Ok(n)) => got.extend(&buf[..n]),
            Err(_) => return (got, false, sent),
        }
    }
}

/// The server's peak resident memory (VmHWM), in bytes.
fn peak_memory(server: &Kafkahouse) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmHWM")
}

/// The process runs, `/ping` answers, and a new native session runs a
/// SELECT.
async fn assert_still_serves(server: &mut Kafkahouse, case: &str) {
    assert!(
        server.is_running(),
        "{case}: the server died\n{}",
        server.log()
    );
    let ping = reqwest::get(format!("http://{}/ping", server.http_addr))
        .await
        .unwrap_or_else(|e| panic!("{case}: /ping: {e}"));
    assert_eq!(ping.text().await.ok().as_deref(), Some("Ok.\n"), "{case}");
    let (bytes, _, _) = exchange(
        server.native_addr,
        &[wire::hello(), wire::query("SELECT 1 AS one", false)],
        |got| {
            matches!(
                wire::answers(got, false).last(),
                Some(Answer::EndOfStream | Answer::Exception { .. })
            )
        },
    )
    .await;
    let answers = wire::answers(&bytes, false);
    assert!(
        answers.contains(&Answer::Data(vec!["one".to_string()], 1))
            && answers.last() == Some(&Answer::EndOfStream),
        "{case}: a new session's SELECT 1 got {answers:?}"
    );
}

/// One hostile exchange: the server answers with a ClickHouse exception
/// of `code` (and closes the connection), and goes on serving others.
async fn case(
    server: &mut Kafkahouse,
    name: &str,
    packets: &[Vec<u8>],
    compressed: bool,
    code: u32,
) {
    let (bytes, closed, sent) = exchange(server.native_addr, packets, |_| false).await;
    assert!(
        sent,
        "{name}: the connection was reset while the client sent"
    );
    let answers = wire::answers(&bytes, compressed);
    let exception = answers.iter().find_map(|a| match a {
        Answer::Exception { code, message } => Some((*code, message.clone())),
        _ => None,
    });
    match exception {
        Some((got, message)) => {
            assert_eq!(got, code, "{name}: {message}");
            assert!(message.starts_with("DB::Exception: "), "{name}: {message}");
        }
        None => panic!("{name}: no exception, got {answers:?}"),
    }
    assert!(closed, "{name}: the connection stayed open");
    assert_still_serves(server, name).await;
}

/// A valid session up to an `INSERT INTO t VALUES` that waits for blocks.
fn insert(compressed: bool) -> Vec<Vec<u8>> {
    vec![
        wire::hello(),
        wire::query("INSERT INTO t VALUES", compressed),
    ]
}

fn with(mut packets: Vec<Vec<u8>>, last: Vec<u8>) -> Vec<Vec<u8>> {
    packets.push(last);
    packets
}

/// The encoder makes the issue's packets: 10 bytes for 2^40, 13 for 2^62.
#[test]
fn hello_packets_of_the_issue() {
    let packet = wire::hello_with_name_length(1 << 40);
    assert_eq!(packet, b"\x00\x80\x80\x80\x80\x80\x20abc");
    let packet = wire::hello_with_name_length(1 << 62);
    assert_eq!(packet, b"\x00\x80\x80\x80\x80\x80\x80\x80\x80\x40abc");
    assert_eq!(packet.len(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_length_fields_end_only_their_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Kafkahouse::embedded(&dir.path().join("data"));
    let http = ChHttp::new(&server);
    http.run("CREATE TABLE t (n UInt64, s String) ENGINE = Memory")
        .await;
    assert_still_serves(&mut server, "before the cases").await;
    let peak_before = peak_memory(&server);

    // (a), (b): the Hello of the issue, and with 2^62.
    for (name, length) in [("hello 2^40", 1_u64 << 40), ("hello 2^62", 1 << 62)] {
        let packet = wire::hello_with_name_length(length);
        case(&mut server, name, &[packet], false, 131).await;
    }

    // (c): an INSERT's block announcing 2^40 rows, or 2^40 columns.
    let rows = with(insert(false), wire::data_header(1, 1 << 40));
    case(&mut server, "block of 2^40 rows", &rows, false, 117).await;
    let columns = with(insert(false), wire::data_header(1 << 40, 1));
    case(&mut server, "block of 2^40 columns", &columns, false, 117).await;

    // (d): compressed blocks announcing 4 GiB compressed, 4 GiB
    // decompressed, or more than LZ4 can make of what they have.
    for (name, compressed, original, code) in [
        ("compressed size 4 GiB", u32::MAX, 100, 39),
        ("decompressed size 4 GiB", 100, u32::MAX, 39),
        ("decompressed size beyond LZ4", 100, 1 << 30, 271),
    ] {
        let packets = with(
            insert(true),
            wire::compressed_data(compressed, original, &[0; 32]),
        );
        case(&mut server, name, &packets, true, code).await;
    }

    // (e): types whose size or depth is out of bounds.
    let fixed = with(
        insert(false),
        wire::data_with_column(1, "FixedString(1099511627776)", b"abc"),
    );
    case(&mut server, "FixedString(2^40)", &fixed, false, 69).await;
    let deep = format!("{}UInt8{}", "Array(".repeat(5000), ")".repeat(5000));
    let deep = with(insert(false), wire::data_with_column(1, &deep, &[1; 64]));
    case(&mut server, "Array 5000 deep", &deep, false, 306).await;

    // (f): a String value of 2^31 bytes, followed by three.
    let mut value = Vec::new();
    wire::varint(&mut value, 1 << 31);
    value.extend(b"abc");
    let long = with(insert(false), wire::data_with_column(1, "String", &value));
    case(&mut server, "string of 2^31", &long, false, 131).await;

    // A query text of 512 MiB (a string under the limit), followed by
    // three bytes, then by 32 MiB of it: the packet could not fit the
    // 256 MiB one may take. The client still writing gets the exception,
    // not a reset connection.
    for sent in [3, 32 << 20] {
        let mut query = wire::query_head(false);
        wire::varint(&mut query, 512 << 20);
        query.extend(vec![b'a'; sent]);
        let name = format!("query of 512 MiB, {sent} bytes of it");
        case(&mut server, &name, &[wire::hello(), query], false, 290).await;
    }

    let growth = peak_memory(&server).saturating_sub(peak_before);
    assert!(
        growth < PEAK_GROWTH_LIMIT,
        "the server's peak memory grew by {growth} bytes"
    );
    assert_still_serves(&mut server, "after the cases").await;
}
