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

// ---------------------------------------------------------------------------
// PostgreSQL: pgwire's frontend message decoder.

/// Where in the connection the decoder starts.
#[derive(Debug, Clone, Copy)]
enum PgPhase {
    /// Right after connecting: SSLRequest, GSSENCRequest, startup or cancel.
    Ssl,
    /// After SSL negotiation: startup or cancel.
    Startup,
    /// After startup: regular messages.
    Ready,
}

/// What to put in a message's length field.
#[derive(Debug, Clone)]
enum PgLength {
    Correct,
    Off(i8),
    Told(u32),
}

impl PgLength {
    fn value(&self, correct: usize) -> u32 {
        match self {
            PgLength::Correct => correct as u32,
            PgLength::Off(d) => (correct as i64 + i64::from(*d)) as u32,
            PgLength::Told(n) => *n,
        }
    }
}

fn pg_length() -> impl Strategy<Value = PgLength> {
    prop_oneof![
        8 => Just(PgLength::Correct),
        2 => (-6i8..6).prop_map(PgLength::Off),
        2 => interesting_length().prop_map(|n| PgLength::Told(n as u32)),
    ]
}

fn cstring() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => sql::script().prop_map(|s| [s.into_bytes(), vec![0]].concat()),
        2 => "[a-z_]{0,10}".prop_map(|s| [s.into_bytes(), vec![0]].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => Just(vec![0]),
        1 => Just(Vec::new()),
    ]
}

fn be16(n: u16) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// A count as written, and as many items as it claims or not.
fn count_and<T: std::fmt::Debug + Clone>(
    item: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = (u16, Vec<T>)> {
    prop_oneof![
        3 => proptest::collection::vec(item.clone(), 0..6).prop_map(|v| (v.len() as u16, v)),
        1 => (any::<u16>(), proptest::collection::vec(item, 0..4)),
    ]
}

/// The body of a frontend message of type `kind`, as parts of it.
fn pg_body(kind: u8) -> BoxedStrategy<Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..64);
    match kind {
        b'Q' | b'f' | b'p' => prop_oneof![4 => cstring(), 1 => random].boxed(),
        b'P' => (cstring(), cstring(), count_and(any::<u32>()))
            .prop_map(|(name, query, (n, oids))| {
                let mut b = [name, query, be16(n)].concat();
                for oid in oids {
                    b.extend(oid.to_be_bytes());
                }
                b
            })
            .boxed(),
        b'B' => {
            let parameter = prop_oneof![
                3 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(|v| (v.len() as i32, v)),
                1 => Just((-1, Vec::new())),
                1 => (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..8)),
            ];
            (
                cstring(),
                cstring(),
                count_and(any::<i16>()),
                count_and(parameter),
                count_and(any::<i16>()),
                any::<bool>(),
            )
                .prop_map(|(portal, statement, (nf, formats), (np, params), (nr, results), cut)| {
                    let mut b = [portal, statement, be16(nf)].concat();
                    for f in formats {
                        b.extend(f.to_be_bytes());
                    }
                    b.extend(be16(np));
                    for (len, bytes) in params {
                        b.extend(len.to_be_bytes());
                        b.extend(bytes);
                    }
                    if !cut {
                        b.extend(be16(nr));
                        for r in results {
                            b.extend(r.to_be_bytes());
                        }
                    }
                    b
                })
                .boxed()
        }
        b'D' | b'C' => (select(&[b'S', b'P', b'X', 0][..]), cstring())
            .prop_map(|(target, name)| [vec![target], name].concat())
            .boxed(),
        b'E' => (cstring(), any::<i32>())
            .prop_map(|(portal, rows)| [portal, rows.to_be_bytes().to_vec()].concat())
            .boxed(),
        b'H' | b'S' | b'X' | b'c' => prop_oneof![3 => Just(Vec::new()), 1 => random].boxed(),
        _ => random.boxed(),
    }
}

/// One message after startup: type, length, body.
fn pg_message() -> impl Strategy<Value = Vec<u8>> {
    select(&[b'Q', b'P', b'B', b'D', b'C', b'E', b'H', b'S', b'X', b'd', b'f', b'c', b'p', b'Z', 0, 0xFF][..])
        .prop_flat_map(|kind| (Just(kind), pg_length(), pg_body(kind)))
        .prop_map(|(kind, length, body)| {
            let mut m = vec![kind];
            m.extend(length.value(body.len() + 4).to_be_bytes());
            m.extend(body);
            m
        })
}

