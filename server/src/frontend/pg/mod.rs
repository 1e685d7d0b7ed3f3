//! The PostgreSQL wire protocol (pgwire): psql, psycopg, tokio-postgres and
//! the sqllogictest runner talk ClickHouse SQL through it.
//!
//! Simple queries may hold several statements; each is answered in turn and
//! the first error ends the batch, as PostgreSQL does. In the extended
//! protocol `$n` parameters are bound as SQL literals, and describing a
//! statement that returns rows learns its columns (with NULL for each
//! parameter) by asking the backend `DESCRIBE (query)`, by planning a
//! direct SELECT, or, for what neither describes, by running it once;
//! execution then sends exactly the described types,
//! since a client decodes by what it was told. A statement's warnings (a
//! view that delivers at least once) arrive as WARNING notices.

mod auth;
pub mod types;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{stream, Sink, SinkExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{NoopQueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireServerHandlers, Type, METADATA_DATABASE, METADATA_USER,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::PgWireBackendMessage;
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::error::{codes, ChError};
use crate::executor::{ClientSession, Executor};
use crate::result::{Outcome, ResultSet};
use types::{encode, fields, kinds, PgKind};

/// Serves PostgreSQL clients on `listener` until the task is dropped.
/// With `tls`, a client's SSLRequest is answered with a TLS handshake.
pub async fn serve(
    listener: TcpListener,
    executor: Arc<Executor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let auth = Arc::new(auth::PgAuth::new(executor.clone()));
    let frontend = Arc::new(PgFrontend {
        executor,
        parser: Arc::new(NoopQueryParser::new()),
    });
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        crate::metrics::connected("pg");
        let handlers = Handlers(frontend.clone(), auth.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, "postgres client connected");
            if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                tracing::debug!(%peer, error = %e, "postgres connection ended with an error");
            }
            tracing::debug!(%peer, "postgres client disconnected");
        });
    }
}

/// The handlers for every PostgreSQL connection.
pub struct PgFrontend {
    executor: Arc<Executor>,
    parser: Arc<NoopQueryParser>,
}

/// A connection's session, created on its first statement, and the column
/// kinds last described for each prepared statement.
#[derive(Default)]
struct SessionSlot {
    session: Mutex<Option<ClientSession>>,
    described: std::sync::Mutex<HashMap<(String, String), Vec<PgKind>>>,
}

/// Described statements kept per connection; a client that prepares more
/// distinct statements than this starts over (each is described again).
const MAX_DESCRIBED: usize = 1024;

impl SessionSlot {
    fn remember(&self, statement: &StoredStatement<String>, kinds: Vec<PgKind>) {
        let mut described = self.described.lock().unwrap_or_else(|p| p.into_inner());
        if described.len() >= MAX_DESCRIBED {
            described.clear();
        }
        described.insert((statement.id.clone(), statement.statement.clone()), kinds);
    }

    fn described(&self, statement: &StoredStatement<String>) -> Option<Vec<PgKind>> {
        let described = self.described.lock().unwrap_or_else(|p| p.into_inner());
        described
            .get(&(statement.id.clone(), statement.statement.clone()))
            .cloned()
    }
}

impl PgFrontend {
    fn slot<C: ClientInfo>(client: &C) -> Arc<SessionSlot> {
        client
            .session_extensions()
            .get_or_insert_with(SessionSlot::default)
    }

    /// The database named at connect time (`psql -d KafkaEngine`). psql sends
    /// the user name when none is given, so that case means "the default".
    fn startup_database<C: ClientInfo>(client: &C) -> Option<String> {
        let meta = client.metadata();
        let database = meta.get(METADATA_DATABASE)?;
        (Some(database) != meta.get(METADATA_USER)).then(|| database.clone())
    }

