//! ClickHouse's HTTP interface: `curl`, clickhouse-connect and the
//! `clickhouse` crate talk to kafkahouse as to a ClickHouse server.
//!
//! The query comes in the `query` URL parameter or the body; with a `query`
//! parameter the body is the INSERT's data. `database`, `default_format`,
//! `session_id` and settings as URL parameters, `X-ClickHouse-*` request
//! headers, errors as `Code: N. DB::Exception: ...` with
//! `X-ClickHouse-Exception-Code`, and `/ping` behave as in ClickHouse.
//! Backend results pass through byte for byte in the client's format.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::header::CONTENT_ENCODING;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{StreamExt as _, TryStreamExt as _};
use sqlparser::keywords::Keyword;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

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
/// Largest request body (INSERT data) accepted, decompressed.
const MAX_BODY: usize = 1 << 30;

struct HttpState {
    executor: Arc<Executor>,
    sessions: Mutex<HashMap<String, SessionEntry>>,
}

struct SessionEntry {
    session: Arc<Mutex<ClientSession>>,
    last_used: Instant,
    timeout: Duration,
}

/// Serves ClickHouse HTTP clients on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, executor: Arc<Executor>) {
    let state = Arc::new(HttpState {
        executor,
        sessions: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/ping", get(ping).head(ping))
        .route("/", get(query).post(query))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the HTTP interface stopped");
    }
}

async fn ping() -> &'static str {
    "Ok.\n"
}

async fn query(
    State(state): State<Arc<HttpState>>,
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
    // A compressed body is inflated as it is read, so the limit
    // (DefaultBodyLimit, applied by the extractor) is on what it inflates to.
    let encoding = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    let (parts, body) = request.into_parts();
    let body = match decompress(encoding, body) {
        Ok(body) => Bytes::from_request(Request::from_parts(parts, body), &()).await,
        Err(e) => return error_response(&e, &query_id),
    };
    // A body over the limit, a broken chunked encoding, a client gone
    // mid-body: ClickHouse's error, with the status axum chose. A
    // compressed body that does not inflate, or inflates past the limit:
    // CANNOT_DECOMPRESS.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            if let Some(e) = decompression_error(&rejection) {
                return error_response(e, &query_id);
            }
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE && is_compressed(encoding) {
                let e = ChError::new(
                    codes::CANNOT_DECOMPRESS,
                    format!("The request body decompresses to more than {MAX_BODY} bytes"),
                );
                return error_response(&e, &query_id);
            }
            let e = ChError::new(
                codes::CANNOT_READ_ALL_DATA,
                format!(
                    "Cannot read all data of the request body: {}",
                    rejection.body_text()
                ),
            );
            let mut response = error_response(&e, &query_id);
            *response.status_mut() = rejection.status();
            return response;
        }
    };
    match run(&state, &params, &method, &headers, body).await {
        Ok(Some(formatted)) => ok_response(formatted, &query_id),
        // `GET /` without a query: ClickHouse's liveness answer.
        Ok(None) => "Ok.\n".into_response(),
        Err(e) => error_response(&e, &query_id),
    }
}

async fn run(
    state: &HttpState,
    params: &BTreeMap<String, String>,
    method: &Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Option<Formatted>, ChError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Cutting a large body is CPU work: off the async workers, so that
    // other clients (and /ping) keep being answered.
    let (text, data) = match params.get("query") {
        Some(q) => (q.clone(), body),
        None if body.is_empty() => return Ok(None),
        None => tokio::task::block_in_place(|| split_body(body))?,
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
                id,
                timeout,
                params.get("session_check").is_some_and(|c| c == "1"),
            )
            .await?
        }
        None => Arc::new(Mutex::new(state.executor.open_session(None).await?)),
    };
    let Ok(mut session) = session.try_lock() else {
        return Err(ChError::new(
            codes::SESSION_IS_LOCKED,
            "Session is locked by a concurrent client",
        ));
    };

    // The URL's database and settings apply to this query only; USE and
    // SET inside the query stick (within a session).
    let saved = (
        session.state.database.clone(),
        session.state.settings.clone(),
    );
    if let Some(db) = &database {
        session.state.database = db.clone();
    }
    session.state.settings.extend(settings);
    // One statement per request: a second one is refused unread.
    let limit = session.max_query_size();
    let statements: Vec<planner::Statement<'_>> =
        tokio::task::block_in_place(|| planner::statements(&text, limit).take(2).collect());
    let result = execute(&mut session, method, &statements, data, &format).await;
    let kind = statements.first().map(|s| s.kind.clone());
    if !matches!(kind, Some(planner::Kind::Use { .. })) {
        session.state.database = saved.0;
    }
    let mut settings = saved.1;
    if let Some(planner::Kind::Set { settings: set }) = &kind {
        for s in set {
            settings.insert(s.name.clone(), s.value.clone());
        }
    }
    session.state.settings = settings;
    result.map(Some)
}