/// A message without a type byte: SSLRequest, GSSENCRequest, startup, cancel.
fn pg_startup() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        select(&[196_608i32, 196_610, 196_609, 80_877_103, 80_877_104, 80_877_102, 0, -1][..]),
        any::<i32>(),
    ];
    let parameters = proptest::collection::vec(
        (
            prop_oneof![
                select(&["user", "database", "options", "application_name", "client_encoding", "replication", "_pq_.x"][..])
                    .prop_map(str::to_string),
                "[a-z_]{0,8}",
            ],
            prop_oneof!["[a-z]{0,8}", sql::non_ascii(), sql::lossy_bytes()],
        ),
        0..5,
    );
    (pg_length(), code, parameters, proptest::collection::vec(any::<u8>(), 0..16), any::<bool>()).prop_map(
        |(length, code, parameters, cancel_key, terminate)| {
            let mut body = code.to_be_bytes().to_vec();
            if code == 80_877_102 {
                body.extend(cancel_key);
            } else if code != 80_877_103 && code != 80_877_104 {
                for (k, v) in parameters {
                    body.extend(k.as_bytes());
                    body.push(0);
                    body.extend(v.as_bytes());
                    body.push(0);
                }
                if terminate {
                    body.push(0);
                }
            }
            let mut m = length.value(body.len() + 4).to_be_bytes().to_vec();
            m.extend(body);
            m
        },
    )
}

#[derive(Debug, Clone)]
struct PgCase {
    phase: PgPhase,
    protocol_3_2: bool,
    input: Bytes,
}

