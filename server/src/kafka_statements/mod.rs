//! Statements about Kafka tables, their views and named collections:
//! kafkahouse answers these from its catalog and runs them with its
//! pipelines, instead of the backend (which has no Kafka tables). Called by
//! the executor with the client's session; uses the catalog, the pipelines,
//! the backend session it is handed, system tables and the result types.

mod alter;
mod answers;
mod collections;
mod errors;
mod inserts;
mod tables;
mod views;

use std::sync::Arc;

use catalog::{Catalog, Definition, KafkaTableDef, QualifiedName};
use planner::{Kind, ObjectName, Setting, Statement};

use crate::backend::{BackendSession, InsertFormat, Output};
use crate::error::{codes, ChError};
use crate::pipeline::Pipelines;
use crate::result::{done, Outcome};
use crate::session::{is_kafkahouse_setting, SessionState};

/// What Kafka statements work with, shared by every session.
pub struct KafkaStatements {
    catalog: Arc<Catalog>,
    pipelines: Arc<Pipelines>,
    /// The backend's format for inserts, which a view is checked against.
    insert_format: InsertFormat,
    /// Whether the backend is the embedded engine, whose tables are
    /// kafkahouse's to give a deduplication window (see
    /// `pipeline::guarantee`); a remote server's are only checked.
    embedded: bool,
}

/// A client's session as a Kafka statement sees it: its state, and its
/// connection to the backend for what the backend must answer.
pub struct Session<'a> {
    pub state: &'a mut SessionState,
    pub conn: &'a mut dyn BackendSession,
    /// Only the result's columns are wanted (a client's Describe): a
    /// direct SELECT is planned, not run, so it reads and commits nothing.
    pub describing: bool,
}

impl Session<'_> {
    /// Runs `sql` in the backend, in the session's database and settings.
    async fn backend(&mut self, sql: &str, format: &str) -> Result<Output, ChError> {
        self.conn.execute(sql, self.state, format).await
    }

    /// `[db.]name` with the session's database filled in.
    fn qualify(&self, name: &ObjectName) -> QualifiedName {
        self.state.qualify(name)
    }

    /// ClickHouse's refusal of a change in a `readonly` session (a GET
    /// request over HTTP is one), for the changes kafkahouse makes itself;
    /// the backend refuses the others.
    fn check_writable(&self) -> Result<(), ChError> {
        if self.state.readonly() {
            return Err(ChError::new(
                codes::READONLY,
                "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries",
            ));
        }
        Ok(())
    }
}

impl KafkaStatements {
    pub fn new(
        catalog: Arc<Catalog>,
        pipelines: Arc<Pipelines>,
        insert_format: InsertFormat,
        embedded: bool,
    ) -> Self {
        Self {
            catalog,
            pipelines,
            insert_format,
            embedded,
        }
    }

    /// Whether the backend is kafkahouse's embedded engine.
    pub fn backend_is_embedded(&self) -> bool {
        self.embedded
    }

    /// Runs `statement` when it is about a Kafka table, one of its views or
    /// a named collection; `None` means it is the backend's business.
    pub async fn run(
        &self,
        s: &mut Session<'_>,
        statement: &Statement<'_>,
    ) -> Result<Option<Outcome>, ChError> {
        match &statement.kind {
            Kind::CreateKafkaTable(ddl) => {
                s.check_writable()?;
                let ddl = ddl
                    .as_ref()
                    .map_err(|e| ChError::new(codes::SYNTAX_ERROR, e.to_string()))?;
                self.create_kafka_table(s, ddl).await.map(Some)
            }
            Kind::NamedCollection(parsed) => {
                s.check_writable()?;
                let parsed = parsed
                    .as_ref()
                    .map_err(|e| ChError::new(codes::SYNTAX_ERROR, e.to_string()))?;
                self.named_collection(parsed).await.map(Some)
            }
            // One that does not read as a view kafkahouse handles is the
            // backend's to judge.
            Kind::CreateMaterializedView(Ok(view)) => self.create_view(s, view).await,
            Kind::SyncKafka {
                name,
                timeout_seconds,
                replica,
            } => {
                if *replica && self.kafka_table(&s.qualify(name)).is_none() {
                    return Ok(None);
                }
                self.sync_kafka(s, name, *timeout_seconds).await.map(Some)
            }
            Kind::Drop { name, .. } => self.drop(s, &s.qualify(name)).await,
            Kind::Detach { name, .. } => self.set_attached(s, &s.qualify(name), false).await,
            Kind::Attach { name, .. } => self.set_attached(s, &s.qualify(name), true).await,
            Kind::AlterSettings {
                name,
                modify,
                reset,
            } => {
                self.alter_settings(s, &s.qualify(name), modify, reset)
                    .await
            }
            Kind::DropDatabase { database } => self.drop_database(s, statement, database).await,
            Kind::Insert {
                table: Some(table),
                target,
                ..
            } => self.insert(s, statement, table, target.clone()).await,
            Kind::Describe { name } => Ok(self.describe(&s.qualify(name))),
            Kind::Exists { name } => Ok(self.exists(&s.qualify(name))),
            Kind::ShowCreate { name } => Ok(self.show_create(&s.qualify(name))),
            Kind::ShowTables { database } => self.show_tables(s, statement, database).await,
            Kind::Query {
                tables, settings, ..
            } => self.query(s, statement, tables, settings).await,
            Kind::Set { settings } => set_kafkahouse_settings(s, settings),
            _ => Ok(None),
        }
    }

    /// Every instance's consumers: (instance, table, state).
    pub fn consumers(
        &self,
    ) -> Vec<(
        String,
        QualifiedName,
        crate::pipeline::status::ConsumerState,
    )> {
        self.pipelines.all_consumers()
    }

    /// The Kafka table `name`, if it is one.
    fn kafka_table(&self, name: &QualifiedName) -> Option<KafkaTableDef> {
        match self.catalog.get(name) {
            Some(Definition::KafkaTable(t)) => Some(t),
            _ => None,
        }
    }
}

/// A `SET` of kafkahouse's own settings, kept in the session and never
/// sent to the backend (which would refuse them); `None` for a SET of the
/// backend's settings.
fn set_kafkahouse_settings(
    s: &mut Session<'_>,
    settings: &[Setting],
) -> Result<Option<Outcome>, ChError> {
    let own = settings
        .iter()
        .filter(|x| is_kafkahouse_setting(&x.name))
        .count();
    if own == 0 {
        return Ok(None);
    }
    // Splitting one SET between kafkahouse and the backend would mean
    // rewriting the user's statement; asking for two SETs is plainer.
    if own < settings.len() {
        return Err(ChError::new(
            codes::BAD_ARGUMENTS,
            "kafkahouse's own settings (kafka_require_exactly_once) are set in a SET of their own, without ClickHouse's settings",
        ));
    }
    for setting in settings {
        s.state
            .kafkahouse_settings
            .insert(setting.name.clone(), setting.value.clone());
    }
    Ok(Some(done("SET", None)))
}