/// Whether a body sent with `encoding` is compressed.
fn is_compressed(encoding: Option<&str>) -> bool {
    !matches!(encoding.map(str::trim), None | Some("" | "identity"))
}

/// A request body as sent with `Content-Encoding` (ClickHouse clients
/// compress INSERT data with lz4, zstd or gzip), inflated by
/// async-compression as it streams in. Inflating is CPU work: the stream
/// gives way to other tasks whenever the task's cooperative budget is spent.
fn decompress(encoding: Option<&str>, body: Body) -> Result<Body, ChError> {
    use async_compression::tokio::bufread::{GzipDecoder, Lz4Decoder, ZlibDecoder, ZstdDecoder};
    use std::io::Error;
    use std::pin::Pin;
    use tokio::io::AsyncRead;
    if !is_compressed(encoding) {
        return Ok(body);
    }
    let compressed =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(Error::other));
    let codec = encoding.map(str::trim).unwrap_or_default();
    let (name, inflated): (_, Pin<Box<dyn AsyncRead + Send>>) = match codec {
        "gzip" | "x-gzip" => ("gzip", Box::pin(GzipDecoder::new(compressed))),
        "deflate" => ("deflate", Box::pin(ZlibDecoder::new(compressed))),
        // Concatenated zstd frames are one body, as with zstd's own reader.
        "zstd" => {
            let mut decoder = ZstdDecoder::new(compressed);
            decoder.multiple_members(true);
            ("zstd", Box::pin(decoder))
        }
        "lz4" => ("lz4", Box::pin(Lz4Decoder::new(compressed))),
        other => {
            return Err(ChError::new(
                codes::UNKNOWN_COMPRESSION_METHOD,
                format!("Unknown Content-Encoding {other} (supported: gzip, deflate, zstd, lz4)"),
            ))
        }
    };
    // The client's failures (framing, gone mid-body) stay what they are.
    let failed = move |e: Error| -> axum::BoxError {
        if e.get_ref().is_some_and(|e| e.is::<axum::Error>()) {
            return e.into();
        }
        let message = format!("Cannot decompress the request body ({name}): {e}");
        ChError::new(codes::CANNOT_DECOMPRESS, message).into()
    };
    let inflated = tokio_util::io::ReaderStream::with_capacity(inflated, 64 << 10)
        .then(|chunk| async {
            tokio::task::consume_budget().await;
            chunk
        })
        .map_err(failed);
    Ok(Body::from_stream(inflated))
}

/// The CANNOT_DECOMPRESS error `decompress`'s body failed with, under
/// the extractor's wrappers.
fn decompression_error(rejection: &BytesRejection) -> Option<&ChError> {
    std::iter::successors(Some(rejection as &dyn std::error::Error), |e| e.source())
        .find_map(|e| e.downcast_ref::<ChError>())
}

/// A body holding the query and, for `INSERT ... FORMAT Name`, the data
/// right after it (from the line after the format's name), as ClickHouse
/// reads it. The data may be binary; the query must be UTF-8.
fn split_body(body: Bytes) -> Result<(String, Bytes), ChError> {
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default(),
    };
    // The query is in the first max_query_size bytes, or it is too long.
    let (tokens, _) = planner::tokens::significant_prefix(text, 0, planner::MAX_QUERY_SIZE + 1);
    let is_insert = tokens
        .first()
        .is_some_and(|t| t.is_keyword(Keyword::INSERT));
    let format_name = tokens
        .windows(2)
        .find(|w| w[0].is_keyword(Keyword::FORMAT) && w[1].name().is_some())
        .map(|w| w[1].end);
    match (is_insert, format_name) {
        (true, Some(end)) => {
            // Spaces, then one line break, separate the query from the data.
            let mut start = end;
            while matches!(body.get(start), Some(b' ' | b'\t')) {
                start += 1;
            }
            if body.get(start) == Some(&b'\r') {
                start += 1;
            }
            if body.get(start) == Some(&b'\n') {
                start += 1;
            }
            Ok((text[..end].to_string(), body.slice(start..)))
        }
        _ if text.len() == body.len() => Ok((text.to_string(), Bytes::new())),
        _ => Err(ChError::new(
            codes::SYNTAX_ERROR,
            "Syntax error: the query is not valid UTF-8",
        )),
    }
}

