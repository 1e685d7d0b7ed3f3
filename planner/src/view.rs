//! A materialized view's SELECT, planned once with DataFusion against the
//! Kafka table's columns and virtual columns, then run over every block.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use sqlparser::ast::{
    Expr, Ident, ObjectNamePart, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    Statement as SqlStatement,
};
use sqlparser::dialect::ClickHouseDialect;

use catalog::kafka::{error_columns, virtual_columns};
use catalog::{ChType, ColumnDef};

/// Why a view cannot be planned or run: ClickHouse's code and text.
pub type ViewError = catalog::ChError;

use catalog::error::codes::{
    CANNOT_CONVERT_TYPE, LOGICAL_ERROR, NO_SUCH_COLUMN_IN_TABLE, SYNTAX_ERROR, UNKNOWN_IDENTIFIER,
};

/// The schema a view reads: the table's columns, then its virtual columns
/// (with `_raw_message` and `_error` when the table streams parse errors).
pub fn source_schema(columns: &[ColumnDef], stream_errors: bool) -> SchemaRef {
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| c.ty.to_arrow_field(&c.name))
        .collect();
    fields.extend(
        virtual_columns()
            .iter()
            .map(|(name, ty)| ty.to_arrow_field(name)),
    );
    if stream_errors {
        fields.extend(
            error_columns()
                .iter()
                .map(|(name, ty)| ty.to_arrow_field(name)),
        );
    }
    Arc::new(Schema::new(fields))
}

/// The block the plan reads next; filled before each run.
#[derive(Debug, Default)]
struct BlockSlot(Mutex<Option<RecordBatch>>);

#[derive(Debug)]
struct SlotPartition {
    schema: SchemaRef,
    slot: Arc<BlockSlot>,
}

impl PartitionStream for SlotPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch = self.slot.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(batch.map(Ok)),
        ))
    }
}

/// A view's physical plan, built once and executed per block.
pub struct ViewPlan {
    plan: Arc<dyn ExecutionPlan>,
    slot: Arc<BlockSlot>,
    /// Held for a whole run: the slot holds one block, and a plan may read
    /// it after its first poll (a repartitioned aggregate), so callers
    /// writing blocks at the same time (write lanes) take turns here.
    running: futures::lock::Mutex<()>,
    task_ctx: Arc<TaskContext>,
}

impl std::fmt::Debug for ViewPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewPlan")
            .field("output", &self.plan.schema())
            .finish()
    }
}

impl ViewPlan {
    /// Plans `select_sql` against a Kafka table named `database.table` with
    /// `columns`. `SELECT *` means the table's own columns, as in ClickHouse.
    pub async fn new(
        select_sql: &str,
        database: &str,
        table: &str,
        columns: &[ColumnDef],
    ) -> Result<ViewPlan, ViewError> {
        Self::over(select_sql, database, table, source_schema(columns, false)).await
    }

    /// Plans `select_sql` over a Kafka table whose blocks have `schema`
    /// (from `source_schema`).
    pub async fn over(
        select_sql: &str,
        database: &str,
        table: &str,
        schema: SchemaRef,
    ) -> Result<ViewPlan, ViewError> {
        let statement = parse_select(select_sql)?;
        Self::plan(statement, database, table, schema).await
    }

    /// Plans a SELECT the planner has parsed already (`CreateView::select`:
    /// a view on its way from the client to the catalog is parsed once).
    pub async fn over_parsed(
        select: &Result<Box<SqlStatement>, String>,
        database: &str,
        table: &str,
        schema: SchemaRef,
    ) -> Result<ViewPlan, ViewError> {
        let statement = match select {
            Ok(statement) => statement.as_ref().clone(),
            Err(e) => return Err(syntax_error(e)),
        };
        Self::plan(statement, database, table, schema).await
    }

