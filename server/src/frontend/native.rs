//! ClickHouse's native TCP protocol, through opensrv-clickhouse (the
//! protocol library Databend uses): `clickhouse-client` and other
//! native-protocol clients connect, run statements and see results as
//! blocks and errors as ClickHouse exceptions.
//!
//! Results travel as blocks of their numeric type where kafkahouse's type
//! model has one, and as text otherwise (the client prints both the same
//! way). Rows the client sends as blocks (`INSERT ... VALUES` typed into
//! clickhouse-client) are read here, as text, and inserted like any INSERT.
//! A statement's warnings go to the client as server log packets.

use std::sync::Arc;

use opensrv_clickhouse::binary::Encoder;
use opensrv_clickhouse::connection::Connection;
use opensrv_clickhouse::errors::{Error as NativeError, Result as NativeResult, ServerError};
use opensrv_clickhouse::protocols::{Packet, DBMS_MIN_REVISION_WITH_SERVER_LOGS};
use opensrv_clickhouse::types::Block;
use opensrv_clickhouse::{CHContext, ClickHouseMetadata, ClickHouseServer, ClickHouseSession};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

use catalog::ChType;

use crate::error::{codes, ChError};
use crate::executor::{ClientSession, Executor};
use crate::result::{Outcome, ResultSet};

/// The server's answer to a client's ping.
const SERVER_PONG: u8 = 4;

/// The server's log packet, which clickhouse-client prints to stderr.
const SERVER_LOG: u64 = 10;

/// `Poco::Message::PRIO_WARNING`, the level ClickHouse's log blocks carry.
const PRIORITY_WARNING: i8 = 4;

/// The protocol revision opensrv-clickhouse 0.7 speaks; clients negotiate
/// down to the lower of theirs and this.
const PROTOCOL_REVISION: u64 = 54406;

/// Serves native-protocol clients on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, executor: Arc<Executor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "native protocol: accept failed");
                continue;
            }
        };
        let session = Arc::new(NativeSession {
            executor: executor.clone(),
            session: Mutex::new(None),
            metadata: ClickHouseMetadata::default()
                .with_name("ClickHouse")
                .with_major_version(26)
                .with_minor_version(7)
                .with_patch_version(0)
                .with_tcp_protocol_version(PROTOCOL_REVISION)
                .with_timezone("UTC")
                .with_display_name("kafkahouse"),
            parked: std::sync::Mutex::new(Vec::new()),
        });
        tokio::spawn(async move {
            tracing::debug!(%peer, "native client connected");
            // A malformed packet or a vanished client ends this connection only.
            if let Err(e) = ClickHouseServer::run_on_stream(session, stream).await {
                tracing::debug!(%peer, error = %e, "native connection ended");
            }
        });
    }
}

struct NativeSession {
    executor: Arc<Executor>,
    session: Mutex<Option<ClientSession>>,
    metadata: ClickHouseMetadata,
    /// See `fail`: kept so that the library never sends into a closed channel.
    parked: std::sync::Mutex<Vec<mpsc::Receiver<Block>>>,
}

