//! The remote backend: a ClickHouse server over its HTTP interface.
//!
//! Plain HTTP (reqwest) rather than the `clickhouse` crate: the crate treats
//! `?` in SQL as a bind placeholder and appends its own FORMAT, and kafkahouse
//! must forward the user's text untouched (ARCHITECTURE.md, invariant 4).
//! What is used here exists in every server since 18.x: `session_id`,
//! `database`, `default_format`, `wait_end_of_query` and settings as URL
//! parameters, and exception text in the body of a non-200 response.
//!
//! Every request has a deadline, so a server that stops answering (stopped,
//! or a network that drops packets) is an error instead of a statement or an
//! insert that hangs. Uses the error codes and the session state.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Client, Url};

use super::{Backend, BackendSession, DataStream, Output};
use crate::error::{codes, ChError};
use crate::session::SessionState;

/// How long one request may take, from connecting to the last byte of the
/// answer: ClickHouse's own `receive_timeout` for its clients (300 s), so a
/// query that runs long on a live server still completes. The backend trait
/// pipeline's sessions set a shorter one (`set_request_timeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The server's version, as `SELECT version()` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    pub text: String,
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    pub fn parse(text: &str) -> ServerVersion {
        let mut parts = text
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        ServerVersion {
            text: text.trim().to_string(),
            major: parts.next().unwrap_or(0),
            minor: parts.next().unwrap_or(0),
        }
    }
}

struct RemoteInner {
    client: Client,
    url: Url,
    user: String,
    password: Option<String>,
    version: ServerVersion,
    /// The default deadline of each request (a client's).
    timeout: Duration,
}

/// A ClickHouse server reached over HTTP(S).
pub struct Remote {
    inner: Arc<RemoteInner>,
}

impl Remote {
    /// Connects to `url` and asks the server for its version. Each request
    /// fails with TIMEOUT_EXCEEDED when it takes longer than `timeout`.
    pub async fn connect(
        url: &str,
        user: &str,
        password: Option<String>,
        timeout: Duration,
    ) -> Result<Remote, ChError> {
        let parsed = Url::parse(url).map_err(|e| {
            ChError::new(
                codes::BAD_ARGUMENTS,
                format!("Invalid --clickhouse-url {url:?}: {e}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChError::new(
                codes::BAD_ARGUMENTS,
                format!("--clickhouse-url must be http:// or https://, got {url:?}"),
            ));
        }
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .timeout(timeout)
            .build()
            .map_err(|e| ChError::new(codes::NETWORK_ERROR, format!("HTTP client: {e}")))?;
        let mut inner = RemoteInner {
            client,
            url: parsed,
            user: user.to_string(),
            password,
            version: ServerVersion::parse(""),
            timeout,
        };
        let probe = SessionState::new("default");
        let out = inner
            .post("SELECT version()", &probe, "TabSeparated", None, timeout)
            .await?;
        inner.version = ServerVersion::parse(&String::from_utf8_lossy(&out.body));
        tracing::info!(version = %inner.version.text, url = %inner.url, "connected to ClickHouse");
        Ok(Remote {
            inner: Arc::new(inner),
        })
    }
}

impl RemoteInner {
    async fn post(
        &self,
        sql: &str,
        state: &SessionState,
        default_format: &str,
        session_id: Option<&str>,
        timeout: Duration,
    ) -> Result<Output, ChError> {
        self.send(
            None,
            sql.as_bytes().to_vec(),
            state,
            default_format,
            (session_id, timeout),
        )
        .await
    }

    /// POSTs `body`; with `query`, the statement goes in the URL and the
    /// body is its data (how ClickHouse takes INSERT data over HTTP).
    async fn send(
        &self,
        query_text: Option<&str>,
        body: impl Into<reqwest::Body>,
        state: &SessionState,
        default_format: &str,
        (session_id, timeout): (Option<&str>, Duration),
    ) -> Result<Output, ChError> {
        let mut url = self.url.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(text) = query_text {
                query.append_pair("query", text);
            }
            query
                .append_pair("database", &state.database)
                .append_pair("default_format", default_format)
                // Buffer the result server-side so that an error in the middle
                // of a query arrives as an error, not as a truncated body.
                .append_pair("wait_end_of_query", "1");
            if let Some(id) = session_id {
                query.append_pair("session_id", id);
            }
            for (name, value) in &state.settings {
                query.append_pair(name, value);
            }
        }
        let response = self
            .client
            .post(url)
            .basic_auth(&self.user, self.password.as_deref())
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| self.network_error(e, timeout))?;
        let status = response.status();
        let written_rows = response
            .headers()
            .get("X-ClickHouse-Summary")
            .and_then(|h| h.to_str().ok())
            .and_then(written_rows);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.network_error(e, timeout))?;
        if !status.is_success() {
            return Err(ChError::from_server_text(&String::from_utf8_lossy(&body)));
        }
        Ok(Output {
            body: body.to_vec(),
            written_rows,
        })
    }

    fn network_error(&self, e: reqwest::Error, timeout: Duration) -> ChError {
        // Strip credentials that a URL might carry before showing it.
        let mut shown = self.url.clone();
        let _ = shown.set_password(None);
        if e.is_timeout() && !e.is_connect() {
            // The server took the connection (or had it) but did not answer
            // in time: stalled, not gone.
            return ChError::new(
                codes::TIMEOUT_EXCEEDED,
                format!(
                    "Timeout exceeded: ClickHouse at {shown} did not answer within {} s",
                    timeout.as_secs_f64()
                ),
            );
        }
        ChError::new(
            codes::NETWORK_ERROR,
            format!("Cannot reach ClickHouse at {shown}: {e}"),
        )
    }
}