    async fn plan(
        statement: SqlStatement,
        database: &str,
        table: &str,
        schema: SchemaRef,
    ) -> Result<ViewPlan, ViewError> {
        let slot = Arc::new(BlockSlot::default());
        let partition = Arc::new(SlotPartition {
            schema: schema.clone(),
            slot: slot.clone(),
        });
        let provider = Arc::new(
            StreamingTable::try_new(schema.clone(), vec![partition])
                .map_err(|e| ViewError::new(LOGICAL_ERROR, e.to_string()))?,
        );

        // One partition: the plan is re-run per block, and a repartitioned
        // plan keeps state between runs.
        let mut config = SessionConfig::new()
            .with_target_partitions(1)
            .with_batch_size(65_536);
        config.options_mut().sql_parser.enable_ident_normalization = false;
        let ctx = SessionContext::new_with_config(config);
        crate::functions::register(&ctx);
        let internal =
            |e: datafusion::error::DataFusionError| ViewError::new(LOGICAL_ERROR, e.to_string());
        // Reachable as `table` and as `database.table`, names as written.
        ctx.register_table(TableReference::bare(table), provider.clone())
            .map_err(internal)?;
        if let Some(catalog) = ctx.catalog("datafusion") {
            catalog
                .register_schema(database, Arc::new(MemorySchemaProvider::new()))
                .map_err(internal)?;
            ctx.register_table(TableReference::partial(database, table), provider)
                .map_err(internal)?;
        }

        let virtual_names: Vec<&str> = virtual_columns()
            .iter()
            .chain(error_columns().iter())
            .map(|(n, _)| *n)
            .collect();
        let columns: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| !virtual_names.contains(n))
            .collect();
        let statement = expand_select(crate::spellings::rewrite(statement, &schema), &columns)?;
        let state = ctx.state();
        let logical = state
            .statement_to_plan(statement)
            .await
            .map_err(|e| plan_error(&e))?;
        let plan = state
            .create_physical_plan(&logical)
            .await
            .map_err(|e| plan_error(&e))?;
        Ok(ViewPlan {
            plan,
            slot,
            running: futures::lock::Mutex::new(()),
            task_ctx: ctx.task_ctx(),
        })
    }

    /// The columns the SELECT produces.
    pub fn output_schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    /// Runs the SELECT over one block; concurrent calls run one at a time.
    pub async fn run(&self, block: RecordBatch) -> Result<Vec<RecordBatch>, ViewError> {
        let _turn = self.running.lock().await;
        *self.slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(block);
        datafusion::physical_plan::collect(self.plan.clone(), self.task_ctx.clone())
            .await
            .map_err(|e| ViewError::new(LOGICAL_ERROR, e.to_string()))
    }
}

fn syntax_error(e: impl std::fmt::Display) -> ViewError {
    ViewError::new(
        SYNTAX_ERROR,
        format!("Syntax error in the view's SELECT: {e}"),
    )
}

/// Parses the SELECT's text (ClickHouse dialect).
fn parse_select(select_sql: &str) -> Result<SqlStatement, ViewError> {
    // ClickHouse's `c ? a : b`, which the SQL parser does not know.
    let rewritten = crate::ternary::rewrite(select_sql);
    let select_sql = rewritten.as_deref().unwrap_or(select_sql);
    let tokens = crate::tokens::significant(select_sql);
    if crate::tokens::nesting_depth(&tokens) > crate::tokens::MAX_SELECT_DEPTH {
        return Err(ViewError::new(
            catalog::error::codes::TOO_DEEP_RECURSION,
            crate::tokens::too_deep(),
        ));
    }
    let mut statements = DFParser::parse_sql_with_dialect(select_sql, &ClickHouseDialect {})
        .map_err(syntax_error)?;
    if statements.len() != 1 {
        return Err(ViewError::new(
            SYNTAX_ERROR,
            "A view has exactly one SELECT",
        ));
    }
    let Some(DfStatement::Statement(statement)) = statements.pop_front() else {
        return Err(ViewError::new(
            SYNTAX_ERROR,
            "A view's body must be a SELECT",
        ));
    };
    Ok(*statement)
}

/// Expands `*` to the table's own columns (the virtual ones left out, as
/// ClickHouse does) and `arrayJoin` to DataFusion's `unnest`.
fn expand_select(mut statement: SqlStatement, columns: &[&str]) -> Result<DfStatement, ViewError> {
    let SqlStatement::Query(query) = &mut statement else {
        return Err(ViewError::new(
            SYNTAX_ERROR,
            "A view's body must be a SELECT",
        ));
    };
    if let SetExpr::Select(select) = query.body.as_mut() {
        let mut projection = Vec::with_capacity(select.projection.len());
        for item in select.projection.drain(..) {
            match item {
                SelectItem::Wildcard(_) => projection.extend(columns.iter().map(|c| {
                    SelectItem::UnnamedExpr(Expr::Identifier(Ident::with_quote('"', *c)))
                })),
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(name),
                    _,
                ) => projection.extend(columns.iter().map(|c| {
                    let mut parts: Vec<Ident> = name
                        .0
                        .iter()
                        .filter_map(|p| match p {
                            ObjectNamePart::Identifier(i) => Some(i.clone()),
                            _ => None,
                        })
                        .collect();
                    parts.push(Ident::with_quote('"', *c));
                    SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts))
                })),
                SelectItem::UnnamedExpr(expr) => {
                    projection.push(SelectItem::UnnamedExpr(array_join(expr)))
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    projection.push(SelectItem::ExprWithAlias {
                        expr: array_join(expr),
                        alias,
                    })
                }
                other => projection.push(other),
            }
        }
        select.projection = projection;
    }
    Ok(DfStatement::Statement(Box::new(statement)))
}

