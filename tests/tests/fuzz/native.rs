//! Native-protocol input for `fuzz_native_decoder`: Hello, Query, Data and
//! compressed packets with true and false lengths, their encoding, and
//! opensrv-clickhouse's server loop over a loopback socket.

use super::*;

// ---------------------------------------------------------------------------
// Native protocol: opensrv-clickhouse's server loop.

/// A length-prefixed string, its length told truly or not.
#[derive(Debug, Clone)]
pub(super) enum NStr {
    Text(String),
    Told { length: u64, bytes: Bytes },
}

pub(super) fn n_str() -> impl Strategy<Value = NStr> {
    prop_oneof![
        6 => "[a-z_]{0,10}".prop_map(NStr::Text),
        2 => sql::script().prop_map(NStr::Text),
        2 => (interesting_length(), proptest::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(length, bytes)| NStr::Told { length, bytes: Bytes(bytes) }),
    ]
}

/// A varint: mostly small, sometimes any, sometimes longer than ten bytes.
#[derive(Debug, Clone)]
pub(super) enum NVarint {
    Value(u64),
    Overlong(u8),
}

pub(super) fn n_varint() -> impl Strategy<Value = NVarint> {
    prop_oneof![
        4 => (0u64..64).prop_map(NVarint::Value),
        2 => interesting_length().prop_map(NVarint::Value),
        1 => (10u8..16).prop_map(NVarint::Overlong),
    ]
}

#[derive(Debug, Clone)]
pub(super) struct NColumn {
    pub(super) name: NStr,
    pub(super) type_name: NStr,
    pub(super) data: Bytes,
}

#[derive(Debug, Clone)]
pub(super) enum NFrame {
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
pub(super) enum NPacket {
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

pub(super) fn n_packet() -> impl Strategy<Value = NPacket> {
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

pub(super) fn put_varint(out: &mut Vec<u8>, v: &NVarint) {
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

pub(super) fn put_str(out: &mut Vec<u8>, s: &NStr) {
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

pub(super) fn encode_native(packets: &[NPacket]) -> Vec<u8> {
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
pub(super) struct Harness {
    pub(super) metadata: opensrv_clickhouse::ClickHouseMetadata,
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
pub(super) const NATIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection whose client sends `input` and closes its side;
/// the server loop must return (with an answer or an error), not panic or
/// hang.
pub(super) fn native_serve(input: &[u8]) -> Result<(), TestCaseError> {
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
