//! Runs statements for a client session. Wire-agnostic: frontends turn text
//! into typed statements with the planner, call this, and render what comes
//! back in their own protocol. Kafka statements go to `kafka_statements`,
//! everything else to the backend as written. Uses the Kafka statements, the
//! backend, the pipelines' dead-letter redirect, formats and result types.

use std::sync::Arc;

use catalog::{Catalog, ChType};
use planner::{quote, Kind, ObjectName, Statement};

use crate::backend::{Backend, BackendSession, RESULT_FORMAT};
use crate::error::{codes, ChError};
use crate::kafka_statements::{self, KafkaStatements};
use crate::pipeline::Pipelines;
use crate::result::{done, formatted_lines, typed_result, Formatted, Outcome, ResultSet};
use crate::session::SessionState;

/// What every session shares: the backend, the catalog of Kafka tables and
/// views, the running pipelines, and the defaults new sessions get.
pub struct Executor {
    backend: Arc<dyn Backend>,
    kafka: Arc<KafkaStatements>,
    default_database: String,
    users: crate::users::Users,
}

impl Executor {
    pub fn new(
        backend: Arc<dyn Backend>,
        catalog: Arc<Catalog>,
        pipelines: Arc<Pipelines>,
        default_database: impl Into<String>,
        users: crate::users::Users,
    ) -> Self {
        let kafka = Arc::new(KafkaStatements::new(
            catalog,
            pipelines,
            backend.insert_format(),
            backend.is_embedded(),
        ));
        Self {
            backend,
            kafka,
            default_database: default_database.into(),
            users,
        }
    }

    /// Checks a client's user and password (frontends call it before
    /// opening a session); a failure is `Code: 516`, answered after a delay.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        peer: std::net::IpAddr,
    ) -> Result<crate::users::Grant, ChError> {
        match self.users.check(user, password, peer) {
            Ok(grant) => Ok(grant),
            Err(e) => {
                tracing::warn!(user, %peer, "authentication failed");
                tokio::time::sleep(crate::users::FAILURE_DELAY).await;
                Err(e)
            }
        }
    }

    /// The configured users (the PostgreSQL frontend's SCRAM needs them).
    pub fn users(&self) -> &crate::users::Users {
        &self.users
    }

    /// Opens a session for `grant`: a readonly user's session is
    /// `readonly = 1`, which kafkahouse and the backend both enforce.
    pub async fn open_session_for(
        &self,
        grant: &crate::users::Grant,
        database: Option<&str>,
    ) -> Result<ClientSession, ChError> {
        let mut session = self.open_session(database).await?;
        if grant.readonly {
            session
                .state
                .settings
                .insert("readonly".to_string(), "1".to_string());
        }
        Ok(session)
    }

    /// Every instance's consumers, for `/metrics`.
    pub fn consumers(
        &self,
    ) -> Vec<(
        String,
        catalog::QualifiedName,
        crate::pipeline::status::ConsumerState,
    )> {
        self.kafka.consumers()
    }

    /// Opens a session in `database` (or the configured default).
    pub async fn open_session(&self, database: Option<&str>) -> Result<ClientSession, ChError> {
        let conn = self.backend.open_session().await?;
        let mut session = ClientSession {
            state: SessionState::new("default"),
            conn,
            kafka: self.kafka.clone(),
        };
        let database = database.unwrap_or(&self.default_database);
        if database != "default" {
            let sql = format!("USE {}", quote::identifier(database));
            session.execute_text(&sql).await?;
        }
        Ok(session)
    }
}

/// One client's session: its state and its backend connection.
pub struct ClientSession {
    pub(crate) state: SessionState,
    conn: Box<dyn BackendSession>,
    kafka: Arc<KafkaStatements>,
}

impl ClientSession {
    /// Whether the backend is kafkahouse's embedded engine (a current
    /// ClickHouse), not a remote server of any version.
    pub fn backend_is_embedded(&self) -> bool {
        self.kafka.backend_is_embedded()
    }