/// The session named `id`, created when missing (or an error with
/// `session_check=1`); idle sessions past their timeout are dropped here.
async fn session(
    state: &HttpState,
    id: &str,
    timeout: Duration,
    must_exist: bool,
) -> Result<Arc<Mutex<ClientSession>>, ChError> {
    let mut sessions = state.sessions.lock().await;
    sessions.retain(|_, e| e.last_used.elapsed() < e.timeout);
    if let Some(entry) = sessions.get_mut(id) {
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
    let session = Arc::new(Mutex::new(state.executor.open_session(None).await?));
    sessions.insert(
        id.to_string(),
        SessionEntry {
            session: session.clone(),
            last_used: Instant::now(),
            timeout,
        },
    );
    Ok(session)
}

async fn execute(
    session: &mut ClientSession,
    method: &Method,
    statements: &[planner::Statement<'_>],
    data: Bytes,
    format: &str,
) -> Result<Formatted, ChError> {
    let statement = match statements {
        [one] => one,
        [] => {
            return Err(ChError::new(
                codes::SYNTAX_ERROR,
                "Syntax error: empty query",
            ))
        }
        _ => {
            return Err(ChError::new(
                codes::SYNTAX_ERROR,
                "Syntax error: Multi-statements are not allowed",
            ))
        }
    };
    // GET requests are read-only in ClickHouse.
    if method == Method::GET && modifies(statement) {
        return Err(ChError::new(
            codes::READONLY,
            "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries",
        ));
    }
    if data.is_empty() {
        return session.execute_formatted(statement, format).await;
    }
    // The body holds the INSERT's data (or the rest of the query).
    if let planner::Kind::Insert {
        table: Some(table), ..
    } = &statement.kind
    {
        if let Some((insert_sql, data_format)) = insert_with_format(statement) {
            if !session.handles_inserts_into(table) {
                let rows = session
                    .insert_data(insert_sql, &data_format, data.to_vec())
                    .await?;
                return Ok(Formatted {
                    body: Vec::new(),
                    format: None,
                    written_rows: rows,
                });
            }
        }
    }
    let data = std::str::from_utf8(&data).map_err(|_| {
        ChError::new(
            codes::NOT_IMPLEMENTED,
            "Binary INSERT data is only supported into ClickHouse tables; use a text format (JSONEachRow, CSV, TSV, Values) for Kafka tables and their sources",
        )
    })?;
    let combined = format!("{}\n{data}", statement.sql);
    let kind = statement.kind.clone();
    session
        .execute_formatted(
            &planner::Statement {
                sql: &combined,
                query: &combined[..statement.query.len()],
                kind,
            },
            format,
        )
        .await
}

/// Whether a statement changes data or schema (refused over GET).
fn modifies(statement: &planner::Statement<'_>) -> bool {
    use planner::Kind;
    match &statement.kind {
        Kind::Insert { .. }
        | Kind::CreateKafkaTable(_)
        | Kind::CreateMaterializedView(_)
        | Kind::Drop { .. }
        | Kind::DropDatabase { .. }
        | Kind::Detach { .. }
        | Kind::Attach { .. }
        | Kind::NamedCollection(_) => true,
        Kind::Other => planner::tokens::significant(statement.query)
            .first()
            .and_then(planner::tokens::Tok::keyword)
            .is_some_and(|k| {
                matches!(
                    k,
                    Keyword::CREATE
                        | Keyword::ALTER
                        | Keyword::DROP
                        | Keyword::INSERT
                        | Keyword::TRUNCATE
                        | Keyword::RENAME
                        | Keyword::OPTIMIZE
                        | Keyword::ATTACH
                        | Keyword::DETACH
                        | Keyword::SYSTEM
                        | Keyword::KILL
                        | Keyword::GRANT
                        | Keyword::REVOKE
                        | Keyword::DELETE
                        | Keyword::UPDATE
                )
            }),
        _ => false,
    }
}

/// `INSERT INTO t [(cols)] FORMAT Name` with nothing after the name: the
/// statement before FORMAT, and the format.
fn insert_with_format<'a>(statement: &planner::Statement<'a>) -> Option<(&'a str, String)> {
    if !statement.data().is_empty() {
        return None;
    }
    let sql = statement.query;
    let tokens = planner::tokens::significant(sql);
    let [.., format_kw, name] = tokens.as_slice() else {
        return None;
    };
    if !format_kw.is_keyword(Keyword::FORMAT) {
        return None;
    }
    Some((sql[..format_kw.start].trim_end(), name.name()?.to_string()))
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
    response
}

fn error_response(e: &ChError, query_id: &str) -> Response {
    let status = match e.code {
        codes::SYNTAX_ERROR | codes::UNKNOWN_FORMAT => StatusCode::BAD_REQUEST,
        codes::UNKNOWN_TABLE | codes::UNKNOWN_DATABASE | codes::SESSION_NOT_FOUND => {
            StatusCode::NOT_FOUND
        }
        codes::READONLY => StatusCode::FORBIDDEN,
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
    use super::*;

    #[test]
    fn a_body_holds_the_query_then_the_data() {
        let body = Bytes::from_static(b"INSERT INTO t (a) FORMAT Native\n\x01\x00\xff\xfe");
        let (query, data) = split_body(body).unwrap();
        assert_eq!(query, "INSERT INTO t (a) FORMAT Native");
        assert_eq!(&data[..], b"\x01\x00\xff\xfe");
        let (query, data) = split_body(Bytes::from_static(b"SELECT 1 FORMAT JSON")).unwrap();
        assert_eq!((query.as_str(), data.len()), ("SELECT 1 FORMAT JSON", 0));
        assert!(split_body(Bytes::from_static(b"SELECT \xff")).is_err());
    }

    /// What `decompress` makes of `body` sent with `encoding`, read whole.
    async fn inflate(encoding: Option<&str>, body: Bytes) -> Result<Bytes, ChError> {
        let body = decompress(encoding, Body::from(body))?;
        Ok(axum::body::to_bytes(body, MAX_BODY)
            .await
            .expect("inflates"))
    }

    #[tokio::test]
    async fn compressed_bodies_are_read() {
        use std::io::Write as _;
        let text = b"INSERT INTO t FORMAT JSONEachRow\n{}";
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(text).unwrap();
        let lz4 = lz4.finish().unwrap();
        assert_eq!(
            &inflate(Some("lz4"), Bytes::from(lz4)).await.unwrap()[..],
            text
        );
        let zstd = zstd::stream::encode_all(&text[..], 3).unwrap();
        assert_eq!(
            &inflate(Some("zstd"), Bytes::from(zstd)).await.unwrap()[..],
            text
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            &inflate(Some("gzip"), Bytes::from(gz)).await.unwrap()[..],
            text
        );
        assert!(inflate(Some("br"), Bytes::from_static(b"x")).await.is_err());
    }

    #[tokio::test]
    async fn a_body_that_does_not_inflate_cannot_be_decompressed() {
        let body = decompress(Some("gzip"), Body::from("not gzip")).unwrap();
        let rejection = Bytes::from_request(Request::new(body), &())
            .await
            .unwrap_err();
        let e = decompression_error(&rejection).expect("the decoder's error");
        assert_eq!(e.code, codes::CANNOT_DECOMPRESS);
        // The client's own failures stay CANNOT_READ_ALL_DATA.
        let gone = futures::stream::iter([Err::<Bytes, _>(axum::Error::new("gone"))]);
        let body = decompress(Some("gzip"), Body::from_stream(gone)).unwrap();
        let rejection = Bytes::from_request(Request::new(body), &())
            .await
            .unwrap_err();
        assert!(decompression_error(&rejection).is_none());
    }

    /// `insert_with_format` of the statement `text` is.
    fn insert_format_of(text: &str) -> Option<(&str, String)> {
        insert_with_format(&planner::split(text)[0])
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