/// `{"written_rows":"3",...}` → 3.
fn written_rows(summary: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(summary).ok()?;
    match value.get("written_rows")? {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

#[async_trait]
impl Backend for Remote {
    fn description(&self) -> String {
        let mut shown = self.inner.url.clone();
        let _ = shown.set_password(None);
        format!("ClickHouse {} at {shown}", self.inner.version.text)
    }

    fn insert_format(&self) -> super::InsertFormat {
        // ArrowStream input arrived in ClickHouse 20.x; 18.x reads JSON.
        if self.inner.version.major >= 21 {
            super::InsertFormat::ArrowStream
        } else {
            super::InsertFormat::JsonEachRow
        }
    }

    async fn open_session(&self) -> Result<Box<dyn BackendSession>, ChError> {
        Ok(Box::new(RemoteSession {
            timeout: self.inner.timeout,
            inner: self.inner.clone(),
            session_id: format!("kafkahouse-{}", uuid::Uuid::new_v4()),
        }))
    }
}

/// A client session. The server-side HTTP session exists so that `USE` and
/// `SET` are accepted and checked by the server (18.x refuses them without
/// one); the database and settings are also sent with every request, so a
/// server session that timed out loses nothing.
struct RemoteSession {
    inner: Arc<RemoteInner>,
    session_id: String,
    /// Each request's deadline.
    timeout: Duration,
}

#[async_trait]
impl BackendSession for RemoteSession {
    async fn execute(
        &mut self,
        sql: &str,
        state: &SessionState,
        default_format: &str,
    ) -> Result<Output, ChError> {
        self.inner
            .post(
                sql,
                state,
                default_format,
                Some(&self.session_id),
                self.timeout,
            )
            .await
    }

    fn set_request_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    async fn insert(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: Vec<u8>,
        state: &SessionState,
    ) -> Result<Output, ChError> {
        let query = format!("{insert_sql} FORMAT {format}");
        self.inner
            .send(
                Some(&query),
                data,
                state,
                "TabSeparated",
                (None, self.timeout),
            )
            .await
    }

    async fn insert_stream(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: DataStream,
        state: &SessionState,
    ) -> Result<Output, ChError> {
        // Sent chunked as it arrives; a failed piece ends the request, and
        // the server drops the insert with it.
        let query = format!("{insert_sql} FORMAT {format}");
        let body = reqwest::Body::wrap_stream(data);
        self.inner
            .send(
                Some(&query),
                body,
                state,
                "TabSeparated",
                (None, self.timeout),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let old = ServerVersion::parse("18.16.1\n");
        assert_eq!((old.major, old.minor), (18, 16));
        assert_eq!(ServerVersion::parse("24.8.4.13").major, 24);
    }

    /// A server that accepts connections and never answers (as one stopped
    /// with SIGSTOP does: the kernel still completes the handshake).
    #[tokio::test]
    async fn a_server_that_does_not_answer_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind on loopback");
        let addr = listener.local_addr().expect("bound address");
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let started = std::time::Instant::now();
        let url = format!("http://{addr}/");
        let result = Remote::connect(&url, "default", None, Duration::from_millis(500)).await;
        silent.abort();
        match result {
            Ok(_) => panic!("connected to a server that never answered"),
            Err(e) => {
                assert_eq!(e.code, codes::TIMEOUT_EXCEEDED, "{}", e.message);
                assert!(
                    e.message.contains("did not answer within 0.5 s"),
                    "{}",
                    e.message
                );
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn summary_header() {
        assert_eq!(
            written_rows(r#"{"read_rows":"0","written_rows":"3","written_bytes":"12"}"#),
            Some(3)
        );
        assert_eq!(written_rows("garbage"), None);
    }
}