    /// The session's `max_query_size` (SET, or a URL setting over HTTP):
    /// how much of a statement's SQL kafkahouse reads, as ClickHouse.
    pub fn max_query_size(&self) -> usize {
        self.state
            .settings
            .get("max_query_size")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(planner::MAX_QUERY_SIZE)
    }

    /// Runs every statement of `text`, stopping at the first error.
    pub async fn execute_text(&mut self, text: &str) -> Result<Vec<Outcome>, ChError> {
        let mut outcomes = Vec::new();
        for statement in planner::statements(text, self.max_query_size()) {
            outcomes.push(self.execute(&statement).await?);
        }
        Ok(outcomes)
    }

    /// Runs one statement: Kafka tables and their views here, the rest in
    /// the backend.
    pub async fn execute(&mut self, statement: &Statement<'_>) -> Result<Outcome, ChError> {
        tracing::debug!(kind = statement.kind.name(), "statement");
        refuse_oversized(statement)?;
        contain_panic(self.run(statement)).await
    }

    /// Runs one statement for a client that takes the backend's Native
    /// blocks as they are (the native protocol): a forwarded query without a
    /// FORMAT of its own comes back as the backend's Native bytes; anything
    /// else as from [`Self::execute`].
    pub async fn execute_native(
        &mut self,
        statement: &Statement<'_>,
    ) -> Result<NativeAnswer, ChError> {
        tracing::debug!(kind = statement.kind.name(), "statement");
        refuse_oversized(statement)?;
        contain_panic(async {
            if let Some(outcome) = self.kafka_outcome(statement).await? {
                return Ok(NativeAnswer::Outcome(outcome));
            }
            if statement.kind.returns_rows() && statement.output_format().is_none() {
                let out = self.forward(statement.sql, "Native").await?;
                return Ok(NativeAnswer::Native(out.body));
            }
            self.run_forwarded(statement)
                .await
                .map(NativeAnswer::Outcome)
        })
        .await
    }

    async fn run(&mut self, statement: &Statement<'_>) -> Result<Outcome, ChError> {
        match self.kafka_outcome(statement).await? {
            Some(outcome) => Ok(outcome),
            None => self.run_forwarded(statement).await,
        }
    }

    /// kafkahouse's own answer to `statement`, rendered in the statement's
    /// FORMAT; `None` for a statement the backend answers.
    async fn kafka_outcome(
        &mut self,
        statement: &Statement<'_>,
    ) -> Result<Option<Outcome>, ChError> {
        if let Some(outcome) = self.kafka_statement(statement).await? {
            // Asked for in a FORMAT: one text row per line, as for the
            // backend's formatted answers.
            if let (
                Outcome::Rows(result),
                Kind::Query {
                    format: Some(format),
                    ..
                },
            ) = (&outcome, &statement.kind)
            {
                let body = crate::formats::render(result, format)?;
                return Ok(Some(Outcome::Rows(formatted_lines(format, &body))));
            }
            return Ok(Some(outcome));
        }
        Ok(None)
    }

    /// A statement the backend answers.
    async fn run_forwarded(&mut self, statement: &Statement<'_>) -> Result<Outcome, ChError> {
        match &statement.kind {
            Kind::Use { database } => {
                self.forward(statement.sql, RESULT_FORMAT).await?;
                self.state.database = database.clone();
                Ok(done("USE", None))
            }
            Kind::Set { settings } => {
                self.forward(statement.sql, RESULT_FORMAT).await?;
                for s in settings {
                    self.state.settings.insert(s.name.clone(), s.value.clone());
                }
                Ok(done("SET", None))
            }
            Kind::Query {
                format: Some(format),
                ..
            } => {
                let out = self.forward(statement.sql, RESULT_FORMAT).await?;
                Ok(Outcome::Rows(formatted_lines(format, &out.body)))
            }
            kind => {
                let out = self.forward(statement.sql, RESULT_FORMAT).await?;
                if out.body.is_empty() && !kind.returns_rows() {
                    return Ok(done(&command_tag(statement.sql), out.written_rows));
                }
                Ok(Outcome::Rows(typed_result(&out.body)?))
            }
        }
    }

