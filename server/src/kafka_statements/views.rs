//! `CREATE MATERIALIZED VIEW` over a Kafka table (consumed by a pipeline)
//! or into one (fired by inserts into its source). The view arrives read
//! once by the planner: names, SELECT text, source table and parsed SELECT.
//! Each view's delivery guarantee is decided here too (a warning at CREATE,
//! or a refusal with `kafka_require_exactly_once = 1`). Uses the catalog,
//! the pipelines' view sink, producing checks and guarantee, and the backend
//! session (to check the destination).

use catalog::{Definition, KafkaTableDef, ViewDef, ViewEngine};
use planner::{CreateView, ViewPlan};

use super::errors::{already_exists, catalog_error, settings_error};
use super::tables::backend_has_table;
use super::{KafkaStatements, Session};
use crate::error::{codes, ChError};
use crate::pipeline::guarantee::{self, Guarantee};
use crate::pipeline::producing;
use crate::pipeline::sink::ViewSink;
use crate::result::{done, done_with_warnings, Outcome};
use crate::session::{REQUIRE_EXACTLY_ONCE, VIEW_ENGINE};

/// Why a view into a Kafka table is at least once: Kafka keeps no record
/// of what a client's retried INSERT into the view's source produced.
const INTO_KAFKA: &str =
    "views into Kafka tables produce at least once: a retried INSERT into the source produces its messages again";

/// Why a view from a Kafka table into another is at least once.
const BETWEEN_KAFKA: &str =
    "views from a Kafka table into another produce at least once: a block replayed after a restart or rebalance is produced again";

impl KafkaStatements {
    /// A view over or into a Kafka table is kafkahouse's; any other goes to
    /// the backend (`None`).
    pub(super) async fn create_view(
        &self,
        s: &mut Session<'_>,
        ddl: &CreateView,
    ) -> Result<Option<Outcome>, ChError> {
        let source = ddl.source.as_ref().map(|t| s.qualify(t));
        let source_table = source.as_ref().and_then(|name| self.kafka_table(name));
        let destination_table = ddl
            .to
            .as_ref()
            .and_then(|to| self.kafka_table(&s.qualify(to)));
        if source_table.is_none() && destination_table.is_none() {
            return Ok(None);
        }
        s.check_writable()?;
        let Some(to) = &ddl.to else {
            return Err(ChError::new(
                codes::NOT_IMPLEMENTED,
                "A materialized view reading a Kafka table needs TO <table>: kafkahouse stores no data itself",
            ));
        };
        let name = s.qualify(&ddl.name);
        if self.catalog.get(&name).is_some() || backend_has_table(s, &name).await? {
            if ddl.if_not_exists {
                return Ok(Some(done("CREATE MATERIALIZED VIEW", None)));
            }
            return Err(already_exists(&name));
        }
        // A FORMAT clause at the end of the SELECT is left out, as ClickHouse
        // ignores it (the tutorial's github_out_mv has one).
        let select_sql = ddl.select_sql.clone();
        let view = match (source_table, destination_table) {
            (Some(table), None) => {
                let mut view = ViewDef {
                    name: name.clone(),
                    source: table.name.clone(),
                    destination: s.qualify(to),
                    select_sql,
                    engine: ViewEngine::DataFusion,
                };
                // Plans the SELECT (as the planner parsed it) in the engine
                // that will run it and checks it against the destination's
                // columns exactly as the pipeline will, so mistakes show up here.
                let stream_errors = table.settings().map_err(settings_error)?.error_mode()
                    == catalog::kafka::ErrorMode::Stream;
                view.engine = self.plan_view(s, ddl, &view, &table, stream_errors).await?;
                view
            }
            (None, Some(table)) => {
                let Some(source) = source else {
                    return Err(ChError::new(
                        codes::NOT_IMPLEMENTED,
                        "A view into a Kafka table must read a table (SELECT ... FROM t)",
                    ));
                };
                producing::check_producing_view(s.conn, s.state, &select_sql, &table).await?;
                ViewDef {
                    name: name.clone(),
                    source,
                    destination: table.name.clone(),
                    select_sql,
                    engine: ViewEngine::DataFusion,
                }
            }
            (Some(table), Some(destination)) => {
                // The backend runs the SELECT over each block, staged with
                // the source's columns, as ClickHouse would.
                let stream_errors = table.settings().map_err(settings_error)?.error_mode()
                    == catalog::kafka::ErrorMode::Stream;
                producing::check_view_between_kafka_tables(
                    s.conn,
                    s.state,
                    &select_sql,
                    &table,
                    stream_errors,
                    &destination,
                )
                .await?;
                ViewDef {
                    name: name.clone(),
                    source: table.name.clone(),
                    destination: destination.name.clone(),
                    select_sql,
                    engine: ViewEngine::ClickHouse,
                }
            }
            (None, None) => return Ok(None),
        };
        // On the embedded engine this gives a MergeTree destination its
        // deduplication window now, so that SHOW CREATE TABLE shows it as
        // soon as the view exists.
        let guarantee = self.guarantee(s, &view, self.embedded).await?;
        let mut warnings = Vec::new();
        if let Guarantee::AtLeastOnce { reason } = &guarantee {
            if s.state.kafkahouse_flag(REQUIRE_EXACTLY_ONCE) {
                return Err(ChError::new(
                    codes::BAD_ARGUMENTS,
                    format!("{name} would deliver at least once, not exactly once: {reason} ({REQUIRE_EXACTLY_ONCE} = 1 refuses such views)"),
                ));
            }
            warnings.push(format!(
                "{name} delivers at least once, not exactly once: {reason}"
            ));
        }
        let (source, engine) = (view.source.clone(), view.engine);
        self.catalog
            .create(Definition::View(view))
            .map_err(catalog_error)?;
        tracing::info!(view = %name, %source, guarantee = guarantee.name(), engine = engine.name(), "materialized view created");
        self.pipelines.reconcile().await;
        Ok(Some(done_with_warnings(
            "CREATE MATERIALIZED VIEW",
            warnings,
        )))
    }