fn pg_case() -> impl Strategy<Value = PgCase> {
    let phase = select(&[PgPhase::Ssl, PgPhase::Startup, PgPhase::Ready][..]);
    let messages = prop_oneof![
        6 => (
            proptest::collection::vec(pg_startup(), 0..3),
            proptest::collection::vec(pg_message(), 0..6),
            proptest::collection::vec(any::<u8>(), 0..8),
        )
            .prop_map(|(startup, messages, tail)| [startup.concat(), messages.concat(), tail].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ];
    (phase, any::<bool>(), messages).prop_map(|(phase, protocol_3_2, input)| PgCase {
        phase,
        protocol_3_2,
        input: Bytes(input),
    })
}

/// Decodes messages off the input as pgwire's server codec does, moving
/// through the connection's phases, until the decoder wants more bytes or
/// refuses them.
fn pg_decode_all(case: &PgCase) -> Result<(), TestCaseError> {
    use pgwire::messages::{DecodeContext, PgWireFrontendMessage, ProtocolVersion};
    let version = if case.protocol_3_2 {
        ProtocolVersion::PROTOCOL3_2
    } else {
        ProtocolVersion::PROTOCOL3_0
    };
    let mut ctx = DecodeContext::new(version);
    match case.phase {
        PgPhase::Ssl => {}
        PgPhase::Startup => ctx.awaiting_frontend_ssl = false,
        PgPhase::Ready => {
            ctx.awaiting_frontend_ssl = false;
            ctx.awaiting_frontend_startup = false;
        }
    }
    let mut buf = bytes::BytesMut::from(&case.input.0[..]);
    for _ in 0..10_000 {
        let before = buf.len();
        let phase_changes = ctx.awaiting_frontend_ssl || ctx.awaiting_frontend_startup;
        match PgWireFrontendMessage::decode(&mut buf, &ctx) {
            Ok(Some(message)) => {
                match message {
                    PgWireFrontendMessage::SslNegotiation(_) => ctx.awaiting_frontend_ssl = false,
                    PgWireFrontendMessage::Startup(_) | PgWireFrontendMessage::CancelRequest(_) => {
                        ctx.awaiting_frontend_startup = false
                    }
                    _ => {}
                }
                // The codec is called again at once after a message: one that
                // consumed nothing, outside a phase change, would be read forever.
                check(buf.len() < before || phase_changes, || {
                    "a message was decoded from no bytes: the server would loop".into()
                })?;
            }
            Ok(None) | Err(_) => return Ok(()),
        }
    }
    Ok(())
}

#[test]
fn fuzz_pg_decoder() {
    let target = Target::new("fuzz_pg_decoder", module_path!(), 2000).forked();
    fuzz::run(&target, pg_case, |case| {
        let (result, largest) = fuzz::largest_allocation(|| pg_decode_all(&case));
        result?;
        check(largest <= ALLOCATION_LIMIT, || {
            format!("decoding {} bytes allocated {largest} bytes at once", case.input.0.len())
        })
    });
}

// ---------------------------------------------------------------------------
// Native protocol: opensrv-clickhouse's server loop.

/// A length-prefixed string, its length told truly or not.
#[derive(Debug, Clone)]
enum NStr {
    Text(String),
    Told { length: u64, bytes: Bytes },
}

fn n_str() -> impl Strategy<Value = NStr> {
    prop_oneof![
        6 => "[a-z_]{0,10}".prop_map(NStr::Text),
        2 => sql::script().prop_map(NStr::Text),
        2 => (interesting_length(), proptest::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(length, bytes)| NStr::Told { length, bytes: Bytes(bytes) }),
    ]
}

/// A varint: mostly small, sometimes any, sometimes longer than ten bytes.
#[derive(Debug, Clone)]
enum NVarint {
    Value(u64),
    Overlong(u8),
}

fn n_varint() -> impl Strategy<Value = NVarint> {
    prop_oneof![
        4 => (0u64..64).prop_map(NVarint::Value),
        2 => interesting_length().prop_map(NVarint::Value),
        1 => (10u8..16).prop_map(NVarint::Overlong),
    ]
}

#[derive(Debug, Clone)]
struct NColumn {
    name: NStr,
    type_name: NStr,
    data: Bytes,
}

#[derive(Debug, Clone)]
enum NFrame {
    /// The block as it is (the connection expects it compressed until a
    /// query says otherwise).
    Plain,
    /// In one LZ4 frame with a valid checksum, sizes told truly or not.
    Lz4 {
        compressed: Option<u32>,
        original: Option<u32>,
        method: u8,
    },
}

#[derive(Debug, Clone)]
enum NPacket {
    Hello {
        client: NStr,
        major: NVarint,
        minor: NVarint,
        revision: NVarint,
        database: NStr,
        user: NStr,
        password: NStr,
    },
    Query {
        id: NStr,
        /// `query_kind` and what follows it (read when the revision is 54032 or later).
        client_info: Option<(u8, Vec<NStr>, Vec<NVarint>)>,
        settings: Vec<(NStr, NVarint)>,
        stage: NVarint,
        compression: NVarint,
        query: NStr,
    },
    Data {
        table: NStr,
        frame: NFrame,
        info: Option<(NVarint, u8, NVarint, i32, NVarint)>,
        columns: Option<NVarint>,
        rows: NVarint,
        column_list: Vec<NColumn>,
    },
    Ping,
    Cancel,
    Other(NVarint),
    Raw(Bytes),
}

fn n_packet() -> impl Strategy<Value = NPacket> {
    let hello = (
        n_str(),
        n_varint(),
        n_varint(),
        prop_oneof![3 => select(&[54_406u64, 54_032, 54_060, 54_401, 54_420, 54_429, 54_460][..]).prop_map(NVarint::Value), 1 => n_varint()],
        n_str(),
        prop_oneof![4 => Just(NStr::Text("default".into())), 1 => Just(NStr::Text("deny".into())), 1 => n_str()],
        n_str(),
    )
        .prop_map(|(client, major, minor, revision, database, user, password)| NPacket::Hello {
            client,
            major,
            minor,
            revision,
            database,
            user,
            password,
        });
    let setting = (
        prop_oneof![
            3 => select(&["max_block_size", "max_threads", "readonly"][..]).prop_map(|s| NStr::Text(s.into())),
            1 => n_str(),
        ],
        n_varint(),
    );
    let query = (
        n_str(),
        proptest::option::of((
            select(&[0u8, 1, 2, 3, 0xFF][..]),
            proptest::collection::vec(n_str(), 0..8),
            proptest::collection::vec(n_varint(), 0..4),
        )),
        proptest::collection::vec(setting, 0..3),
        prop_oneof![3 => Just(NVarint::Value(2)), 1 => n_varint()],
        prop_oneof![2 => Just(NVarint::Value(0)), 1 => Just(NVarint::Value(1)), 1 => n_varint()],
        prop_oneof![
            3 => select(&["SELECT 1", "INSERT INTO t VALUES", "INSERT INTO t FORMAT Native", "SELECT * FROM t"][..])
                .prop_map(|s| NStr::Text(s.into())),
            2 => n_str(),
        ],
    )
        .prop_map(|(id, client_info, settings, stage, compression, query)| NPacket::Query {
            id,
            client_info,
            settings,
            stage,
            compression,
            query,
        });
    let column = (
        prop_oneof![3 => "[a-z]{1,4}".prop_map(NStr::Text), 1 => n_str()],
        prop_oneof![
            4 => select(&[
                "UInt8", "UInt64", "Int32", "Float64", "String", "Nullable(String)", "Array(UInt8)",
                "Array(Array(String))", "FixedString(4)", "Date", "DateTime", "DateTime('UTC')",
                "DateTime64(3)", "Decimal(10, 2)", "Enum8('a' = 1)", "Enum16('a' = 1, 'b' = 2)",
                "LowCardinality(String)", "Tuple(UInt8, String)", "UUID", "IPv4", "IPv6",
                "Nullable(Array(Int8))", "Array(Nullable(UInt8))", "SimpleAggregateFunction(sum, UInt64)",
            ][..]).prop_map(|s| NStr::Text(s.into())),
            2 => sql::type_name().prop_map(NStr::Text),
            1 => sql::deep_type().prop_map(NStr::Text),
            1 => n_str(),
        ],
        proptest::collection::vec(any::<u8>(), 0..96),
    )
        .prop_map(|(name, type_name, data)| NColumn { name, type_name, data: Bytes(data) });
    let frame = prop_oneof![
        1 => Just(NFrame::Plain),
        2 => (
            proptest::option::of(interesting_length().prop_map(|n| n as u32)),
            proptest::option::of(interesting_length().prop_map(|n| n as u32)),
            prop_oneof![6 => Just(0x82u8), 1 => any::<u8>()],
        )
            .prop_map(|(compressed, original, method)| NFrame::Lz4 { compressed, original, method }),
    ];
    let data = (
        n_str(),
        frame,
        proptest::option::of((n_varint(), any::<u8>(), n_varint(), any::<i32>(), n_varint())),
        proptest::option::of(n_varint()),
        prop_oneof![4 => (0u64..4).prop_map(NVarint::Value), 1 => n_varint()],
        proptest::collection::vec(column, 0..4),
    )
        .prop_map(|(table, frame, info, columns, rows, column_list)| NPacket::Data {
            table,
            frame,
            info,
            columns,
            rows,
            column_list,
        });
    prop_oneof![
        3 => hello,
        3 => query,
        3 => data,
        1 => Just(NPacket::Ping),
        1 => Just(NPacket::Cancel),
        1 => n_varint().prop_map(NPacket::Other),
        1 => proptest::collection::vec(any::<u8>(), 0..32).prop_map(|b| NPacket::Raw(Bytes(b))),
    ]
}

fn put_varint(out: &mut Vec<u8>, v: &NVarint) {
    match v {
        NVarint::Value(mut n) => loop {
            if n < 0x80 {
                out.push(n as u8);
                break;
            }
            out.push((n as u8 & 0x7F) | 0x80);
            n >>= 7;
        },
        NVarint::Overlong(len) => {
            out.extend(std::iter::repeat_n(0xFF, usize::from(*len)));
            out.push(0x01);
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &NStr) {
    match s {
        NStr::Text(t) => {
            put_varint(out, &NVarint::Value(t.len() as u64));
            out.extend(t.as_bytes());
        }
        NStr::Told { length, bytes } => {
            put_varint(out, &NVarint::Value(*length));
            out.extend(&bytes.0);
        }
    }
}

fn encode_native(packets: &[NPacket]) -> Vec<u8> {
    let mut out = Vec::new();
    for packet in packets {
        match packet {
            NPacket::Hello { client, major, minor, revision, database, user, password } => {
                out.push(0);
                put_str(&mut out, client);
                put_varint(&mut out, major);
                put_varint(&mut out, minor);
                put_varint(&mut out, revision);
                put_str(&mut out, database);
                put_str(&mut out, user);
                put_str(&mut out, password);
            }
            NPacket::Query { id, client_info, settings, stage, compression, query } => {
                out.push(1);
                put_str(&mut out, id);
                if let Some((kind, strings, varints)) = client_info {
                    out.push(*kind);
                    if *kind != 0 {
                        for s in strings {
                            put_str(&mut out, s);
                        }
                        for v in varints {
                            put_varint(&mut out, v);
                        }
                    }
                }
                for (name, value) in settings {
                    put_str(&mut out, name);
                    put_varint(&mut out, value);
                }
                put_str(&mut out, &NStr::Text(String::new()));
                put_varint(&mut out, stage);
                put_varint(&mut out, compression);
                put_str(&mut out, query);
            }
            NPacket::Data { table, frame, info, columns, rows, column_list } => {
                out.push(2);
                put_str(&mut out, table);
                let mut block = Vec::new();
                match info {
                    Some((num1, overflows, num2, bucket, num3)) => {
                        put_varint(&mut block, num1);
                        block.push(*overflows);
                        put_varint(&mut block, num2);
                        block.extend(bucket.to_le_bytes());
                        put_varint(&mut block, num3);
                    }
                    None => {
                        put_varint(&mut block, &NVarint::Value(1));
                        block.push(0);
                        put_varint(&mut block, &NVarint::Value(2));
                        block.extend((-1i32).to_le_bytes());
                        put_varint(&mut block, &NVarint::Value(0));
                    }
                }
                let count = columns.clone().unwrap_or(NVarint::Value(column_list.len() as u64));
                put_varint(&mut block, &count);
                put_varint(&mut block, rows);
                for c in column_list {
                    put_str(&mut block, &c.name);
                    put_str(&mut block, &c.type_name);
                    block.extend(&c.data.0);
                }
                match frame {
                    NFrame::Plain => out.extend(block),
                    NFrame::Lz4 { compressed, original, method } => {
                        let packed = lz4_flex::block::compress(&block);
                        let mut body = vec![*method];
                        body.extend(compressed.unwrap_or(packed.len() as u32 + 9).to_le_bytes());
                        body.extend(original.unwrap_or(block.len() as u32).to_le_bytes());
                        body.extend(packed);
                        let hash = naive_cityhash::cityhash128(&body);
                        out.extend(hash.lo.to_le_bytes());
                        out.extend(hash.hi.to_le_bytes());
                        out.extend(body);
                    }
                }
            }
            NPacket::Ping => out.push(4),
            NPacket::Cancel => out.push(3),
            NPacket::Other(v) => put_varint(&mut out, v),
            NPacket::Raw(bytes) => out.extend(&bytes.0),
        }
    }
    out
}

/// The library's side of a session: accepts everyone but the user `deny`,
/// answers SELECT with a small block and takes INSERT data as the library
/// expects (a channel for the blocks, a notification when they are all in).
struct Harness {
    metadata: opensrv_clickhouse::ClickHouseMetadata,
}

#[async_trait::async_trait]
impl opensrv_clickhouse::ClickHouseSession for Harness {
    async fn authenticate(&self, user: &str, _password: &[u8], _client: &str) -> bool {
        user != "deny"
    }

    async fn execute_query(
        &self,
        ctx: &mut opensrv_clickhouse::CHContext,
        connection: &mut opensrv_clickhouse::connection::Connection,
    ) -> opensrv_clickhouse::errors::Result<()> {
        let query = ctx.state.query.trim_start().to_ascii_uppercase();
        if query.starts_with("INSERT") {
            let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
            ctx.state.out = Some(sender);
            let all_sent = ctx.state.sent_all_data.clone();
            tokio::spawn(async move {
                while receiver.recv().await.is_some() {}
                all_sent.notify_one();
            });
        } else if query.starts_with("SELECT") {
            let block = opensrv_clickhouse::types::Block::new()
                .column("x", vec![1u8, 2])
                .column("s", vec!["a".to_string(), "b".to_string()]);
            connection.write_block(&block).await?;
        }
        Ok(())
    }

    fn metadata(&self) -> &opensrv_clickhouse::ClickHouseMetadata {
        &self.metadata
    }
}

/// How long the server loop may take to return once the client has sent
/// everything and closed its side.
const NATIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection whose client sends `input` and closes its side;
/// the server loop must return (with an answer or an error), not panic or
/// hang.
fn native_serve(input: &[u8]) -> Result<(), TestCaseError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(format!("tokio runtime: {e}")))?;
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        let (client, (server_side, _)) = (client?, accepted?);
        let session = Arc::new(Harness {
            metadata: opensrv_clickhouse::ClickHouseMetadata::default()
                .with_name("ClickHouse")
                .with_tcp_protocol_version(54_406)
                .with_timezone("UTC"),
        });
        let (mut from_server, mut to_server) = client.into_split();
        let serve = opensrv_clickhouse::ClickHouseServer::run_on_stream(session, server_side);
        let send = async move {
            let _ = to_server.write_all(input).await;
            let _ = to_server.shutdown().await;
        };
        let drain = async move {
            let mut answers = Vec::new();
            let _ = from_server.read_to_end(&mut answers).await;
        };
        let finished = tokio::time::timeout(NATIVE_TIMEOUT, async {
            let (served, (), ()) = tokio::join!(serve, send, drain);
            served.is_ok()
        })
        .await;
        Ok::<_, std::io::Error>(finished)
    });
    match outcome {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(TestCaseError::fail(format!(
            "run_on_stream did not return within {NATIVE_TIMEOUT:?} of the client closing its side"
        ))),
        Err(e) => Err(TestCaseError::fail(format!("loopback connection: {e}"))),
    }
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