#[async_trait::async_trait]
impl ClickHouseSession for NativeSession {
    async fn execute_query(
        &self,
        ctx: &mut CHContext,
        connection: &mut Connection,
    ) -> NativeResult<()> {
        ctx.state.out = None;
        let query = ctx.state.query.clone();
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            let database = ctx
                .hello
                .as_ref()
                .map(|h| String::from_utf8_lossy(&h.default_database).into_owned())
                .filter(|d| !d.is_empty());
            match self.executor.open_session(database.as_deref()).await {
                Ok(s) => *guard = Some(s),
                Err(e) => return self.fail(ctx, connection, &e).await,
            }
        }
        let Some(session) = guard.as_mut() else {
            return Ok(());
        };
        let limit = session.max_query_size();
        for statement in planner::statements(&query, limit) {
            // The client formats results itself: a FORMAT clause is its own.
            let statement = statement.without_format();
            if let planner::Kind::Insert {
                table: Some(table), ..
            } = &statement.kind
            {
                if let Some(columns) = statement.rows_from_client().map(<[String]>::to_vec) {
                    return match insert_client_data(
                        session, ctx, connection, &statement, table, &columns,
                    )
                    .await
                    {
                        Ok(()) => Ok(()),
                        Err(Failure::Query(e)) => self.fail(ctx, connection, &e).await,
                        Err(Failure::Connection(e)) => Err(e),
                    };
                }
            }
            // The client may cancel (Ctrl-C) or ping while the statement
            // runs: its packets are read meanwhile (reading is cancel-safe:
            // a packet is taken off the buffer only when whole).
            let outcome = {
                let run = session.execute(&statement);
                tokio::pin!(run);
                loop {
                    tokio::select! {
                        outcome = &mut run => break Some(outcome),
                        packet = connection.read_packet(ctx) => match packet {
                            Ok(Some(Packet::Cancel)) => break None,
                            Ok(Some(Packet::Ping)) => connection.write_bytes(vec![SERVER_PONG]).await?,
                            // The end of the client's (empty) external tables.
                            Ok(Some(_)) => {}
                            Ok(None) => return Err(NativeError::IO(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "the client left during its query",
                            ))),
                            Err(e) => return Err(e),
                        },
                    }
                }
            };
            match outcome {
                // Cancelled: what the statement does in the backend is left to
                // finish there; the client gets the end of its query now.
                None => {
                    tracing::info!("query cancelled by the client");
                    return Ok(());
                }
                Some(Ok(Outcome::Rows(result))) => {
                    connection.write_block(&block_of(&result)).await?;
                }
                Some(Ok(Outcome::Done { warnings, .. })) => {
                    if ctx.client_revision >= DBMS_MIN_REVISION_WITH_SERVER_LOGS {
                        for warning in &warnings {
                            connection
                                .write_bytes(log_packet(&ctx.state.query_id, warning))
                                .await?;
                        }
                    }
                }
                Some(Err(e)) => return self.fail(ctx, connection, &e).await,
            }
        }
        Ok(())
    }

    fn metadata(&self) -> &ClickHouseMetadata {
        &self.metadata
    }
}

impl NativeSession {
    /// Sends `e` as the query's exception. The library would follow any
    /// answer with an end-of-stream packet, which after an exception the
    /// client would read as the end of its next query; marking the query as
    /// one that waits for insert data suppresses it.
    async fn fail(
        &self,
        ctx: &mut CHContext,
        connection: &mut Connection,
        e: &ChError,
    ) -> NativeResult<()> {
        connection
            .write_error(&NativeError::Server(ServerError {
                code: u32::try_from(e.code).unwrap_or(codes::UNKNOWN_EXCEPTION as u32),
                name: "DB::Exception".into(),
                message: e.message.clone(),
                stack_trace: String::new(),
            }))
            .await?;
        let (sender, receiver) = mpsc::channel(1);
        ctx.state.out = Some(sender);
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        parked.clear();
        parked.push(receiver);
        Ok(())
    }
}

/// A warning as ClickHouse's server log packet: clickhouse-client prints
/// it (`<Warning> kafkahouse: ...`) whatever its `send_logs_level`. The
/// block has both spellings of the thread column, `thread_number` UInt32
/// (clients before 19.x) and `thread_id` UInt64 (later ones), since clients
/// look columns up by name; log blocks are never compressed.
fn log_packet(query_id: &str, text: &str) -> Vec<u8> {
    let now = chrono::Utc::now();
    let block = Block::new()
        .column(
            "event_time",
            vec![u32::try_from(now.timestamp()).unwrap_or(0)],
        )
        .column(
            "event_time_microseconds",
            vec![now.timestamp_subsec_micros()],
        )
        .column("host_name", vec!["kafkahouse".to_string()])
        .column("query_id", vec![query_id.to_string()])
        .column("thread_number", vec![0u32])
        .column("thread_id", vec![0u64])
        .column("priority", vec![PRIORITY_WARNING])
        .column("source", vec!["kafkahouse".to_string()])
        .column("text", vec![text.to_string()]);
    let mut encoder = Encoder::new();
    encoder.uvarint(SERVER_LOG);
    encoder.string("");
    block.write(&mut encoder, false);
    encoder.get_buffer()
}