    /// The connection's session, opened on first use for the user it
    /// authenticated as, in the database it named.
    async fn session<'a, C: ClientInfo>(
        &self,
        slot: &'a mut Option<ClientSession>,
        client: &C,
    ) -> Result<&'a mut ClientSession, ChError> {
        if slot.is_none() {
            let database = Self::startup_database(client);
            let grant = auth::grant_of(client).ok_or_else(|| crate::users::failed(""))?;
            *slot = Some(
                self.executor
                    .open_session_for(&grant, database.as_deref())
                    .await?,
            );
        }
        slot.as_mut()
            .ok_or_else(|| ChError::new(codes::UNKNOWN_EXCEPTION, "session was not opened"))
    }

    /// Runs one statement (already bound) for the extended protocol.
    async fn run_one<C: ClientInfo>(
        &self,
        client: &C,
        sql: &str,
        describing: bool,
    ) -> Result<Option<Outcome>, ChError> {
        let slot = Self::slot(client);
        let mut guard = slot.session.lock().await;
        let session = self.session(&mut guard, client).await?;
        let statements: Vec<_> = planner::statements(sql, session.max_query_size())
            .take(2)
            .collect();
        let statement = match statements.as_slice() {
            [] => return Ok(None),
            [one] => one,
            _ => {
                return Err(ChError::new(
                    codes::SYNTAX_ERROR,
                    "cannot insert multiple commands into a prepared statement",
                ))
            }
        };
        if describing {
            return session.describe(statement).await.map(Some);
        }
        crate::metrics::query("pg");
        session.execute(statement).await.map(Some)
    }

    /// Columns of `statement` (`sql`) when it returns rows, learnt without
    /// running it where kafkahouse can (`ClientSession::describe`), and
    /// remembered so that execution sends the same types. Anything else is
    /// not run here: it must not run twice.
    async fn describe<C: ClientInfo>(
        &self,
        client: &C,
        statement: &StoredStatement<String>,
        sql: &str,
        format: &Format,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let returns_rows = matches!(
            planner::statements(sql, planner::MAX_QUERY_SIZE).take(2).collect::<Vec<_>>().as_slice(),
            [s] if s.kind.returns_rows()
        );
        if !returns_rows {
            return Ok(Vec::new());
        }
        match self.run_one(client, sql, true).await.map_err(user_error)? {
            Some(Outcome::Rows(result)) => {
                let kinds = kinds(&result.columns);
                let fields = fields(&result.columns, &kinds, |i| format.format_for(i));
                Self::slot(client).remember(statement, kinds);
                Ok(fields)
            }
            _ => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for PgFrontend {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let slot = Self::slot(client);
        let mut guard = slot.session.lock().await;
        let session = match self.session(&mut guard, client).await {
            Ok(session) => session,
            Err(e) => return Ok(vec![error_response(&e)]),
        };
        let mut responses = Vec::new();
        for statement in planner::statements(query, session.max_query_size()) {
            crate::metrics::query("pg");
            match session.execute(&statement).await {
                Ok(outcome) => {
                    // Sent now, ahead of this batch's responses (pgwire sends
                    // those when the batch is done); clients show a notice
                    // whenever it arrives.
                    send_warnings(client, &outcome).await?;
                    responses.push(response(outcome, &Format::UnifiedText, None)?)
                }
                Err(e) => {
                    responses.push(error_response(&e));
                    break;
                }
            }
        }
        if responses.is_empty() {
            responses.push(Response::EmptyQuery);
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for PgFrontend {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        target: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = &target.statement;
        let count = planner::placeholder_count(sql).max(target.parameter_types.len());
        // Parameters the client left untyped are text: ClickHouse converts them.
        let parameters: Vec<Type> = (0..count)
            .map(|i| {
                target
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or(Type::TEXT)
            })
            .collect();
        let probe = planner::bind_placeholders(sql, |_| Some("NULL".to_string()))
            .unwrap_or_else(|| sql.clone());
        let fields = self
            .describe(client, target, &probe, &Format::UnifiedText)
            .await?;
        Ok(DescribeStatementResponse::new(parameters, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = bind(portal)?;
        let fields = self
            .describe(
                client,
                &portal.statement,
                &sql,
                &portal.result_column_format,
            )
            .await?;
        Ok(DescribePortalResponse::new(fields))
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = bind(portal)?;
        let described = Self::slot(client).described(&portal.statement);
        match self
            .run_one(client, &sql, false)
            .await
            .map_err(user_error)?
        {
            Some(outcome) => {
                send_warnings(client, &outcome).await?;
                response(outcome, &portal.result_column_format, described)
            }
            None => Ok(Response::EmptyQuery),
        }
    }
}

/// One connection's handlers: the shared frontend, and the users' check.
struct Handlers(Arc<PgFrontend>, Arc<auth::PgAuth>);

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.0.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.0.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.1.clone()
    }
}

/// Renders an outcome; `described` are the column kinds a client was told
/// at Describe, which the rows must follow.
fn response(
    outcome: Outcome,
    format: &Format,
    described: Option<Vec<PgKind>>,
) -> PgWireResult<Response> {
    match outcome {
        Outcome::Rows(result) => rows_response(result, format, described),
        Outcome::Done { tag, rows, .. } => {
            let tag = match (tag.as_str(), rows) {
                ("INSERT", rows) => Tag::new("INSERT")
                    .with_oid(0)
                    .with_rows(rows.unwrap_or(0) as usize),
                (_, _) => Tag::new(&tag),
            };
            Ok(Response::Execution(tag))
        }
    }
}

/// A statement's warnings as NoticeResponses of severity WARNING (SQLSTATE
/// 01000, PostgreSQL's own for warnings): psql prints them, drivers hand
/// them to a notice handler.
async fn send_warnings<C>(client: &mut C, outcome: &Outcome) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let Outcome::Done { warnings, .. } = outcome else {
        return Ok(());
    };
    for warning in warnings {
        let info = ErrorInfo::new("WARNING".to_string(), "01000".to_string(), warning.clone());
        client
            .feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                info,
            )))
            .await?;
    }
    Ok(())
}