// ---------------------------------------------------------------------------
// HTTP: raw requests to a running kafkahouse.

/// How the body's end is told.
#[derive(Debug, Clone)]
enum Framing {
    /// Neither Content-Length nor Transfer-Encoding.
    None,
    /// A true Content-Length.
    Length,
    /// A Content-Length that is not the body's (or not a number).
    WrongLength(String),
    /// Chunks at these cuts, with a true size line each, and the last chunk.
    Chunked(Vec<Index>),
    /// Chunks, one of them with this size line instead of its own, or without
    /// the last chunk.
    BadChunked(Vec<Index>, Option<String>),
    /// Both Content-Length and chunked.
    Both,
}

#[derive(Debug, Clone, Copy)]
enum Codec {
    Gzip,
    Deflate,
    Zstd,
    Lz4,
}

#[derive(Debug, Clone)]
enum Body {
    Text(String),
    Random(Bytes),
    /// Compressed text, perhaps damaged (cut at, byte flipped at), with the
    /// Content-Encoding header or not.
    Compressed {
        codec: Codec,
        text: String,
        cut: Option<Index>,
        flip: Option<Index>,
        declared: bool,
    },
    /// Garbage under a Content-Encoding.
    Garbage(&'static str, Bytes),
}

#[derive(Debug, Clone)]
struct HttpCase {
    method: String,
    path: String,
    params: Vec<(String, String, bool)>,
    version: &'static str,
    headers: Vec<(String, String)>,
    framing: Framing,
    body: Body,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        Codec::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("deflate");
            e.finish().expect("deflate")
        }
        Codec::Zstd => zstd::bulk::compress(data, 1).expect("zstd"),
        Codec::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).expect("lz4");
            e.finish().expect("lz4")
        }
    }
}