    /// Runs one statement for a client that takes results as bytes in a
    /// ClickHouse format (the HTTP interface): the backend's answers come
    /// back exactly as the backend wrote them in `format` (or the
    /// statement's own FORMAT); kafkahouse's own results are rendered.
    pub async fn execute_formatted(
        &mut self,
        statement: &Statement<'_>,
        format: &str,
    ) -> Result<Formatted, ChError> {
        tracing::debug!(kind = statement.kind.name(), "statement");
        refuse_oversized(statement)?;
        contain_panic(self.run_formatted(statement, format)).await
    }

    async fn run_formatted(
        &mut self,
        statement: &Statement<'_>,
        format: &str,
    ) -> Result<Formatted, ChError> {
        if let Some(outcome) = self.kafka_statement(statement).await? {
            return match outcome {
                Outcome::Rows(result) => {
                    let format = statement
                        .output_format()
                        .unwrap_or_else(|| format.to_string());
                    let body = match crate::formats::render(&result, &format) {
                        Ok(body) => body,
                        // Binary formats (Native, RowBinary, ...): the backend
                        // writes them from the text form, as ClickHouse would.
                        Err(e) if e.code == codes::UNKNOWN_FORMAT => {
                            self.render_in_backend(&result, &format).await?
                        }
                        Err(e) => return Err(e),
                    };
                    Ok(Formatted {
                        body,
                        format: Some(format),
                        written_rows: None,
                        warnings: Vec::new(),
                    })
                }
                Outcome::Done { rows, warnings, .. } => Ok(Formatted {
                    body: Vec::new(),
                    format: None,
                    written_rows: rows,
                    warnings,
                }),
            };
        }
        let out = self.forward(statement.sql, format).await?;
        match &statement.kind {
            Kind::Use { database } => self.state.database = database.clone(),
            Kind::Set { settings } => {
                for s in settings {
                    self.state.settings.insert(s.name.clone(), s.value.clone());
                }
            }
            _ => {}
        }
        let format = match statement.output_format() {
            Some(f) => Some(f),
            None if statement.kind.returns_rows() => Some(format.to_string()),
            None => None,
        };
        Ok(Formatted {
            body: out.body,
            format,
            written_rows: out.written_rows,
            warnings: Vec::new(),
        })
    }

    /// `result` in `format`, written by the backend from its
    /// TabSeparatedWithNamesAndTypes form (ClickHouse 21.x and later have
    /// the `format` table function this needs).
    async fn render_in_backend(
        &mut self,
        result: &ResultSet,
        format: &str,
    ) -> Result<Vec<u8>, ChError> {
        let text = crate::formats::render(result, "TabSeparatedWithNamesAndTypes")?;
        let literal = quote::string(&String::from_utf8_lossy(&text));
        let sql = format!(
            "SELECT * FROM format(TabSeparatedWithNamesAndTypes, {literal}) FORMAT {format}"
        );
        Ok(self.forward(&sql, format).await?.body)
    }

    /// Inserts `data` in `format` with `insert_sql` (`INSERT INTO t [(cols)]`)
    /// straight into the backend: binary formats from ClickHouse clients.
    pub async fn insert_data(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: Vec<u8>,
    ) -> Result<Option<u64>, ChError> {
        let sql = self.qualified_insert(insert_sql);
        let out = self.conn.insert(&sql, format, data, &self.state).await?;
        Ok(out.written_rows)
    }