/// Why a client-data INSERT ended: an error for the client, or a broken
/// connection.
enum Failure {
    Query(ChError),
    Connection(NativeError),
}

impl From<ChError> for Failure {
    fn from(e: ChError) -> Self {
        Failure::Query(e)
    }
}

impl From<NativeError> for Failure {
    fn from(e: NativeError) -> Self {
        Failure::Connection(e)
    }
}

/// How a column travels in the blocks the client sends: types the client
/// can parse VALUES and JSON into, and kafkahouse can read back as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    NullableText,
    IntArray,
    FloatArray,
    TextArray,
}

fn wire_of(ty: &ChType) -> Wire {
    let numeric = |t: &ChType| match t {
        ChType::UInt8 => Some(Wire::U8),
        ChType::UInt16 => Some(Wire::U16),
        ChType::UInt32 => Some(Wire::U32),
        ChType::UInt64 => Some(Wire::U64),
        ChType::Int8 => Some(Wire::I8),
        ChType::Int16 => Some(Wire::I16),
        ChType::Int32 => Some(Wire::I32),
        ChType::Int64 => Some(Wire::I64),
        ChType::Float32 => Some(Wire::F32),
        ChType::Float64 => Some(Wire::F64),
        _ => None,
    };
    match ty {
        ChType::Nullable(_) => Wire::NullableText,
        ChType::LowCardinality(inner) => wire_of(inner),
        ChType::Array(inner) => match numeric(inner.value_type()) {
            Some(Wire::F32 | Wire::F64) => Wire::FloatArray,
            Some(_) => Wire::IntArray,
            None => Wire::TextArray,
        },
        other => numeric(other).unwrap_or(Wire::Text),
    }
}

/// The header block that tells the client which columns to send.
fn header_block(columns: &[(String, Wire)]) -> Block {
    let mut block = Block::new();
    for (name, wire) in columns {
        block = match wire {
            Wire::U8 => block.column(name, Vec::<u8>::new()),
            Wire::U16 => block.column(name, Vec::<u16>::new()),
            Wire::U32 => block.column(name, Vec::<u32>::new()),
            Wire::U64 => block.column(name, Vec::<u64>::new()),
            Wire::I8 => block.column(name, Vec::<i8>::new()),
            Wire::I16 => block.column(name, Vec::<i16>::new()),
            Wire::I32 => block.column(name, Vec::<i32>::new()),
            Wire::I64 => block.column(name, Vec::<i64>::new()),
            Wire::F32 => block.column(name, Vec::<f32>::new()),
            Wire::F64 => block.column(name, Vec::<f64>::new()),
            Wire::Text => block.column(name, Vec::<String>::new()),
            Wire::NullableText => block.column(name, Vec::<Option<String>>::new()),
            Wire::IntArray => block.column(name, Vec::<Vec<i64>>::new()),
            Wire::FloatArray => block.column(name, Vec::<Vec<f64>>::new()),
            Wire::TextArray => block.column(name, Vec::<Vec<String>>::new()),
        };
    }
    block
}