fn rows_response(
    result: ResultSet,
    format: &Format,
    described: Option<Vec<PgKind>>,
) -> PgWireResult<Response> {
    let kinds = described
        .filter(|k| k.len() == result.columns.len())
        .unwrap_or_else(|| kinds(&result.columns));
    let schema = Arc::new(fields(&result.columns, &kinds, |i| format.format_for(i)));
    let mut encoded = Vec::with_capacity(result.rows.len());
    for row in &result.rows {
        let mut encoder = DataRowEncoder::new(schema.clone());
        for (i, (kind, value)) in kinds.iter().zip(row).enumerate() {
            encode(&mut encoder, *kind, format.format_for(i), value.as_deref())?;
        }
        encoded.push(Ok(encoder.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(
        schema,
        stream::iter(encoded),
    )))
}

/// Substitutes the portal's parameters into its statement as SQL literals.
fn bind(portal: &Portal<String>) -> PgWireResult<String> {
    let sql = &portal.statement.statement;
    let literals = (0..portal.parameter_len())
        .map(|i| parameter_literal(portal, i))
        .collect::<PgWireResult<Vec<String>>>()?;
    planner::bind_placeholders(sql, |n| literals.get(n.checked_sub(1)?).cloned()).ok_or_else(|| {
        user_error(ChError::new(
            codes::BAD_ARGUMENTS,
            format!(
                "The statement has more parameters than the {} bound",
                literals.len()
            ),
        ))
    })
}

fn parameter_literal(portal: &Portal<String>, i: usize) -> PgWireResult<String> {
    let ty = portal
        .statement
        .parameter_types
        .get(i)
        .cloned()
        .flatten()
        .unwrap_or(Type::TEXT);
    let literal = match ty {
        Type::BOOL => portal.parameter::<bool>(i, &ty)?.map(|v| v.to_string()),
        Type::INT2 => portal.parameter::<i16>(i, &ty)?.map(|v| v.to_string()),
        Type::INT4 => portal.parameter::<i32>(i, &ty)?.map(|v| v.to_string()),
        Type::INT8 => portal.parameter::<i64>(i, &ty)?.map(|v| v.to_string()),
        Type::FLOAT4 => portal.parameter::<f32>(i, &ty)?.map(|v| v.to_string()),
        Type::FLOAT8 => portal.parameter::<f64>(i, &ty)?.map(|v| v.to_string()),
        Type::NUMERIC => portal.parameter::<Decimal>(i, &ty)?.map(|v| v.to_string()),
        _ => portal
            .parameter::<String>(i, &ty)?
            .map(|v| catalog::quote::string(&v)),
    };
    Ok(literal.unwrap_or_else(|| "NULL".to_string()))
}

fn error_info(e: &ChError) -> ErrorInfo {
    ErrorInfo::new("ERROR".to_string(), e.sqlstate().to_string(), e.to_string())
}

fn error_response(e: &ChError) -> Response {
    Response::Error(Box::new(error_info(e)))
}

fn user_error(e: ChError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes_and_backslashes() {
        assert_eq!(
            catalog::quote::string("it's a \\ test"),
            "'it\\'s a \\\\ test'"
        );
    }

    #[test]
    fn errors_carry_the_clickhouse_text_and_a_sqlstate() {
        let info = error_info(&ChError::new(60, "Table default.x does not exist."));
        let e = PgWireError::UserError(Box::new(info));
        assert!(e
            .to_string()
            .contains("Code: 60. DB::Exception: Table default.x does not exist."));
    }
}