/// `arrayJoin(x)` as a whole SELECT item is DataFusion's `unnest(x)`: one
/// row per element, the other columns repeated. (Nested inside another
/// expression it is left alone, and DataFusion reports it as unknown.)
fn array_join(expr: Expr) -> Expr {
    match expr {
        Expr::Function(mut f) if f.name.to_string().eq_ignore_ascii_case("arrayJoin") => {
            f.name = sqlparser::ast::ObjectName::from(vec![Ident::new("unnest")]);
            Expr::Function(f)
        }
        other => other,
    }
}

fn plan_error(e: &datafusion::error::DataFusionError) -> ViewError {
    let text = e.to_string();
    let code = if text.contains("not found") || text.contains("No field named") {
        UNKNOWN_IDENTIFIER
    } else {
        SYNTAX_ERROR
    };
    ViewError::new(code, format!("Cannot plan the view's SELECT: {text}"))
}

/// Matches a view's output to its destination's columns, by name as
/// ClickHouse does. Returns, per output column, the destination column and
/// the Arrow type to cast to.
pub fn match_destination(
    output: &Schema,
    destination: &[(String, ChType)],
    destination_name: &str,
) -> Result<Vec<(String, DataType)>, ViewError> {
    output
        .fields()
        .iter()
        .map(|field| {
            let (name, ty) = destination
                .iter()
                .find(|(name, _)| name == field.name())
                .ok_or_else(|| {
                    ViewError::new(
                        NO_SUCH_COLUMN_IN_TABLE,
                        format!(
                            "No such column {} in table {destination_name}: the view's SELECT produces it",
                            field.name()
                        ),
                    )
                })?;
            let target = ty.to_arrow();
            if !can_cast_types(field.data_type(), &target) {
                return Err(ViewError::new(
                    CANNOT_CONVERT_TYPE,
                    format!(
                        "Column {} of the view's SELECT has type {} which cannot be converted to {ty} of {destination_name}",
                        field.name(),
                        field.data_type()
                    ),
                ));
            }
            Ok((name.clone(), target))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, StringArray, UInt64Array};

    fn output_names(plan: &ViewPlan) -> Vec<String> {
        plan.output_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn columns() -> Vec<ColumnDef> {
        vec![
            ColumnDef {
                name: "repo_name".into(),
                ty: ChType::parse("LowCardinality(String)").unwrap(),
            },
            ColumnDef {
                name: "number".into(),
                ty: ChType::UInt32,
            },
        ]
    }

    fn block() -> RecordBatch {
        let schema = source_schema(&columns(), false);
        let rows = 3;
        let arrays: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "repo_name" => Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
                "_topic" => Arc::new(StringArray::from(vec!["github"; rows])) as ArrayRef,
                "_partition" => Arc::new(UInt64Array::from(vec![0, 1, 2])) as ArrayRef,
                _ => arrow::array::new_null_array(f.data_type(), rows),
            })
            .collect();
        // Test data: the null arrays stand for columns the test does not read.
        let nullable: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(nullable)), arrays).unwrap()
    }

    #[tokio::test]
    async fn star_means_the_tables_own_columns() {
        let plan = ViewPlan::new(
            "SELECT *, _topic AS topic, _partition as partition FROM github_queue",
            "KafkaEngine",
            "github_queue",
            &columns(),
        )
        .await
        .unwrap();
        let names = output_names(&plan);
        assert_eq!(names, ["repo_name", "number", "topic", "partition"]);
    }

    #[tokio::test]
    async fn the_plan_runs_again_for_each_block() {
        let plan = ViewPlan::new(
            "SELECT repo_name, _partition AS p FROM KafkaEngine.github_queue WHERE _partition > 0",
            "KafkaEngine",
            "github_queue",
            &columns(),
        )
        .await
        .unwrap();
        for _ in 0..3 {
            let out = plan.run(block()).await.unwrap();
            let rows: usize = out.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows, 2);
        }
    }

    #[tokio::test]
    async fn virtual_columns_with_dots_are_reachable_quoted() {
        let plan = ViewPlan::new(
            "SELECT \"_headers.name\" AS names, _key AS k, _timestamp_ms AS ts FROM q",
            "db",
            "q",
            &columns(),
        )
        .await
        .unwrap();
        let names = output_names(&plan);
        assert_eq!(names, ["names", "k", "ts"]);
    }

    #[tokio::test]
    async fn count_without_arguments_counts_rows_per_block() {
        let plan = ViewPlan::new("SELECT count() AS c FROM q", "db", "q", &columns())
            .await
            .unwrap();
        let out = plan.run(block()).await.unwrap();
        let c = out[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        assert_eq!(c.value(0), 3);
    }

    #[tokio::test]
    async fn dotted_virtual_columns_need_no_quotes() {
        let plan = ViewPlan::new(
            "SELECT _headers.name AS names, `_headers.value` AS values, q._offset AS o FROM q \
             WHERE _timestamp > 0",
            "db",
            "q",
            &columns(),
        )
        .await
        .unwrap();
        let names = output_names(&plan);
        assert_eq!(names, ["names", "values", "o"]);
        assert!(matches!(
            plan.output_schema().field(0).data_type(),
            DataType::List(_)
        ));
    }

    #[tokio::test]
    async fn array_join_gives_a_row_per_element() {
        let columns = vec![
            ColumnDef {
                name: "id".into(),
                ty: ChType::UInt32,
            },
            ColumnDef {
                name: "labels".into(),
                ty: ChType::parse("Array(String)").unwrap(),
            },
        ];
        let plan = ViewPlan::new(
            "SELECT id, arrayJoin(labels) AS label FROM q",
            "db",
            "q",
            &columns,
        )
        .await
        .unwrap();
        let schema = source_schema(&columns, false);
        let mut labels = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new())
            .with_field(Arc::new(Field::new("item", DataType::Utf8, false)));
        for row in [vec!["a", "b"], vec![], vec!["c"]] {
            for v in row {
                labels.values().append_value(v);
            }
            labels.append(true);
        }
        let arrays: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "id" => Arc::new(arrow::array::UInt32Array::from(vec![1, 2, 3])) as ArrayRef,
                "labels" => Arc::new(labels.finish()) as ArrayRef,
                _ => arrow::array::new_null_array(f.data_type(), 3),
            })
            .collect();
        let nullable: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let block = RecordBatch::try_new(Arc::new(Schema::new(nullable)), arrays).unwrap();
        let out = plan.run(block).await.unwrap();
        let out = arrow::compute::concat_batches(&plan.output_schema(), &out).unwrap();
        let labels = arrow::compute::cast(out.column(1), &DataType::Utf8).unwrap();
        let labels = labels.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(labels.iter().flatten().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn unknown_columns_fail_at_plan_time() {
        let e = ViewPlan::new(
            "SELECT nope FROM github_queue",
            "db",
            "github_queue",
            &columns(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, UNKNOWN_IDENTIFIER, "{e}");
    }

    #[test]
    fn destination_columns_are_matched_by_name_and_type() {
        let output = Schema::new(vec![
            Field::new("repo_name", DataType::Utf8, false),
            Field::new("partition", DataType::UInt64, false),
        ]);
        let dest = vec![
            (
                "repo_name".to_string(),
                ChType::parse("LowCardinality(String)").unwrap(),
            ),
            ("partition".to_string(), ChType::UInt64),
            ("extra".to_string(), ChType::String),
        ];
        let matched = match_destination(&output, &dest, "db.github").unwrap();
        assert_eq!(matched[1], ("partition".to_string(), DataType::UInt64));
        let missing = match_destination(&output, &dest[..1], "db.github").unwrap_err();
        assert_eq!(missing.code, NO_SUCH_COLUMN_IN_TABLE);
        let bad = vec![
            (
                "repo_name".to_string(),
                ChType::parse("Map(String, UInt8)").unwrap(),
            ),
            ("partition".to_string(), ChType::UInt64),
        ];
        assert_eq!(
            match_destination(&output, &bad, "db.github")
                .unwrap_err()
                .code,
            CANNOT_CONVERT_TYPE
        );
    }
}