/// One value of a received block as TabSeparated text.
fn tsv_value(block: &Block, row: usize, column: usize, wire: Wire) -> Result<String, ChError> {
    let bad = |e: opensrv_clickhouse::errors::Error| {
        ChError::new(
            codes::INCORRECT_DATA,
            format!("Cannot read the client's block: {e}"),
        )
    };
    let text = |v: String| catalog::quote::tsv(&v);
    let quoted = |v: &String| catalog::quote::string(v);
    Ok(match wire {
        Wire::U8 => block.get::<u8, _>(row, column).map_err(bad)?.to_string(),
        Wire::U16 => block.get::<u16, _>(row, column).map_err(bad)?.to_string(),
        Wire::U32 => block.get::<u32, _>(row, column).map_err(bad)?.to_string(),
        Wire::U64 => block.get::<u64, _>(row, column).map_err(bad)?.to_string(),
        Wire::I8 => block.get::<i8, _>(row, column).map_err(bad)?.to_string(),
        Wire::I16 => block.get::<i16, _>(row, column).map_err(bad)?.to_string(),
        Wire::I32 => block.get::<i32, _>(row, column).map_err(bad)?.to_string(),
        Wire::I64 => block.get::<i64, _>(row, column).map_err(bad)?.to_string(),
        Wire::F32 => block.get::<f32, _>(row, column).map_err(bad)?.to_string(),
        Wire::F64 => block.get::<f64, _>(row, column).map_err(bad)?.to_string(),
        Wire::Text => text(block.get::<String, _>(row, column).map_err(bad)?),
        Wire::NullableText => match block.get::<Option<String>, _>(row, column).map_err(bad)? {
            Some(v) => text(v),
            None => "\\N".to_string(),
        },
        Wire::IntArray => {
            let v: Vec<i64> = block.get(row, column).map_err(bad)?;
            format!(
                "[{}]",
                v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            )
        }
        Wire::FloatArray => {
            let v: Vec<f64> = block.get(row, column).map_err(bad)?;
            format!(
                "[{}]",
                v.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
            )
        }
        Wire::TextArray => {
            let v: Vec<String> = block.get(row, column).map_err(bad)?;
            text(format!(
                "[{}]",
                v.iter().map(quoted).collect::<Vec<_>>().join(",")
            ))
        }
    })
}

/// `INSERT ... VALUES` / `FORMAT` typed into the client: sends the header,
/// reads the client's blocks up to the empty one that ends them, and inserts
/// the rows through the same path as every other INSERT (Kafka tables and
/// view sources included). Any error reaches the client as an exception.
async fn insert_client_data(
    session: &mut ClientSession,
    ctx: &mut CHContext,
    connection: &mut Connection,
    statement: &planner::Statement<'_>,
    table: &planner::ObjectName,
    listed: &[String],
) -> Result<(), Failure> {
    let typed = session.insert_columns(table, listed).await?;
    let columns: Vec<(String, Wire)> = typed
        .iter()
        .map(|(name, ty)| (name.clone(), wire_of(ty)))
        .collect();
    // Columns sent as text whose type is not text (dates, enums, ...): the
    // client fills a field missing from its input (a JSON row without it)
    // with an empty string, which must become the column's default.
    let text_for_other: Vec<bool> = typed
        .iter()
        .map(|(_, ty)| {
            wire_of(ty) == Wire::Text
                && !matches!(ty.value_type(), ChType::String | ChType::FixedString(_))
        })
        .collect();
    let mut empty_as_default = false;
    connection.write_block(&header_block(&columns)).await?;
    // The client's blocks: first the (empty) end of its external tables,
    // then the data, then an empty block.
    let mut tsv = String::new();
    let mut empty_blocks = 0;
    let mut rows = 0usize;
    while empty_blocks < 2 {
        match connection.read_packet(ctx).await? {
            Some(opensrv_clickhouse::protocols::Packet::Data(block)) => {
                if block.row_count() == 0 {
                    empty_blocks += 1;
                    continue;
                }
                // The data started: the external tables' end was skipped.
                empty_blocks = empty_blocks.max(1);
                for row in 0..block.row_count() {
                    let values = columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, wire))| tsv_value(&block, row, i, *wire))
                        .collect::<Result<Vec<_>, _>>()?;
                    empty_as_default |= values
                        .iter()
                        .zip(&text_for_other)
                        .any(|(v, other)| *other && v.is_empty());
                    tsv.push_str(&values.join("\t"));
                    tsv.push('\n');
                    rows += 1;
                }
            }
            Some(_) => {
                return Err(Failure::Query(ChError::new(
                    codes::UNEXPECTED_PACKET_FROM_CLIENT,
                    "Unexpected packet from the client while it was sending INSERT data",
                )))
            }
            None => {
                return Err(Failure::Connection(NativeError::IO(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the client left in the middle of its INSERT data",
                ))))
            }
        }
    }
    if rows == 0 {
        return Ok(());
    }
    let names: Vec<String> = columns
        .iter()
        .map(|(n, _)| catalog::quote::identifier(n))
        .collect();
    let target = &statement.sql[planner::insert_target_span(statement.sql).ok_or_else(|| {
        ChError::new(codes::SYNTAX_ERROR, "Syntax error: INSERT without a table")
    })?];
    let mut insert = format!("INSERT INTO {target} ({})", names.join(", "));
    // Only when needed: servers before 19.x do not know the setting.
    if empty_as_default {
        insert.push_str(" SETTINGS input_format_tsv_empty_as_default = 1");
    }
    insert_rows(session, statement, table, &insert, tsv).await
}

