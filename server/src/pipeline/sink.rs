//! One view of a Kafka table: its SELECT over a block (in DataFusion, or in
//! the embedded ClickHouse engine: `engine_view`), the result cast to the
//! destination's types, and one insert per block.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use catalog::{KafkaTableDef, ViewDef, ViewEngine};
use planner::ViewPlan;

use super::decode::Parsing;
use super::engine_view::{EngineView, Shape, OUTPUT_FORMAT};
use super::guarantee::Guarantee;
use crate::backend::{describe_table, BackendSession, InsertFormat};
use crate::error::{codes, ChError};
use crate::session::SessionState;
use catalog::quote;

/// A view's output for one block, in the backend's insert format.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub format: &'static str,
    pub data: Vec<u8>,
    pub rows: usize,
}

/// What runs a view's SELECT over a block.
enum Runner {
    DataFusion {
        plan: ViewPlan,
        /// The destination's schema for what the view produces, in its order.
        target: SchemaRef,
        format: InsertFormat,
    },
    ClickHouse(EngineView),
}

/// A view ready to write blocks.
pub struct ViewSink {
    pub view: ViewDef,
    runner: Runner,
    insert_sql: String,
    /// `(a, b, ...)`: the destination columns the view fills.
    columns_sql: String,
    /// Whether the destination drops replayed blocks (`guarantee`); until
    /// checked, at least once.
    pub guarantee: Guarantee,
}

impl ViewSink {
    /// Plans the view in the engine the catalog says runs it and checks it
    /// against its destination's columns.
    pub async fn prepare(
        view: &ViewDef,
        table: &KafkaTableDef,
        source: SchemaRef,
        session: &mut dyn BackendSession,
        format: InsertFormat,
        parsing: &Arc<Parsing>,
    ) -> Result<ViewSink, ChError> {
        if view.engine == ViewEngine::ClickHouse {
            let stream_errors = source.field_with_name("_error").is_ok();
            return Self::in_engine(view, table, stream_errors, session, parsing).await;
        }
        let plan = ViewPlan::over(
            &view.select_sql,
            &table.name.database,
            &table.name.name,
            source,
        )
        .await
        .map_err(|e| ChError::new(e.code, e.message))?;
        Self::with_plan(view, plan, session, format).await
    }

    /// Prepares the view to run in the embedded ClickHouse engine over
    /// blocks of `table` (with its error columns when `stream_errors`),
    /// checked against its destination's columns.
    pub async fn in_engine(
        view: &ViewDef,
        table: &KafkaTableDef,
        stream_errors: bool,
        session: &mut dyn BackendSession,
        parsing: &Arc<Parsing>,
    ) -> Result<ViewSink, ChError> {
        let destination =
            describe_table(session, &view.destination.database, &view.destination.name).await?;
        let runner = EngineView::prepare(
            Shape {
                select_sql: &view.select_sql,
                table,
                stream_errors,
                destination: &destination,
                destination_name: &view.destination.to_string(),
            },
            parsing,
        )
        .await?;
        let columns = runner.columns.clone();
        Ok(Self::with_runner(
            view,
            Runner::ClickHouse(runner),
            &columns,
        ))
    }

    fn with_runner(view: &ViewDef, runner: Runner, columns: &[String]) -> ViewSink {
        let columns: Vec<String> = columns.iter().map(|n| quote::identifier(n)).collect();
        let columns_sql = format!("({})", columns.join(", "));
        let insert_sql = format!(
            "INSERT INTO {}.{} {columns_sql}",
            quote::identifier(&view.destination.database),
            quote::identifier(&view.destination.name),
        );
        ViewSink {
            view: view.clone(),
            runner,
            insert_sql,
            columns_sql,
            guarantee: Guarantee::AtLeastOnce {
                reason: "not checked yet".to_string(),
            },
        }
    }

    /// Checks a planned view against its destination's columns.
    pub async fn with_plan(
        view: &ViewDef,
        plan: ViewPlan,
        session: &mut dyn BackendSession,
        format: InsertFormat,
    ) -> Result<ViewSink, ChError> {
        let destination =
            describe_table(session, &view.destination.database, &view.destination.name).await?;
        let matched = planner::match_destination(
            &plan.output_schema(),
            &destination,
            &view.destination.to_string(),
        )
        .map_err(|e| ChError::new(e.code, e.message))?;
        let target = Arc::new(Schema::new(
            matched
                .iter()
                .map(|(name, ty)| Field::new(name, ty.clone(), true))
                .collect::<Vec<_>>(),
        ));
        let columns: Vec<String> = matched.iter().map(|(n, _)| n.clone()).collect();
        Ok(Self::with_runner(
            view,
            Runner::DataFusion {
                plan,
                target,
                format,
            },
            &columns,
        ))
    }

    /// `(a, b, ...)`: the destination columns the view fills, for inserting
    /// its output elsewhere (a staging table with the destination's shape).
    pub fn columns_sql(&self) -> &str {
        &self.columns_sql
    }

