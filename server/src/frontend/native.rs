//! ClickHouse's native TCP protocol, through opensrv-clickhouse (the
//! protocol library Databend uses): `clickhouse-client` and other
//! native-protocol clients connect, run statements and see results as
//! blocks and errors as ClickHouse exceptions.
//!
//! Results travel as blocks of their numeric type where kafkahouse's type
//! model has one, and as text otherwise (the client prints both the same
//! way). Statements with data sent by the client as blocks (`INSERT ...
//! VALUES` typed in clickhouse-client) are refused with a clear error for
//! now: INSERT ... SELECT works, and so do the HTTP and PostgreSQL frontends.

use std::sync::Arc;

use opensrv_clickhouse::connection::Connection;
use opensrv_clickhouse::errors::{Error as NativeError, Result as NativeResult, ServerError};
use opensrv_clickhouse::types::Block;
use opensrv_clickhouse::{CHContext, ClickHouseMetadata, ClickHouseServer, ClickHouseSession};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

use catalog::ChType;

use crate::error::{codes, ChError};
use crate::executor::{ClientSession, Executor, Outcome, ResultSet};

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
        for statement in planner::split(&query) {
            // The client formats results itself: a FORMAT clause is its own.
            let stripped;
            let statement = match &statement.kind {
                planner::Kind::Query {
                    format: Some(_),
                    tables,
                } => {
                    stripped = planner::without_output_format(statement.sql).to_string();
                    planner::Statement {
                        sql: &stripped,
                        kind: planner::Kind::Query {
                            format: None,
                            tables: tables.clone(),
                        },
                    }
                }
                _ => statement,
            };
            if let planner::Kind::Insert { .. } = statement.kind {
                if awaits_client_data(statement.sql) {
                    let e = ChError::new(
                        codes::NOT_IMPLEMENTED,
                        "INSERT with data sent by the client (VALUES or FORMAT typed into clickhouse-client) is not supported over the native protocol yet: use INSERT ... SELECT, or the HTTP or PostgreSQL interface",
                    );
                    return self.fail(ctx, connection, &e).await;
                }
            }
            match session.execute(&statement).await {
                Ok(Outcome::Rows(result)) => {
                    connection.write_block(&block_of(&result)).await?;
                }
                Ok(Outcome::Done { .. }) => {}
                Err(e) => return self.fail(ctx, connection, &e).await,
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

/// `INSERT ... VALUES` or `INSERT ... FORMAT Name` with nothing after: the
/// client means to send the rows as blocks.
fn awaits_client_data(sql: &str) -> bool {
    use sqlparser::keywords::Keyword;
    let tokens = planner::tokens::significant(sql);
    match tokens.as_slice() {
        [.., last] if last.is_keyword(Keyword::VALUES) => true,
        [.., format, name] => format.is_keyword(Keyword::FORMAT) && name.name().is_some(),
        _ => false,
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
                let parsed: Option<Vec<$t>> = values
                    .iter()
                    .map(|v| v.and_then(|v| v.parse().ok()))
                    .collect();
                match parsed {
                    Some(parsed) if !nullable => {
                        block = block.column(&column.name, parsed);
                        continue;
                    }
                    _ => {}
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