async fn insert_rows(
    session: &mut ClientSession,
    statement: &planner::Statement<'_>,
    table: &planner::ObjectName,
    insert: &str,
    tsv: String,
) -> Result<(), Failure> {
    if session.handles_inserts_into(table) {
        let query = format!("{insert} FORMAT TabSeparated");
        let sql = format!("{query}\n{tsv}");
        session
            .execute(&planner::Statement {
                sql: &sql,
                query: &sql[..query.len()],
                kind: statement.kind.clone(),
            })
            .await?;
    } else {
        session
            .insert_data(insert, "TabSeparated", tsv.into_bytes())
            .await?;
    }
    Ok(())
}

/// A result as one block: numeric columns as numbers, the rest as text.
fn block_of(result: &ResultSet) -> Block {
    let mut block = Block::new();
    for (i, column) in result.columns.iter().enumerate() {
        let values: Vec<Option<&str>> = result
            .rows
            .iter()
            .map(|row| row.get(i).and_then(|v| v.as_deref()))
            .collect();
        let nullable = values.iter().any(Option::is_none);
        macro_rules! numbers {
            ($t:ty) => {{
                // Every non-NULL value must parse, or the column goes as text.
                let parsed: Option<Vec<Option<$t>>> = values
                    .iter()
                    .map(|v| match v {
                        None => Some(None),
                        Some(v) => v.parse().ok().map(Some),
                    })
                    .collect();
                if let Some(parsed) = parsed {
                    if nullable {
                        block = block.column(&column.name, parsed);
                    } else {
                        let plain: Vec<$t> = parsed.into_iter().flatten().collect();
                        block = block.column(&column.name, plain);
                    }
                    continue;
                }
            }};
        }
        match column.ty.as_ref().map(ChType::value_type) {
            Some(ChType::UInt8) => numbers!(u8),
            Some(ChType::UInt16) => numbers!(u16),
            Some(ChType::UInt32) => numbers!(u32),
            Some(ChType::UInt64) => numbers!(u64),
            Some(ChType::Int8) => numbers!(i8),
            Some(ChType::Int16) => numbers!(i16),
            Some(ChType::Int32) => numbers!(i32),
            Some(ChType::Int64) => numbers!(i64),
            Some(ChType::Float32) => numbers!(f32),
            Some(ChType::Float64) => numbers!(f64),
            // Arrays of text (String, LowCardinality, Enum, dates) as real
            // arrays, so the client prints them as ClickHouse does.
            Some(ChType::Array(inner)) if !nullable && !crate::formats::is_number(Some(inner)) => {
                let parsed: Option<Vec<Vec<String>>> = values
                    .iter()
                    .map(|v| v.and_then(crate::formats::parse_text_array))
                    .collect();
                if let Some(parsed) = parsed {
                    block = block.column(&column.name, parsed);
                    continue;
                }
            }
            _ => {}
        }
        if nullable {
            let text: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
            block = block.column(&column.name, text);
        } else {
            let text: Vec<String> = values
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect();
            block = block.column(&column.name, text);
        }
    }
    block
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_arrays_are_read_as_clickhouse_writes_them() {
        assert_eq!(
            crate::formats::parse_text_array("['a','b\\'c', 'd\\\\e']"),
            Some(vec!["a".to_string(), "b'c".to_string(), "d\\e".to_string()])
        );
        assert_eq!(crate::formats::parse_text_array("[]"), Some(vec![]));
        assert_eq!(crate::formats::parse_text_array("[1,2]"), None);
        assert_eq!(crate::formats::parse_text_array("['unterminated]"), None);
    }
}