impl Body {
    fn bytes(&self) -> (Vec<u8>, Option<&'static str>) {
        match self {
            Body::Text(t) => (t.clone().into_bytes(), None),
            Body::Random(b) => (b.0.clone(), None),
            Body::Compressed { codec, text, cut, flip, declared } => {
                let mut data = compress(*codec, text.as_bytes());
                if let Some(at) = cut {
                    data.truncate(at.index(data.len() + 1));
                }
                if let Some(at) = flip {
                    if !data.is_empty() {
                        let i = at.index(data.len());
                        data[i] ^= 0x5A;
                    }
                }
                let name = match codec {
                    Codec::Gzip => "gzip",
                    Codec::Deflate => "deflate",
                    Codec::Zstd => "zstd",
                    Codec::Lz4 => "lz4",
                };
                (data, declared.then_some(name))
            }
            Body::Garbage(encoding, b) => (b.0.clone(), Some(*encoding)),
        }
    }
}

impl HttpCase {
    /// The request's bytes, and whether it is complete and well framed (the
    /// server owes it an answer without waiting for more).
    fn request(&self) -> (Vec<u8>, bool) {
        let mut target = self.path.clone();
        for (i, (k, v, encode)) in self.params.iter().enumerate() {
            target.push(if i == 0 && !target.contains('?') { '?' } else { '&' });
            if *encode {
                target.push_str(&format!("{}={}", percent_encode(k), percent_encode(v)));
            } else {
                target.push_str(&format!("{k}={v}"));
            }
        }
        let (body, encoding) = self.body.bytes();
        let mut head = format!("{} {} {}\r\n", self.method, target, self.version);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(encoding) = encoding {
            head.push_str(&format!("Content-Encoding: {encoding}\r\n"));
        }
        let chunks = |cuts: &[Index]| -> Vec<Vec<u8>> {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            points.push(0);
            points.push(body.len());
            points.sort_unstable();
            points.dedup();
            points.windows(2).map(|w| body[w[0]..w[1]].to_vec()).collect()
        };
        let mut complete = true;
        let mut payload = Vec::new();
        match &self.framing {
            Framing::None => complete = body.is_empty(),
            Framing::Length => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
            Framing::WrongLength(n) => {
                complete = false;
                head.push_str(&format!("Content-Length: {n}\r\n"));
            }
            Framing::Chunked(cuts) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                for chunk in chunks(cuts) {
                    payload.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
                    payload.extend(chunk);
                    payload.extend(b"\r\n");
                }
                payload.extend(b"0\r\n\r\n");
            }
            Framing::BadChunked(cuts, lie) => {
                complete = false;
                head.push_str("Transfer-Encoding: chunked\r\n");
                for (i, chunk) in chunks(cuts).into_iter().enumerate() {
                    let size = match lie {
                        Some(l) if i == 0 => l.clone(),
                        _ => format!("{:x}", chunk.len()),
                    };
                    payload.extend(format!("{size}\r\n").as_bytes());
                    payload.extend(chunk);
                    payload.extend(b"\r\n");
                }
                if lie.is_some() {
                    payload.extend(b"0\r\n\r\n");
                }
            }
            Framing::Both => {
                complete = false;
                head.push_str(&format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", body.len()));
            }
        }
        if !matches!(self.framing, Framing::Chunked(_) | Framing::BadChunked(..)) {
            payload = body;
        }
        // A line break inside the request line or a header moves the end of
        // the head; the server may then rightly wait for more.
        let breaks = |t: &str| t.contains(['\r', '\n']);
        complete = complete
            && self.version.starts_with("HTTP/1.")
            && !breaks(&self.method)
            && !breaks(&target)
            && !self.headers.iter().any(|(n, v)| breaks(n) || breaks(v));
        head.push_str("Connection: close\r\n\r\n");
        let mut request = head.into_bytes();
        request.extend(payload);
        (request, complete)
    }
}

