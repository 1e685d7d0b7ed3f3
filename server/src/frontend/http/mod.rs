//! ClickHouse's HTTP interface: `curl`, clickhouse-connect and the
//! `clickhouse` crate talk to kafkahouse as to a ClickHouse server.
//!
//! The query comes in the `query` URL parameter or the body; with a `query`
//! parameter the body is the INSERT's data. `database`, `default_format`,
//! `session_id` and settings as URL parameters, `X-ClickHouse-*` request
//! headers, errors as `Code: N. DB::Exception: ...` with
//! `X-ClickHouse-Exception-Code`, and `/ping` behave as in ClickHouse.
//! Backend results pass through byte for byte in the client's format.
//! A statement's warnings (a view that delivers at least once) come as
//! `X-Kafkahouse-Warning` response headers, one per warning: kafkahouse's
//! own header, since ClickHouse's HTTP interface has none for this.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::header::CONTENT_ENCODING;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

mod blocks;
mod body;
mod credentials;
mod dashboard;
mod metrics;

use body::{decompress, is_compressed, read_query, Data, Failure};

use crate::error::{codes, ChError};
use crate::executor::{ClientSession, Executor};
use crate::result::Formatted;

/// URL parameters that are not settings.
const RESERVED: [&str; 20] = [
    "query",
    "database",
    "default_format",
    "session_id",
    "session_timeout",
    "session_check",
    "user",
    "password",
    "query_id",
    "compress",
    "decompress",
    "enable_http_compression",
    "wait_end_of_query",
    "buffer_size",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "client_protocol_version",
    "quota_key",
    "http_response_buffer_size",
    "output_format_json_quote_64bit_integers_in_http",
];

/// ClickHouse's default session timeout.
const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest request body accepted, decompressed, where kafkahouse reads it
/// whole: a query, or INSERT data that kafkahouse parses itself (into Kafka
/// tables). INSERT data for ClickHouse tables streams through, any size.
pub(crate) const MAX_BODY: usize = 1 << 30;

struct HttpState {
    executor: Arc<Executor>,
    sessions: Mutex<HashMap<String, SessionEntry>>,
}

struct SessionEntry {
    session: Arc<Mutex<ClientSession>>,
    /// The user that opened it: only that user may use it.
    user: String,
    last_used: Instant,
    timeout: Duration,
}

/// Serves ClickHouse HTTP clients on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, executor: Arc<Executor>) {
    let app = router(executor).into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the HTTP interface stopped");
    }
}

/// The routes, for plain HTTP and HTTPS alike.
fn router(executor: Arc<Executor>) -> Router {
    let state = Arc::new(HttpState {
        executor,
        sessions: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/ping", get(ping).head(ping))
        .route("/metrics", get(metrics_page))
        .route("/", get(query).post(query))
        .merge(dashboard::routes())
        .with_state(state)
}

/// Serves ClickHouse HTTPS clients on `listener` (ClickHouse's
/// `https_port`): the same routes, each connection's TLS handshake first.
pub async fn serve_tls(
    listener: TcpListener,
    executor: Arc<Executor>,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    let app = router(executor);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "HTTPS: accept failed");
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper::service::service_fn(
                move |request: axum::http::Request<hyper::body::Incoming>| {
                    let mut request = request.map(Body::new);
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let mut app = app.clone();
                    async move { tower_service::Service::call(&mut app, request).await }
                },
            );
            let served =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended");
            }
        });
    }
}

async fn ping() -> &'static str {
    "Ok.\n"
}

