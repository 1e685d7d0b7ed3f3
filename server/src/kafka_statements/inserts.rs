//! INSERTs kafkahouse runs itself: into a Kafka table (produced to its
//! topic) and into a table that views into Kafka tables read (the rows are
//! staged so the views see exactly what the table received). Uses the
//! catalog, the pipelines' producers and the backend session.

use std::ops::Range;

use catalog::{quote, ChType, KafkaTableDef, QualifiedName};
use planner::{ObjectName, Statement};

use super::{KafkaStatements, Session};
use crate::backend::RESULT_FORMAT;
use crate::error::{codes, ChError};
use crate::pipeline::producing::{self, ProducingView};
use crate::result::{done, Outcome};
use crate::session::SessionState;

impl KafkaStatements {
    /// `INSERT INTO table ...` when `table` is a Kafka table or the source
    /// of views into Kafka tables; `None` otherwise.
    pub(super) async fn insert(
        &self,
        s: &mut Session<'_>,
        statement: &Statement<'_>,
        table: &ObjectName,
        target: Option<Range<usize>>,
    ) -> Result<Option<Outcome>, ChError> {
        let name = s.qualify(table);
        let kafka_table = self.kafka_table(&name);
        let views = self.producing_views(&name);
        if kafka_table.is_none() && views.is_empty() {
            return Ok(None);
        }
        s.check_writable()?;
        let span = target.ok_or_else(|| {
            ChError::new(
                codes::SYNTAX_ERROR,
                "Syntax error: cannot find the INSERT's table",
            )
        })?;
        let source = producing::InsertSource::Sql {
            sql: statement.sql,
            target: span,
        };
        let outcome = match kafka_table {
            Some(table) => self.insert_into_kafka(s, source, &table).await?,
            None => self.insert_firing_views(s, source, &name, &views).await?,
        };
        Ok(Some(outcome))
    }

    /// Rows a client sent as data in `format` for `INSERT INTO table
    /// columns_sql`, where `table` is one whose INSERTs kafkahouse runs
    /// (`handles_inserts_into`).
    pub async fn insert_data(
        &self,
        s: &mut Session<'_>,
        table: &ObjectName,
        columns_sql: &str,
        format: &str,
        data: Vec<u8>,
    ) -> Result<Outcome, ChError> {
        let name = s.qualify(table);
        s.check_writable()?;
        let source = producing::InsertSource::Data {
            columns_sql,
            format,
            data,
        };
        match self.kafka_table(&name) {
            Some(table) => self.insert_into_kafka(s, source, &table).await,
            None => {
                let views = self.producing_views(&name);
                self.insert_firing_views(s, source, &name, &views).await
            }
        }
    }

    /// `INSERT INTO kafka_table ...` (VALUES, FORMAT with data, SELECT):
    /// produced to the table's first topic (see `pipeline::producing`).
    /// Success means the broker acknowledged every message.
    async fn insert_into_kafka(
        &self,
        s: &mut Session<'_>,
        source: producing::InsertSource<'_>,
        table: &KafkaTableDef,
    ) -> Result<Outcome, ChError> {
        let rows =
            producing::produce_insert(s.conn, s.state, table, source, self.pipelines.producers())
                .await?;
        Ok(done("INSERT", Some(rows as u64)))
    }

    /// `INSERT INTO t ...` where views `TO` Kafka tables read `t`: the rows
    /// are staged, inserted into `t` from the stage, and the views run over
    /// the stage, so they see exactly the rows `t` received.
    async fn insert_firing_views(
        &self,
        s: &mut Session<'_>,
        source: producing::InsertSource<'_>,
        target: &QualifiedName,
        views: &[ProducingView],
    ) -> Result<Outcome, ChError> {
        let stage = producing::Stage::create(s.conn, s.state, target).await?;
        let inserted = async {
            let written = source.fill(s.conn, s.state, &stage.name).await?;
            s.backend(
                &format!(
                    "INSERT INTO {} SELECT * FROM {}",
                    quote::qualified(&target.database, &target.name),
                    stage.name
                ),
                RESULT_FORMAT,
            )
            .await?;
            Ok(written)
        }
        .await;
        let rows = match inserted {
            Ok(rows) => rows,
            Err(e) => {
                // Nothing reached `t`: nothing to fire; the stage goes.
                stage.drop(s.conn, s.state).await;
                return Err(e);
            }
        };
        stage
            .fire_and_drop(s.conn, s.state, target, views, self.pipelines.producers())
            .await?;
        Ok(done("INSERT", rows))
    }

    /// Whether kafkahouse itself runs INSERTs into `table` (a Kafka table,
    /// or the source of views into Kafka tables) instead of the backend.
    pub fn handles_inserts_into(&self, state: &SessionState, table: &ObjectName) -> bool {
        let name = state.qualify(table);
        self.kafka_table(&name).is_some() || !self.producing_views(&name).is_empty()
    }

    /// The columns an INSERT into `table` fills, with their types: the
    /// Kafka table's own, or the backend table's insertable ones; `listed`
    /// (the INSERT's column list) picks and orders them.
    pub async fn insert_columns(
        &self,
        s: &mut Session<'_>,
        table: &ObjectName,
        listed: &[String],
    ) -> Result<Vec<(String, ChType)>, ChError> {
        let name = s.qualify(table);
        let all: Vec<(String, ChType)> = match self.kafka_table(&name) {
            Some(t) => t.columns.into_iter().map(|c| (c.name, c.ty)).collect(),
            None => crate::backend::describe_table(s.conn, &name.database, &name.name).await?,
        };
        if listed.is_empty() {
            return Ok(all);
        }
        listed
            .iter()
            .map(|column| {
                all.iter()
                    .find(|(n, _)| n == column)
                    .cloned()
                    .ok_or_else(|| {
                        ChError::new(
                            codes::NO_SUCH_COLUMN_IN_TABLE,
                            format!("No such column {column} in table {name}"),
                        )
                    })
            })
            .collect()
    }

    /// Views `TO` a Kafka table that read `source`.
    fn producing_views(&self, source: &QualifiedName) -> Vec<ProducingView> {
        catalog::consumption::producing_views(&self.catalog.list(), source)
    }
}
