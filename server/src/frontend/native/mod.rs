//! ClickHouse's native TCP protocol, through opensrv-clickhouse (the
//! protocol library Databend uses): `clickhouse-client` and other
//! native-protocol clients connect, run statements and see results as
//! blocks and errors as ClickHouse exceptions.
//!
//! The backend's answers travel as the backend's own Native blocks
//! (`passthrough`), so every type arrives as ClickHouse sends it;
//! kafkahouse's own answers (system tables, direct SELECTs) as blocks of
//! their ClickHouse types where opensrv-clickhouse can carry them (`typed`:
//! numbers, dates and times, enums, decimals, UUIDs, addresses, arrays,
//! Nullable), as text otherwise.
//! Rows a client sends as blocks (`INSERT ... VALUES` typed into
//! clickhouse-client, a driver's typed insert) are announced with the
//! destination's types and passed on as Native; into Kafka tables (and
//! where a type cannot be announced) they are read as text and inserted
//! like any INSERT. A statement's warnings go to the client as server log
//! packets.

mod cells;
mod inserts;
mod passthrough;
mod typed;

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
use crate::executor::{ClientSession, Executor, NativeAnswer};
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
    serve_with(listener, executor, None).await
}

/// Serves native-protocol clients over TLS on `listener` (ClickHouse's
/// `tcp_port_secure`, `clickhouse-client --secure`).
pub async fn serve_tls(
    listener: TcpListener,
    executor: Arc<Executor>,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    serve_with(listener, executor, Some(acceptor)).await
}

async fn serve_with(
    listener: TcpListener,
    executor: Arc<Executor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "native protocol: accept failed");
                continue;
            }
        };
        crate::metrics::connected("native");
        let session = Arc::new(NativeSession {
            executor: executor.clone(),
            session: Mutex::new(None),
            grant: std::sync::Mutex::new(None),
            peer,
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
        let tls = tls.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, "native client connected");
            // A malformed packet or a vanished client ends this connection only.
            let ended = match tls {
                None => ClickHouseServer::run_on_stream(session, stream).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        ClickHouseServer::run_on_io(session, stream, peer.to_string()).await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "native connection ended");
            }
        });
    }
}

struct NativeSession {
    executor: Arc<Executor>,
    session: Mutex<Option<ClientSession>>,
    /// Who the Hello packet's user and password proved the client to be.
    grant: std::sync::Mutex<Option<crate::users::Grant>>,
    peer: std::net::SocketAddr,
    metadata: ClickHouseMetadata,
    /// See `fail`: kept so that the library never sends into a closed channel.
    parked: std::sync::Mutex<Vec<mpsc::Receiver<Block>>>,
}

#[async_trait::async_trait]
impl ClickHouseSession for NativeSession {
    async fn authenticate_with_error(
        &self,
        user: &str,
        password: &[u8],
        _client_addr: &str,
    ) -> Result<(), (u32, String)> {
        let password = String::from_utf8_lossy(password);
        match self.executor.login(user, &password, self.peer.ip()).await {
            Ok(grant) => {
                *self.grant.lock().unwrap_or_else(|p| p.into_inner()) = Some(grant);
                Ok(())
            }
            Err(e) => Err((e.code as u32, e.message)),
        }
    }

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
            let grant = self.grant.lock().unwrap_or_else(|p| p.into_inner()).clone();
            // The Hello packet always comes first; without it, no session.
            let Some(grant) = grant else {
                let e = crate::users::failed("");
                return self.fail(ctx, connection, &e).await;
            };
            match self
                .executor
                .open_session_for(&grant, database.as_deref())
                .await
            {
                Ok(s) => *guard = Some(s),
                Err(e) => return self.fail(ctx, connection, &e).await,
            }
        }
        let Some(session) = guard.as_mut() else {
            return Ok(());
        };
        let limit = session.max_query_size();
        for statement in planner::statements(&query, limit) {
            crate::metrics::query("native");
            // The client formats results itself: a FORMAT clause is its own.
            let statement = statement.without_format();
            if let planner::Kind::Insert {
                table: Some(table), ..
            } = &statement.kind
            {
                if let Some(columns) = statement.rows_from_client().map(<[String]>::to_vec) {
                    return match inserts::insert_client_data(
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
                let run = session.execute_native(&statement);
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
                Some(Ok(NativeAnswer::Native(body))) => {
                    match passthrough::blocks(&body) {
                        Some(blocks) => {
                            let compress = ctx.state.compression > 0;
                            for block in blocks {
                                connection
                                    .write_bytes(passthrough::data_packet(
                                        block,
                                        ctx.client_revision,
                                        compress,
                                    ))
                                    .await?;
                            }
                        }
                        // A type not read here: the query again, as text
                        // (a query that returns rows only reads).
                        None => match session.execute(&statement).await {
                            Ok(Outcome::Rows(result)) => {
                                let block =
                                    typed::block(&result).unwrap_or_else(|| block_of(&result));
                                connection.write_block(&block).await?;
                            }
                            Ok(Outcome::Done { .. }) => {}
                            Err(e) => return self.fail(ctx, connection, &e).await,
                        },
                    }
                }
                Some(Ok(NativeAnswer::Outcome(Outcome::Rows(result)))) => {
                    // Typed columns where the types allow, text otherwise.
                    let block = typed::block(&result).unwrap_or_else(|| block_of(&result));
                    connection.write_block(&block).await?;
                }
                Some(Ok(NativeAnswer::Outcome(Outcome::Done { warnings, .. }))) => {
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
pub(super) enum Failure {
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