/// `GET /metrics`: Prometheus metrics in OpenMetrics text.
async fn metrics_page(State(state): State<Arc<HttpState>>) -> Response {
    let text = metrics::render(&state.executor.consumers());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn query(
    State(state): State<Arc<HttpState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Query(params): Query<Vec<(String, String)>>,
    method: Method,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let params: BTreeMap<String, String> = params.into_iter().collect();
    let query_id = params
        .get("query_id")
        .cloned()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // A compressed body is inflated as it is read, so the limit on what
    // is read whole is on what it inflates to.
    let encoding = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    // ClickHouse's own block compression, asked for by the client:
    // `decompress=1` for the body, `compress=1` for the answer.
    let flag = |name: &str| params.get(name).is_some_and(|v| v.trim() == "1");
    let blocks_in = flag("decompress");
    let blocks_out = if flag("compress") {
        match crate::compression::Method::named(
            params.get("network_compression_method").map(String::as_str),
        ) {
            Ok(method) => Some(method),
            Err(e) => return error_response(&e, &query_id),
        }
    } else {
        None
    };
    let compressed = is_compressed(encoding) || blocks_in;
    let body = match decompress(encoding, request.into_body()) {
        Ok(body) if blocks_in => blocks::decompress(body),
        Ok(body) => body,
        Err(e) => return error_response(&e, &query_id),
    };
    let mut response = match run(&state, peer, &params, &method, &headers, (body, compressed)).await
    {
        Ok(Some(formatted)) => ok_response(formatted, &query_id),
        // `GET /` without a query: ClickHouse's liveness answer.
        Ok(None) => "Ok.\n".into_response(),
        Err(failure) => {
            let mut response = error_response(&failure.error, &query_id);
            if let Some(status) = failure.status {
                *response.status_mut() = status;
            }
            response
        }
    };
    if let Some(method) = blocks_out {
        // Answers are in memory already (errors too, as ClickHouse
        // compresses them): compressed whole.
        let (parts, body) = response.into_parts();
        let compressed = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => crate::compression::compress(&bytes, method),
            Err(e) => {
                let e = ChError::new(
                    codes::UNKNOWN_EXCEPTION,
                    format!("Cannot compress the answer: {e}"),
                );
                return error_response(&e, &query_id);
            }
        };
        response = Response::from_parts(parts, Body::from(compressed));
    }
    response
}

async fn run(
    state: &HttpState,
    peer: std::net::SocketAddr,
    params: &BTreeMap<String, String>,
    method: &Method,
    headers: &HeaderMap,
    (body, compressed): (Body, bool),
) -> Result<Option<Formatted>, Failure> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Every request proves who it is, as on ClickHouse's HTTP interface.
    let (user, password) = credentials::of(params, headers)?;
    let grant = state.executor.login(&user, &password, peer.ip()).await?;
    let (text, data) = match params.get("query") {
        Some(q) => (q.clone(), Data::unread(body)),
        None => match read_query(body, compressed).await? {
            Some(read) => read,
            None => return Ok(None),
        },
    };
    let format = params
        .get("default_format")
        .map(String::as_str)
        .or(header("X-ClickHouse-Format"))
        .unwrap_or("TabSeparated")
        .to_string();
    let database = params
        .get("database")
        .map(String::as_str)
        .or(header("X-ClickHouse-Database"))
        .map(str::to_string);
    let settings: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()) && !k.starts_with("param_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let session = match params.get("session_id") {
        Some(id) => {
            let timeout = params
                .get("session_timeout")
                .and_then(|t| t.parse().ok())
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_SESSION_TIMEOUT);
            session(
                state,
                (id, &grant),
                timeout,
                params.get("session_check").is_some_and(|c| c == "1"),
            )
            .await?
        }
        None => Arc::new(Mutex::new(
            state.executor.open_session_for(&grant, None).await?,
        )),
    };
    let Ok(mut session) = session.try_lock() else {
        return Err(ChError::new(
            codes::SESSION_IS_LOCKED,
            "Session is locked by a concurrent client",
        )
        .into());
    };

    // The URL's database and settings apply to this query only; USE and
    // SET inside the query stick (within a session).
    let saved = (
        session.state.database.clone(),
        session.state.settings.clone(),
        session.state.kafkahouse_settings.clone(),
    );
    if let Some(db) = &database {
        session.state.database = db.clone();
    }
    // kafkahouse's own settings stay out of what goes to the backend.
    let (own, settings): (BTreeMap<_, _>, BTreeMap<_, _>) = settings
        .into_iter()
        .partition(|(k, _)| crate::session::is_kafkahouse_setting(k));
    session.state.settings.extend(settings);
    session.state.kafkahouse_settings.extend(own);
    // GET requests are read-only, as in ClickHouse: `readonly = 2` (settings
    // may still change) unless the request set it; the backend refuses
    // changes, and so do kafkahouse's own statements.
    if method == Method::GET && !session.state.readonly() {
        session
            .state
            .settings
            .insert("readonly".to_string(), "2".to_string());
    }
    // One statement per request: a second one is refused unread.
    let limit = session.max_query_size();
    let statements: Vec<planner::Statement<'_>> =
        tokio::task::block_in_place(|| planner::statements(&text, limit).take(2).collect());
    crate::metrics::query("http");
    let result = execute(&mut session, &statements, (data, compressed), &format).await;
    let kind = statements.first().map(|s| s.kind.clone());
    if !matches!(kind, Some(planner::Kind::Use { .. })) {
        session.state.database = saved.0;
    }
    let mut settings = saved.1;
    let mut own = saved.2;
    if let Some(planner::Kind::Set { settings: set }) = &kind {
        for s in set {
            if !crate::session::is_kafkahouse_setting(&s.name) {
                settings.insert(s.name.clone(), s.value.clone());
            } else if result.is_ok() {
                own.insert(s.name.clone(), s.value.clone());
            }
        }
    }
    session.state.settings = settings;
    session.state.kafkahouse_settings = own;
    result.map(Some)
}