    /// `insert_data` with the data streaming in (an HTTP body): the backend
    /// takes it piece by piece. When the data itself fails (the client went
    /// away, a body that does not inflate), that is the error reported, not
    /// what the backend made of the cut.
    pub async fn insert_stream(
        &mut self,
        insert_sql: &str,
        format: &str,
        data: crate::backend::DataStream,
    ) -> Result<Option<u64>, ChError> {
        use futures::StreamExt as _;
        let sql = self.qualified_insert(insert_sql);
        let first_failure = Arc::new(std::sync::Mutex::new(None::<ChError>));
        let noted = first_failure.clone();
        let data = data
            .inspect(move |piece| {
                if let Err(e) = piece {
                    let mut noted = noted.lock().unwrap_or_else(|p| p.into_inner());
                    noted.get_or_insert_with(|| e.clone());
                }
            })
            .boxed();
        let out = self
            .conn
            .insert_stream(&sql, format, data, &self.state)
            .await;
        let failure = first_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match failure {
            Some(e) => Err(e),
            None => Ok(out?.written_rows),
        }
    }

    /// `insert_sql` with its table named with the session's database: the
    /// backend's insert call carries no session database.
    fn qualified_insert(&self, insert_sql: &str) -> String {
        match planner::insert_target_span(insert_sql) {
            Some(span) if !insert_sql[span.clone()].contains('.') => format!(
                "{}{}.{}{}",
                &insert_sql[..span.start],
                quote::identifier(&self.state.database),
                &insert_sql[span.clone()],
                &insert_sql[span.end..]
            ),
            _ => insert_sql.to_string(),
        }
    }

    /// Whether kafkahouse itself runs INSERTs into `table` (a Kafka table,
    /// or the source of views into Kafka tables) instead of the backend.
    /// Rows a client sent as data in `format` for `INSERT INTO table
    /// columns_sql` into a table whose INSERTs kafkahouse runs itself
    /// ([`Self::handles_inserts_into`]): produced, or staged for the views
    /// into Kafka tables that read it.
    pub async fn insert_rows_into(
        &mut self,
        table: &ObjectName,
        columns_sql: &str,
        format: &str,
        data: Vec<u8>,
    ) -> Result<Outcome, ChError> {
        let kafka = self.kafka.clone();
        let mut session = self.kafka_session();
        contain_panic(kafka.insert_data(&mut session, table, columns_sql, format, data)).await
    }

    pub fn handles_inserts_into(&self, table: &ObjectName) -> bool {
        self.kafka.handles_inserts_into(&self.state, table)
    }

    /// The columns an INSERT into `table` fills, with their types (see
    /// `KafkaStatements::insert_columns`).
    pub async fn insert_columns(
        &mut self,
        table: &ObjectName,
        listed: &[String],
    ) -> Result<Vec<(String, ChType)>, ChError> {
        let kafka = self.kafka.clone();
        kafka
            .insert_columns(&mut self.kafka_session(), table, listed)
            .await
    }

    /// Runs `statement` if it is a Kafka statement.
    async fn kafka_statement(
        &mut self,
        statement: &Statement<'_>,
    ) -> Result<Option<Outcome>, ChError> {
        let kafka = self.kafka.clone();
        kafka.run(&mut self.kafka_session(), statement).await
    }