/// SQL for the HTTP interface: what the planner targets get, and short
/// statements that run.
fn http_sql() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => sql::script(),
        2 => select(&[
            "SELECT 1", "SELECT 1 FORMAT JSON", "SHOW TABLES", "SELECT * FROM system.one",
            "INSERT INTO t FORMAT TSV", "CREATE TABLE t (a String) ENGINE = Memory",
            "INSERT INTO t VALUES ('x')", "SELECT count() FROM t", "USE default", "SET max_result_rows = 10",
            "SELECT $1", "SELECT {p:UInt8}", "EXISTS t", "DESCRIBE t", "SYSTEM SYNC KAFKA t TIMEOUT 1",
        ][..])
            .prop_map(str::to_string),
    ]
}

fn http_case() -> impl Strategy<Value = HttpCase> {
    let method = prop_oneof![
        16 => select(&["GET", "POST", "POST"][..]).prop_map(str::to_string),
        2 => select(&["HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get", "G ET", ""][..])
            .prop_map(str::to_string),
        1 => "[A-Z]{1,10}",
    ];
    let path = prop_oneof![
        16 => Just("/".to_string()),
        3 => select(&["/ping", "/?", "/play", "/replicas_status", "/query", "//", "/%2e%2e/", "/?query"][..])
            .prop_map(str::to_string),
        1 => select(&["*", "http://localhost/", "/\u{e9}", "/ping/../", "/%", "/%zz", ""][..]).prop_map(str::to_string),
        1 => "/[ -~]{0,16}",
    ];
    let param = (
        prop_oneof![
            6 => Just("query".to_string()),
            6 => select(&[
                "query", "database", "default_format", "session_id", "session_timeout", "session_check",
                "query_id", "compress", "decompress", "user", "password", "max_result_rows", "readonly",
                "max_execution_time", "output_format_json_quote_64bit_integers", "param_p",
                "enable_http_compression", "wait_end_of_query",
            ][..]).prop_map(str::to_string),
            1 => "[a-z_]{1,12}",
        ],
        prop_oneof![
            3 => http_sql(),
            3 => select(&["default", "system", "nope", "JSON", "TSV", "Native", "s1", "s2", "1", "0", "-1",
                "99999999999999999999", "", "%zz", "%c3%28"][..]).prop_map(str::to_string),
            1 => sql::non_ascii(),
            1 => sql::lossy_bytes(),
        ],
        prop_oneof![12 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(name, value, encode)| (name, value, encode));
    let header = prop_oneof![
        12 => (
            select(&["X-ClickHouse-Format", "X-ClickHouse-Database", "X-ClickHouse-User", "X-ClickHouse-Key",
                "X-ClickHouse-Quota", "Accept-Encoding", "Authorization", "Content-Type", "Expect", "User-Agent"][..]),
            prop_oneof![
                select(&["JSON", "TSV", "default", "gzip", "zstd, lz4", "100-continue", "Basic Zm9vOmJhcg==",
                    "Basic !!", "text/plain", "application/octet-stream", ""][..]).prop_map(str::to_string),
                "[ -~]{0,16}",
            ],
        )
            .prop_map(|(n, v)| (n.to_string(), v)),
        2 => ("[A-Za-z-]{1,12}", "[ -~]{0,20}"),
        1 => (select(&["X-Bad\u{e9}", "X Bad", "", "X-Long"][..]).prop_map(str::to_string), sql::lossy_bytes()),
    ];
    let version = prop_oneof![
        24 => Just("HTTP/1.1"),
        4 => Just("HTTP/1.0"),
        1 => select(&["HTTP/2.0", "HTTP/1.2", "HTTP/9", "", "http/1.1"][..]),
    ];
    let framing = prop_oneof![
        3 => Just(Framing::None),
        12 => Just(Framing::Length),
        1 => prop_oneof![
            (-3i64..0).prop_map(|d| d.to_string()),
            select(&["-1", "abc", "1e3", " 5", "0x10", "99999999999999999999", "18446744073709551615", "4294967296", "5, 5"][..])
                .prop_map(str::to_string),
        ]
        .prop_map(Framing::WrongLength),
        3 => proptest::collection::vec(any::<Index>(), 0..4).prop_map(Framing::Chunked),
        1 => (
            proptest::collection::vec(any::<Index>(), 0..3),
            proptest::option::of(select(&["ffffffffffffffff", "-1", "zz", "1;ext=1", "10000000", "", "0"][..]).prop_map(str::to_string)),
        )
            .prop_map(|(cuts, lie)| Framing::BadChunked(cuts, lie)),
        1 => Just(Framing::Both),
    ];
    let codec = select(&[Codec::Gzip, Codec::Deflate, Codec::Zstd, Codec::Lz4][..]);
    let body = prop_oneof![
        2 => Just(Body::Text(String::new())),
        4 => http_sql().prop_map(Body::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..512).prop_map(|b| Body::Random(Bytes(b))),
        2 => (codec, http_sql(), proptest::option::of(any::<Index>()), proptest::option::of(any::<Index>()), prop_oneof![4 => Just(true), 1 => Just(false)])
            .prop_map(|(codec, text, cut, flip, declared)| Body::Compressed { codec, text, cut, flip, declared }),
        1 => (
            select(&["gzip", "x-gzip", "deflate", "zstd", "lz4", "br", "identity", "gzip, zstd", " lz4 ", "compress"][..]),
            proptest::collection::vec(any::<u8>(), 0..256),
        )
            .prop_map(|(e, b)| Body::Garbage(e, Bytes(b))),
    ];
    (
        method,
        path,
        proptest::collection::vec(param, 0..5),
        version,
        prop_oneof![3 => Just(Vec::new()), 2 => proptest::collection::vec(header, 0..4)],
        framing,
        body,
        prop_oneof![8 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(method, path, params, version, mut headers, framing, body, host)| {
            if host {
                headers.insert(0, ("Host".to_string(), "localhost".to_string()));
            }
            HttpCase { method, path, params, version, headers, framing, body }
        })
}

/// How long an answer may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `request`, closes our side when `complete` is false (so that the
/// server stops waiting for the rest), and reads until the server closes or
/// the timeout passes.
fn exchange(address: SocketAddr, request: &[u8], complete: bool) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + HTTP_TIMEOUT;
    let mut stream = TcpStream::connect_timeout(&address, HTTP_TIMEOUT)?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    // The server may answer (and close) before reading all of it.
    let _ = stream.write_all(request);
    if !complete {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no end of answer"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(answer),
            Ok(n) => answer.extend(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A reset after the answer (the server closed with our bytes unread).
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(answer),
            Err(e) => return Err(e),
        }
    }
}

/// `GET /ping` answers `Ok.`.
fn ping(address: SocketAddr) -> Result<(), String> {
    let answer = exchange(address, b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", true)
        .map_err(|e| format!("GET /ping: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\nOk.\n") {
        Ok(())
    } else {
        Err(format!("GET /ping answered {text:?}"))
    }
}

/// Every this many cases, and at the end, /ping must answer.
const PING_EVERY: u64 = 20;

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