    /// Runs the view over `block` and inserts the result; returns what was
    /// inserted (`None` when the view produced no rows), its data only when
    /// asked to `keep` it (else empty: not copied). `token` is the
    /// block's deduplication token, sent when the destination deduplicates:
    /// a replay of the block is then dropped by ClickHouse.
    pub async fn write(
        &self,
        block: &RecordBatch,
        session: &mut dyn BackendSession,
        token: &str,
        keep: bool,
    ) -> Result<Option<Encoded>, ChError> {
        let started = std::time::Instant::now();
        let Some(mut encoded) = self.encode(block).await? else {
            return Ok(None);
        };
        let encode_ms = started.elapsed().as_secs_f64() * 1e3;
        // The destination is named with its database: the default session
        // state and the token are all an insert needs.
        let mut state = SessionState::new("default");
        if self.guarantee == Guarantee::ExactlyOnce {
            state
                .settings
                .insert("insert_deduplicate".to_string(), "1".to_string());
            state
                .settings
                .insert("insert_deduplication_token".to_string(), token.to_string());
        }
        let inserting = std::time::Instant::now();
        let data = if keep {
            encoded.data.clone()
        } else {
            std::mem::take(&mut encoded.data)
        };
        let bytes = data.len();
        session
            .insert(&self.insert_sql, encoded.format, data, &state)
            .await?;
        tracing::debug!(view = %self.view.name, rows = encoded.rows, bytes, encode_ms, insert_ms = inserting.elapsed().as_secs_f64() * 1e3, "view output inserted");
        Ok(Some(encoded))
    }

    /// The view's output for `block`, cast to the destination's types and
    /// encoded for the backend.
    async fn encode(&self, block: &RecordBatch) -> Result<Option<Encoded>, ChError> {
        let (plan, target, format) = match &self.runner {
            Runner::DataFusion {
                plan,
                target,
                format,
            } => (plan, target, format),
            Runner::ClickHouse(engine) => {
                let (data, rows) = engine.run(block).await.map_err(|e| {
                    ChError::new(e.code, format!("view {}: {}", self.view.name, e.message))
                })?;
                return Ok((rows > 0).then_some(Encoded {
                    format: OUTPUT_FORMAT,
                    data,
                    rows,
                }));
            }
        };
        let out = plan
            .run(block.clone())
            .await
            .map_err(|e| ChError::new(e.code, format!("view {}: {}", self.view.name, e.message)))?;
        let rows: usize = out.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(None);
        }
        let batch = concat_batches(&plan.output_schema(), &out).map_err(internal)?;
        let columns = batch
            .columns()
            .iter()
            .zip(target.fields())
            .map(|(array, field)| cast(array, field.data_type()))
            .collect::<Result<Vec<ArrayRef>, _>>()
            .map_err(|e| {
                ChError::new(
                    codes::CANNOT_CONVERT_TYPE,
                    format!("view {}: {e}", self.view.name),
                )
            })?;
        let batch = RecordBatch::try_new(target.clone(), columns).map_err(internal)?;
        let (format, data) = encode_batch(&batch, *format)?;
        Ok(Some(Encoded { format, data, rows }))
    }
}

/// `batch` in the backend's insert `format`: its name and bytes.
pub fn encode_batch(
    batch: &RecordBatch,
    format: InsertFormat,
) -> Result<(&'static str, Vec<u8>), ChError> {
    Ok(match format {
        InsertFormat::ArrowStream => ("ArrowStream", arrow_stream(batch)?),
        InsertFormat::JsonEachRow => ("JSONEachRow", json_rows(batch)?),
    })
}

fn arrow_stream(batch: &RecordBatch) -> Result<Vec<u8>, ChError> {
    let mut out = Vec::new();
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).map_err(internal)?;
    writer.write(batch).map_err(internal)?;
    writer.finish().map_err(internal)?;
    drop(writer);
    Ok(out)
}

/// JSON for servers without Arrow input: timestamps go as Unix seconds,
/// which every ClickHouse version reads into DateTime.
fn json_rows(batch: &RecordBatch) -> Result<Vec<u8>, ChError> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        match field.data_type() {
            DataType::Timestamp(unit, _) => {
                let seconds = match unit {
                    TimeUnit::Second => cast(array, &DataType::Int64).map_err(internal)?,
                    _ => cast(
                        &cast(array, &DataType::Timestamp(TimeUnit::Second, None))
                            .map_err(internal)?,
                        &DataType::Int64,
                    )
                    .map_err(internal)?,
                };
                fields.push(Field::new(field.name(), DataType::Int64, true));
                columns.push(seconds);
            }
            _ => {
                fields.push(field.as_ref().clone());
                columns.push(array.clone());
            }
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)?;
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    writer.write(&batch).map_err(internal)?;
    writer.finish().map_err(internal)?;
    Ok(writer.into_inner())
}

fn internal(e: impl std::fmt::Display) -> ChError {
    ChError::new(codes::UNKNOWN_EXCEPTION, e.to_string())
}