    fn kafka_session(&mut self) -> kafka_statements::Session<'_> {
        kafka_statements::Session {
            state: &mut self.state,
            conn: self.conn.as_mut(),
            describing: false,
        }
    }

    /// The columns `statement` answers with, for a client's Describe,
    /// without running it where that can be avoided: a direct SELECT from a
    /// Kafka table is planned only (it would read, and with
    /// `kafka_commit_on_select` commit), a query for the backend is asked
    /// `DESCRIBE (query)`. Statements neither way can describe (SHOW,
    /// EXPLAIN, kafkahouse's own answers, backends without DESCRIBE of a
    /// query) are run: they read only.
    pub async fn describe(&mut self, statement: &Statement<'_>) -> Result<Outcome, ChError> {
        refuse_oversized(statement)?;
        let kafka = self.kafka.clone();
        let mut described = kafka_statements::Session {
            state: &mut self.state,
            conn: self.conn.as_mut(),
            describing: true,
        };
        if let Some(outcome) = contain_panic(kafka.run(&mut described, statement)).await? {
            return Ok(outcome);
        }
        if let Kind::Query { format: None, .. } = &statement.kind {
            let query = planner::without_output_format(statement.sql);
            let sql = format!("DESCRIBE ({query})");
            if let Ok(out) = self.conn.execute(&sql, &self.state, RESULT_FORMAT).await {
                if let Ok(described) = crate::backend::described_columns(&out.body) {
                    let columns = described
                        .into_iter()
                        .map(|(name, ty, _)| crate::result::ResultColumn {
                            name,
                            ty: ChType::parse(&ty).ok(),
                        })
                        .collect();
                    return Ok(Outcome::Rows(ResultSet {
                        columns,
                        rows: Vec::new(),
                    }));
                }
            }
        }
        self.execute(statement).await
    }

    async fn forward(
        &mut self,
        sql: &str,
        format: &str,
    ) -> Result<crate::backend::Output, ChError> {
        // Queries of system.dead_letter_queue read the backend table holding it.
        let redirected = crate::pipeline::dead_letters::redirect(sql);
        let sql = redirected.as_deref().unwrap_or(sql);
        let out = self.conn.execute(sql, &self.state, format).await;
        if let Err(e) = &out {
            tracing::debug!(code = e.code, error = %e.message, "backend error");
        }
        out
    }
}

/// What a statement answers a native-protocol client with.
pub enum NativeAnswer {
    /// The backend's answer in the Native format, as it wrote it.
    Native(Vec<u8>),
    Outcome(Outcome),
}

/// A statement that panics ends with an error for its client, never the
/// process: ClickHouse's LOGICAL_ERROR, which says a bug was hit.
async fn contain_panic<T>(
    run: impl std::future::Future<Output = Result<T, ChError>>,
) -> Result<T, ChError> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(run).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a statement panicked");
            Err(ChError::new(
                codes::LOGICAL_ERROR,
                format!("Logical error: kafkahouse hit a bug running this statement ({what})"),
            ))
        }
    }
}

/// ClickHouse's answer to SQL longer than `max_query_size`.
fn refuse_oversized(statement: &Statement<'_>) -> Result<(), ChError> {
    match statement.kind {
        Kind::OverMaxQuerySize { max_query_size } => Err(ChError::new(
            codes::SYNTAX_ERROR,
            format!(
                "Syntax error: failed at position {}: Max query size exceeded (max_query_size = {max_query_size}; INSERT data after the query does not count)",
                max_query_size + 1
            ),
        )),
        _ => Ok(()),
    }
}

/// `CREATE TABLE`, `ALTER TABLE`, `INSERT`, `OPTIMIZE`...: the words a client
/// shows as the command's completion.
fn command_tag(sql: &str) -> String {
    let mut words = sql
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase());
    let first = words.next().unwrap_or_default();
    match first.as_str() {
        "CREATE" | "DROP" | "ALTER" | "ATTACH" | "DETACH" | "RENAME" | "TRUNCATE" => {
            match words.find(|w| w != "OR" && w != "REPLACE" && w != "TEMPORARY") {
                Some(second) => format!("{first} {second}"),
                None => first,
            }
        }
        _ => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_tags() {
        assert_eq!(
            command_tag("CREATE TABLE github (a String)"),
            "CREATE TABLE"
        );
        assert_eq!(
            command_tag("create or replace view v as select 1"),
            "CREATE VIEW"
        );
        assert_eq!(
            command_tag("ALTER TABLE github ADD COLUMN x String"),
            "ALTER TABLE"
        );
        assert_eq!(command_tag("INSERT INTO t VALUES (1)"), "INSERT");
        assert_eq!(command_tag("OPTIMIZE TABLE t FINAL"), "OPTIMIZE");
    }
}