/// The session named `id`, created when missing (or an error with
/// `session_check=1`); idle sessions past their timeout are dropped here.
async fn session(
    state: &HttpState,
    (id, grant): (&str, &crate::users::Grant),
    timeout: Duration,
    must_exist: bool,
) -> Result<Arc<Mutex<ClientSession>>, ChError> {
    let mut sessions = state.sessions.lock().await;
    sessions.retain(|_, e| e.last_used.elapsed() < e.timeout);
    if let Some(entry) = sessions.get_mut(id) {
        if entry.user != grant.user {
            return Err(ChError::new(
                codes::SESSION_IS_LOCKED,
                format!("Session {id} belongs to another user"),
            ));
        }
        entry.last_used = Instant::now();
        entry.timeout = timeout;
        return Ok(entry.session.clone());
    }
    if must_exist {
        return Err(ChError::new(
            codes::SESSION_NOT_FOUND,
            format!("Session {id} not found"),
        ));
    }
    let session = Arc::new(Mutex::new(
        state.executor.open_session_for(grant, None).await?,
    ));
    sessions.insert(
        id.to_string(),
        SessionEntry {
            session: session.clone(),
            user: grant.user.clone(),
            last_used: Instant::now(),
            timeout,
        },
    );
    Ok(session)
}

async fn execute(
    session: &mut ClientSession,
    statements: &[planner::Statement<'_>],
    (mut data, compressed): (Data, bool),
    format: &str,
) -> Result<Formatted, Failure> {
    let statement = match statements {
        [one] => one,
        [] => return Err(ChError::new(codes::SYNTAX_ERROR, "Syntax error: empty query").into()),
        _ => {
            return Err(ChError::new(
                codes::SYNTAX_ERROR,
                "Syntax error: Multi-statements are not allowed",
            )
            .into())
        }
    };
    if data.is_empty().await? {
        return Ok(session.execute_formatted(statement, format).await?);
    }
    // The body holds the INSERT's data (or the rest of the query). Data for
    // a ClickHouse table streams into the backend as it arrives.
    if let planner::Kind::Insert {
        table: Some(table), ..
    } = &statement.kind
    {
        if let Some((insert_sql, data_format)) = statement.insert_awaiting_format() {
            if !session.handles_inserts_into(table) {
                let rows = session
                    .insert_stream(insert_sql, data_format, data.into_stream())
                    .await?;
                return Ok(Formatted {
                    body: Vec::new(),
                    format: None,
                    written_rows: rows,
                    warnings: Vec::new(),
                });
            }
        }
    }
    let data = data.collect(compressed).await?;
    let data = std::str::from_utf8(&data).map_err(|_| {
        ChError::new(
            codes::NOT_IMPLEMENTED,
            "Binary INSERT data is only supported into ClickHouse tables; use a text format (JSONEachRow, CSV, TSV, Values) for Kafka tables and their sources",
        )
    })?;
    let combined = format!("{}\n{data}", statement.sql);
    let kind = statement.kind.clone();
    let formatted = session
        .execute_formatted(
            &planner::Statement {
                sql: &combined,
                query: &combined[..statement.query.len()],
                kind,
            },
            format,
        )
        .await?;
    Ok(formatted)
}

fn ok_response(formatted: Formatted, query_id: &str) -> Response {
    let mut response = formatted.body.into_response();
    let h = response.headers_mut();
    let content_type = match formatted.format.as_deref() {
        Some(f) if f.starts_with("TabSeparated") || f.starts_with("TSV") => {
            "text/tab-separated-values; charset=UTF-8"
        }
        Some(f) if f.starts_with("CSV") => "text/csv; charset=UTF-8; header=absent",
        Some(f) if f.starts_with("JSON") => "application/json; charset=UTF-8",
        Some(_) => "application/octet-stream",
        None => "text/plain; charset=UTF-8",
    };
    h.insert("Content-Type", HeaderValue::from_static(content_type));
    if let Some(f) = formatted
        .format
        .as_deref()
        .and_then(|f| HeaderValue::from_str(f).ok())
    {
        h.insert("X-ClickHouse-Format", f);
    }
    common_headers(h, query_id);
    let written = formatted.written_rows.unwrap_or(0);
    let summary = format!(
        "{{\"read_rows\":\"0\",\"read_bytes\":\"0\",\"written_rows\":\"{written}\",\"written_bytes\":\"0\",\"total_rows_to_read\":\"0\",\"result_rows\":\"0\",\"result_bytes\":\"0\"}}"
    );
    if let Ok(v) = HeaderValue::from_str(&summary) {
        h.insert("X-ClickHouse-Summary", v);
    }
    for warning in &formatted.warnings {
        // A header value cannot hold line breaks; other bytes of the UTF-8
        // text are allowed as they are.
        let line: String = warning
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if let Ok(v) = HeaderValue::from_bytes(line.as_bytes()) {
            h.append("X-Kafkahouse-Warning", v);
        }
    }
    response
}

fn error_response(e: &ChError, query_id: &str) -> Response {
    let status = match e.code {
        codes::SYNTAX_ERROR | codes::UNKNOWN_FORMAT => StatusCode::BAD_REQUEST,
        codes::UNKNOWN_TABLE | codes::UNKNOWN_DATABASE | codes::SESSION_NOT_FOUND => {
            StatusCode::NOT_FOUND
        }
        codes::READONLY => StatusCode::FORBIDDEN,
        codes::AUTHENTICATION_FAILED => StatusCode::UNAUTHORIZED,
        codes::TOO_DEEP_RECURSION => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = (status, format!("{e}\n")).into_response();
    let h = response.headers_mut();
    h.insert(
        "Content-Type",
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&e.code.to_string()) {
        h.insert("X-ClickHouse-Exception-Code", v);
    }
    // A browser (the dashboard) asks its user for a name and password.
    if e.code == codes::AUTHENTICATION_FAILED {
        h.insert(
            "WWW-Authenticate",
            HeaderValue::from_static("Basic realm=\"kafkahouse\", charset=\"UTF-8\""),
        );
    }
    common_headers(h, query_id);
    response
}

fn common_headers(h: &mut HeaderMap, query_id: &str) {
    if let Ok(v) = HeaderValue::from_str(query_id) {
        h.insert("X-ClickHouse-Query-Id", v);
    }
    h.insert(
        "X-ClickHouse-Server-Display-Name",
        HeaderValue::from_static("kafkahouse"),
    );
    h.insert("X-ClickHouse-Timezone", HeaderValue::from_static("UTC"));
}

#[cfg(test)]
mod tests {
    /// The INSERT's SQL and format when the data comes separately, as
    /// `execute` asks the statement `text`.
    fn insert_format_of(text: &str) -> Option<(&str, String)> {
        planner::split(text)[0]
            .insert_awaiting_format()
            .map(|(sql, format)| (sql, format.to_string()))
    }

    #[test]
    fn insert_format_is_read_off_the_query() {
        assert_eq!(
            insert_format_of("INSERT INTO t (a, b) FORMAT JSONEachRow"),
            Some(("INSERT INTO t (a, b)", "JSONEachRow".to_string()))
        );
        assert_eq!(insert_format_of("INSERT INTO t VALUES"), None);
        assert_eq!(insert_format_of("SELECT 1 FORMAT"), None);
    }
}