    /// Plans `view` (reading `table`) in the engine `kafka_view_engine`
    /// asks for and checks it against its destination; returns that engine.
    /// `auto` runs it in DataFusion when everything it uses runs there
    /// exactly as in ClickHouse (`planner::exact`), else in the embedded
    /// ClickHouse engine, whose errors are then ClickHouse's own.
    async fn plan_view(
        &self,
        s: &mut Session<'_>,
        ddl: &CreateView,
        view: &ViewDef,
        table: &KafkaTableDef,
        stream_errors: bool,
    ) -> Result<ViewEngine, ChError> {
        let choice = s.state.kafkahouse_value(VIEW_ENGINE);
        let schema = planner::source_schema(&table.columns, stream_errors);
        let inexact = match choice.as_deref() {
            None | Some("auto") => {
                let planned =
                    ViewPlan::over_parsed(&ddl.select, &table.name.database, &table.name.name, schema)
                        .await;
                let inexact = match &ddl.select {
                    Ok(statement) => planner::exact::inexact_parts(statement),
                    Err(_) => vec!["syntax kafkahouse's SQL parser does not read".to_string()],
                };
                match planned {
                    Ok(plan) if inexact.is_empty() => {
                        ViewSink::with_plan(view, plan, s.conn, self.insert_format).await?;
                        return Ok(ViewEngine::DataFusion);
                    }
                    Err(e) if e.code == codes::TOO_DEEP_RECURSION => {
                        return Err(ChError::new(e.code, e.message))
                    }
                    Ok(_) => inexact,
                    Err(e) if inexact.is_empty() => vec![e.message],
                    Err(_) => inexact,
                }
            }
            Some("datafusion") => {
                let plan =
                    ViewPlan::over_parsed(&ddl.select, &table.name.database, &table.name.name, schema)
                        .await
                        .map_err(|e| ChError::new(e.code, e.message))?;
                ViewSink::with_plan(view, plan, s.conn, self.insert_format).await?;
                return Ok(ViewEngine::DataFusion);
            }
            Some("clickhouse") => vec![format!("{VIEW_ENGINE} = 'clickhouse'")],
            Some(other) => {
                return Err(ChError::new(
                    codes::BAD_ARGUMENTS,
                    format!("Unknown {VIEW_ENGINE} '{other}': expected 'auto', 'datafusion' or 'clickhouse'"),
                ))
            }
        };
        let parsing = self.pipelines.parsing();
        ViewSink::in_engine(view, table, stream_errors, s.conn, parsing)
            .await
            .map_err(|e| {
                if e.message.contains("libchdb") {
                    ChError::new(
                        e.code,
                        format!(
                            "{} uses {}, which kafkahouse runs only in the embedded ClickHouse engine, and that engine is not available: {}",
                            view.name,
                            inexact.join(", "),
                            e.message
                        ),
                    )
                } else {
                    e
                }
            })?;
        tracing::info!(view = %view.name, because = %inexact.join(", "), "the view's SELECT runs in the embedded ClickHouse engine");
        Ok(ViewEngine::ClickHouse)
    }

    /// The delivery guarantee of `view`: a view into a Kafka table produces
    /// at least once; one into a ClickHouse table has what its destination
    /// allows (`pipeline::guarantee`) and, once its consumers have checked,
    /// its broker. `may_set_window` lets the embedded
    /// engine's MergeTree destination be given a deduplication window.
    pub(super) async fn guarantee(
        &self,
        s: &mut Session<'_>,
        view: &ViewDef,
        may_set_window: bool,
    ) -> Result<Guarantee, ChError> {
        if self.kafka_table(&view.destination).is_some() {
            let reason = if self.kafka_table(&view.source).is_some() {
                BETWEEN_KAFKA
            } else {
                INTO_KAFKA
            };
            return Ok(Guarantee::AtLeastOnce {
                reason: reason.to_string(),
            });
        }
        let prepared = guarantee::prepare(s.conn, &view.destination, may_set_window).await?;
        // Tokens need replays of identical blocks, which need a broker that
        // keeps the block in flight recorded (its consumers checked).
        if prepared == Guarantee::ExactlyOnce
            && self.pipelines.commit_metadata_dropped(&view.source)
        {
            return Ok(Guarantee::AtLeastOnce {
                reason: guarantee::DROPPED_METADATA.to_string(),
            });
        }
        Ok(prepared)
    }
}
