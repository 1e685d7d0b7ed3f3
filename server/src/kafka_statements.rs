//! Statements about Kafka tables and their views: kafkahouse answers these
//! from its catalog instead of the backend (which has no Kafka tables).

use catalog::kafka::{
    check_columns, merge_collection_settings, merge_engine_settings, KafkaSettings,
};
use catalog::{ChType, ColumnDef, Definition, KafkaTableDef, QualifiedName, ViewDef};
use planner::{quote, Kind, Statement};

use crate::backend::RESULT_FORMAT;
use crate::error::{codes, ChError};
use crate::executor::ClientSession;
use crate::result::{done, typed_result, Outcome, ResultColumn, ResultSet};
use crate::pipeline::producing;
use crate::pipeline::sink::ViewSink;

impl ClientSession {
    /// Handles `statement` when it is about a Kafka table or one of its
    /// views; `None` means it is the backend's business.
    pub(crate) async fn kafka_statement(
        &mut self,
        statement: &Statement<'_>,
    ) -> Result<Option<Outcome>, ChError> {
        let outcome = match &statement.kind {
            Kind::CreateKafkaTable => Some(self.create_kafka_table(statement.sql).await?),
            Kind::NamedCollection => Some(self.named_collection(statement.sql)?),
            Kind::SyncKafka {
                name,
                timeout_seconds,
                replica,
            } => {
                if *replica && self.kafka_table(&self.qualify(name)).is_none() {
                    None
                } else {
                    Some(self.sync_kafka(name, *timeout_seconds).await?)
                }
            }
            Kind::CreateMaterializedView => self.create_view(statement.sql).await?,
            Kind::Drop { name, .. } => {
                let name = self.qualify(name);
                match self.catalog.get(&name) {
                    Some(definition) => {
                        self.catalog.remove(&name).map_err(catalog_error)?;
                        self.pipelines.reconcile().await;
                        tracing::info!(name = %name, "dropped");
                        Some(done(
                            match definition {
                                Definition::KafkaTable(_) => "DROP TABLE",
                                Definition::View(_) => "DROP VIEW",
                            },
                            None,
                        ))
                    }
                    None => None,
                }
            }
            Kind::Detach { name, .. } => self.set_attached(&self.qualify(name), false).await?,
            Kind::Attach { name, .. } => self.set_attached(&self.qualify(name), true).await?,
            Kind::Describe { name } => self
                .kafka_table(&self.qualify(name))
                .map(|table| describe(&table)),
            Kind::Exists { name } => self
                .catalog
                .get(&self.qualify(name))
                .map(|_| single("result", ChType::UInt8, "1")),
            Kind::ShowCreate { name } => match self.catalog.get(&self.qualify(name)) {
                Some(Definition::KafkaTable(table)) => {
                    Some(single("statement", ChType::String, &table.show_create()))
                }
                Some(Definition::View(view)) => Some(single(
                    "statement",
                    ChType::String,
                    &format!(
                        "CREATE MATERIALIZED VIEW {} TO {}\nAS {}",
                        view.name, view.destination, view.select_sql
                    ),
                )),
                None => None,
            },
            Kind::Query { tables, format } => {
                if let Some(table) = tables
                    .iter()
                    .find_map(|t| self.kafka_table(&self.qualify(t)))
                {
                    if !self.direct_select_allowed(statement.sql) {
                        return Err(ChError::new(
                            codes::QUERY_NOT_ALLOWED,
                            "Direct select is not allowed. To enable use setting `stream_like_engine_allow_direct_select`. (QUERY_NOT_ALLOWED)",
                        ));
                    }
                    if tables.len() > 1 {
                        return Err(ChError::new(
                            codes::NOT_IMPLEMENTED,
                            "A direct SELECT reads one Kafka table and nothing else",
                        ));
                    }
                    let settings = table.settings().map_err(settings_error)?;
                    let batches = crate::pipeline::direct_select::run(
                        &table,
                        &settings,
                        statement.sql,
                        self.pipelines.parsing(),
                    )
                    .await?;
                    return Ok(Some(Outcome::Rows(crate::system_tables::to_result(
                        &batches,
                    )?)));
                }
                if crate::system_tables::reads_kafka_consumers(tables) {
                    // A FORMAT clause is applied by the frontend's rendering.
                    let _ = format;
                    let result = crate::system_tables::query_kafka_consumers(
                        planner::without_output_format(statement.sql),
                        self.pipelines.consumers(),
                    )
                    .await?;
                    return Ok(Some(Outcome::Rows(result)));
                }
                None
            }
            Kind::Insert { table: Some(t) } => {
                let name = self.qualify(t);
                match self.kafka_table(&name) {
                    Some(table) => Some(self.insert_into_kafka(statement.sql, &table).await?),
                    None => {
                        let views = self.producing_views(&name);
                        if views.is_empty() {
                            None
                        } else {
                            Some(
                                self.insert_firing_views(statement.sql, &name, &views)
                                    .await?,
                            )
                        }
                    }
                }
            }
            Kind::ShowTables { database } => {
                // ClickHouse lists Kafka tables and views with the others.
                let out = self.forward(statement.sql, RESULT_FORMAT).await?;
                let mut result = typed_result(&out.body)?;
                let database = database
                    .clone()
                    .unwrap_or_else(|| self.state.database.clone());
                for definition in self.catalog.list() {
                    if definition.name().database == database {
                        result.rows.push(vec![Some(definition.name().name.clone())]);
                    }
                }
                result.rows.sort();
                Some(Outcome::Rows(result))
            }
            Kind::DropDatabase { database } => {
                // The backend drops its tables; the catalog drops ours after it.
                self.forward(statement.sql, RESULT_FORMAT).await?;
                for definition in self.catalog.list() {
                    if &definition.name().database == database {
                        self.catalog
                            .remove(definition.name())
                            .map_err(catalog_error)?;
                    }
                }
                self.pipelines.reconcile().await;
                Some(done("DROP DATABASE", None))
            }
            _ => None,
        };
        Ok(outcome)
    }

    fn kafka_table(&self, name: &QualifiedName) -> Option<KafkaTableDef> {
        match self.catalog.get(name) {
            Some(Definition::KafkaTable(t)) => Some(t),
            _ => None,
        }
    }

    /// `stream_like_engine_allow_direct_select = 1` in the session (SET) or
    /// in the query's own SETTINGS.
    fn direct_select_allowed(&self, sql: &str) -> bool {
        const SETTING: &str = "stream_like_engine_allow_direct_select";
        let on = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
        if self.state.settings.get(SETTING).is_some_and(|v| on(v)) {
            return true;
        }
        let tokens = planner::tokens::significant(sql);
        tokens.windows(3).any(|w| {
            w[0].name() == Some(SETTING)
                && w[1].token == sqlparser::tokenizer::Token::Eq
                && matches!(&w[2].token, sqlparser::tokenizer::Token::Number(n, _) if on(n))
        })
    }

    async fn create_kafka_table(&mut self, sql: &str) -> Result<Outcome, ChError> {
        let ddl = planner::parse_create_kafka_table(sql)
            .map_err(|e| ChError::new(codes::SYNTAX_ERROR, e.to_string()))?;
        let name = self.qualify(&ddl.name);
        if self.catalog.get(&name).is_some() || self.backend_has_table(&name).await? {
            if ddl.if_not_exists {
                return Ok(done("CREATE TABLE", None));
            }
            return Err(already_exists(&name));
        }
        self.check_database(&name.database).await?;

        let mut columns = Vec::with_capacity(ddl.columns.len());
        for (column, type_text) in &ddl.columns {
            if columns.iter().any(|c: &ColumnDef| &c.name == column) {
                return Err(ChError::new(
                    codes::DUPLICATE_COLUMN,
                    format!("Column {column} is specified more than once"),
                ));
            }
            let ty = ChType::parse(type_text)
                .map_err(|e| {
                    let code = if e.too_deep {
                        codes::TOO_DEEP_RECURSION
                    } else {
                        codes::UNKNOWN_TYPE
                    };
                    ChError::new(code, e.to_string())
                })?;
            columns.push(ColumnDef {
                name: column.clone(),
                ty,
            });
        }
        let pairs: Vec<(String, String)> = ddl
            .settings
            .iter()
            .map(|s| (s.name.clone(), s.value.clone()))
            .collect();
        let settings = match &ddl.collection {
            Some((collection, overrides)) => {
                // Read once, when the table is created (see the README).
                let params = self
                    .catalog
                    .collection(collection)
                    .ok_or_else(|| no_collection(collection))?
                    .params;
                let overrides: Vec<(String, String)> = overrides
                    .iter()
                    .map(|s| (s.name.clone(), s.value.clone()))
                    .collect();
                merge_collection_settings(&params, &overrides, &pairs)
            }
            None => merge_engine_settings(&ddl.engine_args, &pairs),
        }
        .map_err(settings_error)?;
        let resolved = KafkaSettings::resolve(&settings).map_err(settings_error)?;
        let typed: Vec<(&str, &ChType)> =
            columns.iter().map(|c| (c.name.as_str(), &c.ty)).collect();
        check_columns(&resolved.format, &typed).map_err(settings_error)?;
        self.catalog
            .create(Definition::KafkaTable(KafkaTableDef {
                name: name.clone(),
                columns,
                settings,
                attached: true,
            }))
            .map_err(catalog_error)?;
        tracing::info!(table = %name, topics = ?resolved.topics, group = %resolved.group_name, "Kafka table created");
        self.pipelines.reconcile().await;
        Ok(done("CREATE TABLE", None))
    }

    /// `INSERT INTO kafka_table ...` (VALUES, FORMAT with data, SELECT):
    /// produced to the table's first topic (see `pipeline::producing`).
    /// Success means the broker acknowledged every message.
    async fn insert_into_kafka(
        &mut self,
        sql: &str,
        table: &KafkaTableDef,
    ) -> Result<Outcome, ChError> {
        let span = insert_span(sql)?;
        let rows = producing::produce_insert(
            self.conn.as_mut(),
            &self.state,
            table,
            sql,
            span,
            self.pipelines.producers(),
        )
        .await?;
        Ok(done("INSERT", Some(rows as u64)))
    }

    /// `INSERT INTO t ...` where views `TO` Kafka tables read `t`: the rows
    /// are staged, inserted into `t` from the stage, and the views run over
    /// the stage, so they see exactly the rows `t` received.
    async fn insert_firing_views(
        &mut self,
        sql: &str,
        target: &QualifiedName,
        views: &[producing::ProducingView],
    ) -> Result<Outcome, ChError> {
        let span = insert_span(sql)?;
        let stage = producing::Stage::create(self.conn.as_mut(), &self.state, target).await?;
        let redirected = format!("{}{}{}", &sql[..span.start], stage.name, &sql[span.end..]);
        let inserted = async {
            let out = self.forward(&redirected, RESULT_FORMAT).await?;
            self.forward(
                &format!(
                    "INSERT INTO {} SELECT * FROM {}",
                    quote::qualified(&target.database, &target.name),
                    stage.name
                ),
                RESULT_FORMAT,
            )
            .await?;
            Ok(out.written_rows)
        }
        .await;
        let rows = match inserted {
            Ok(rows) => rows,
            Err(e) => {
                // Nothing reached `t`: nothing to fire; the stage goes.
                stage.drop(self.conn.as_mut(), &self.state).await;
                return Err(e);
            }
        };
        stage
            .fire_and_drop(
                self.conn.as_mut(),
                &self.state,
                target,
                views,
                self.pipelines.producers(),
            )
            .await?;
        Ok(done("INSERT", rows))
    }

    /// Whether kafkahouse itself runs INSERTs into `table` (a Kafka table,
    /// or the source of views into Kafka tables) instead of the backend.
    pub(crate) fn handles_inserts_into(&self, table: &planner::ObjectName) -> bool {
        let name = self.qualify(table);
        self.kafka_table(&name).is_some() || !self.producing_views(&name).is_empty()
    }

    /// The columns an INSERT into `table` fills, with their types: the
    /// Kafka table's own, or the backend table's insertable ones; `listed`
    /// (the INSERT's column list) picks and orders them.
    pub(crate) async fn insert_columns(
        &mut self,
        table: &planner::ObjectName,
        listed: &[String],
    ) -> Result<Vec<(String, ChType)>, ChError> {
        let name = self.qualify(table);
        let all: Vec<(String, ChType)> = match self.kafka_table(&name) {
            Some(t) => t.columns.into_iter().map(|c| (c.name, c.ty)).collect(),
            None => {
                crate::backend::describe_table(self.conn.as_mut(), &name.database, &name.name)
                    .await?
            }
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
    fn producing_views(&self, source: &QualifiedName) -> Vec<producing::ProducingView> {
        catalog::consumption::producing_views(&self.catalog.list(), source)
    }

    /// `SYSTEM SYNC KAFKA q [TIMEOUT n]`: returns once every message in the
    /// table's topics as of the call is inserted through every view and
    /// committed; `Code: 159` when that takes longer than the timeout.
    async fn sync_kafka(
        &mut self,
        name: &planner::ObjectName,
        timeout_seconds: Option<u64>,
    ) -> Result<Outcome, ChError> {
        let name = self.qualify(name);
        let table = self.kafka_table(&name).ok_or_else(|| {
            ChError::new(
                codes::UNKNOWN_TABLE,
                format!("Kafka table {name} does not exist. (UNKNOWN_TABLE)"),
            )
        })?;
        if !self.pipelines.is_consuming(&name).await {
            let why = if table.attached {
                "has no materialized view reading it"
            } else {
                "is detached"
            };
            return Err(ChError::new(
                codes::BAD_ARGUMENTS,
                format!("SYSTEM SYNC KAFKA {name}: the table {why}, so nothing consumes it"),
            ));
        }
        let settings = table.settings().map_err(settings_error)?;
        let timeout =
            std::time::Duration::from_secs(timeout_seconds.unwrap_or(SYNC_TIMEOUT_SECONDS));
        let pipelines = self.pipelines.clone();
        crate::pipeline::sync::wait_caught_up(&name.to_string(), &settings, timeout, || {
            pipelines.last_exception(&name)
        })
        .await?;
        Ok(done("SYSTEM SYNC KAFKA", None))
    }

    /// `CREATE | ALTER | DROP NAMED COLLECTION`: kept in kafkahouse's catalog,
    /// for `ENGINE = Kafka(collection)`.
    fn named_collection(&mut self, sql: &str) -> Result<Outcome, ChError> {
        use planner::NamedCollectionStatement as S;
        let statement = planner::parse_named_collection(sql)
            .map_err(|e| ChError::new(codes::SYNTAX_ERROR, e.to_string()))?;
        let pairs = |settings: &[planner::Setting]| -> Vec<(String, String)> {
            settings
                .iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect()
        };
        match statement {
            S::Create {
                name,
                if_not_exists,
                params,
            } => {
                if if_not_exists && self.catalog.collection(&name).is_some() {
                    return Ok(done("CREATE NAMED COLLECTION", None));
                }
                self.catalog
                    .create_collection(catalog::NamedCollection {
                        name: name.clone(),
                        params: pairs(&params).into_iter().collect(),
                    })
                    .map_err(catalog_error)?;
                // Values may be secrets: only the keys are logged.
                let keys: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                tracing::info!(collection = %name, ?keys, "named collection created");
                Ok(done("CREATE NAMED COLLECTION", None))
            }
            S::Alter {
                name,
                if_exists,
                set,
                delete,
            } => {
                if if_exists && self.catalog.collection(&name).is_none() {
                    return Ok(done("ALTER NAMED COLLECTION", None));
                }
                self.catalog
                    .alter_collection(&name, &pairs(&set), &delete)
                    .map_err(catalog_error)?;
                tracing::info!(collection = %name, "named collection altered");
                Ok(done("ALTER NAMED COLLECTION", None))
            }
            S::Drop { name, if_exists } => {
                if if_exists && self.catalog.collection(&name).is_none() {
                    return Ok(done("DROP NAMED COLLECTION", None));
                }
                self.catalog.drop_collection(&name).map_err(catalog_error)?;
                tracing::info!(collection = %name, "named collection dropped");
                Ok(done("DROP NAMED COLLECTION", None))
            }
        }
    }

    /// A view over a Kafka table is kafkahouse's; any other goes to the
    /// backend (`None`).
    async fn create_view(&mut self, sql: &str) -> Result<Option<Outcome>, ChError> {
        let Ok(ddl) = planner::parse_create_materialized_view(sql) else {
            return Ok(None);
        };
        let source = match planner::split(&ddl.select_sql).first().map(|s| &s.kind) {
            Some(Kind::Query { tables, .. }) => tables.first().map(|t| self.qualify(t)),
            _ => None,
        };
        let source_table = source.as_ref().and_then(|s| self.kafka_table(s));
        let destination_table = ddl
            .to
            .as_ref()
            .and_then(|to| self.kafka_table(&self.qualify(to)));
        if source_table.is_none() && destination_table.is_none() {
            return Ok(None);
        }
        let Some(to) = &ddl.to else {
            return Err(ChError::new(
                codes::NOT_IMPLEMENTED,
                "A materialized view reading a Kafka table needs TO <table>: kafkahouse stores no data itself",
            ));
        };
        let name = self.qualify(&ddl.name);
        if self.catalog.get(&name).is_some() || self.backend_has_table(&name).await? {
            if ddl.if_not_exists {
                return Ok(Some(done("CREATE MATERIALIZED VIEW", None)));
            }
            return Err(already_exists(&name));
        }
        // ClickHouse ignores a FORMAT clause at the end of a view's SELECT
        // (the tutorial's github_out_mv has one).
        let select_sql = planner::without_output_format(&ddl.select_sql).to_string();
        let view = match (source_table, destination_table) {
            (Some(table), None) => {
                let view = ViewDef {
                    name: name.clone(),
                    source: table.name.clone(),
                    destination: self.qualify(to),
                    select_sql,
                };
                // Plans the SELECT and checks it against the destination's
                // columns exactly as the pipeline will, so mistakes show up here.
                let format = self.backend.insert_format();
                let stream_errors = table.settings().map_err(settings_error)?.error_mode()
                    == catalog::kafka::ErrorMode::Stream;
                let source = planner::source_schema(&table.columns, stream_errors);
                ViewSink::prepare(&view, &table, source, self.conn.as_mut(), format).await?;
                view
            }
            (None, Some(table)) => {
                let Some(source) = source else {
                    return Err(ChError::new(
                        codes::NOT_IMPLEMENTED,
                        "A view into a Kafka table must read a table (SELECT ... FROM t)",
                    ));
                };
                producing::check_producing_view(
                    self.conn.as_mut(),
                    &self.state,
                    &select_sql,
                    &table,
                )
                .await?;
                ViewDef {
                    name: name.clone(),
                    source,
                    destination: table.name.clone(),
                    select_sql,
                }
            }
            _ => {
                return Err(ChError::new(
                    codes::NOT_IMPLEMENTED,
                    "A materialized view from a Kafka table into a Kafka table is not supported yet: go through a table",
                ))
            }
        };
        let source = view.source.clone();
        self.catalog
            .create(Definition::View(view))
            .map_err(catalog_error)?;
        tracing::info!(view = %name, %source, "materialized view created");
        self.pipelines.reconcile().await;
        Ok(Some(done("CREATE MATERIALIZED VIEW", None)))
    }

    async fn set_attached(
        &mut self,
        name: &QualifiedName,
        attached: bool,
    ) -> Result<Option<Outcome>, ChError> {
        let Some(mut table) = self.kafka_table(name) else {
            return Ok(None);
        };
        let tag = if attached {
            "ATTACH TABLE"
        } else {
            "DETACH TABLE"
        };
        if table.attached != attached {
            table.attached = attached;
            self.catalog
                .replace(Definition::KafkaTable(table))
                .map_err(catalog_error)?;
            // On DETACH this returns once the consumers have finished (and
            // committed) the block they were writing.
            self.pipelines.reconcile().await;
            tracing::info!(table = %name, attached, "Kafka table {}", if attached { "attached" } else { "detached" });
        }
        Ok(Some(done(tag, None)))
    }

    async fn backend_has_table(&mut self, name: &QualifiedName) -> Result<bool, ChError> {
        let sql = format!(
            "EXISTS TABLE {}",
            quote::qualified(&name.database, &name.name)
        );
        let out = self.forward(&sql, "TabSeparated").await?;
        Ok(String::from_utf8_lossy(&out.body).trim() == "1")
    }

    async fn check_database(&mut self, database: &str) -> Result<(), ChError> {
        let sql = format!(
            "SELECT count() FROM system.databases WHERE name = {}",
            quote::string(database)
        );
        let out = self.forward(&sql, "TabSeparated").await?;
        if String::from_utf8_lossy(&out.body).trim() == "1" {
            Ok(())
        } else {
            Err(ChError::new(
                codes::UNKNOWN_DATABASE,
                format!("Database {database} does not exist. (UNKNOWN_DATABASE)"),
            ))
        }
    }
}

/// ClickHouse's DESCRIBE columns for a Kafka table.
fn describe(table: &KafkaTableDef) -> Outcome {
    let names = [
        "name",
        "type",
        "default_type",
        "default_expression",
        "comment",
        "codec_expression",
        "ttl_expression",
    ];
    let rows = table
        .columns
        .iter()
        .map(|c| {
            let mut row = vec![Some(c.name.clone()), Some(c.ty.to_string())];
            row.resize(names.len(), Some(String::new()));
            row
        })
        .collect();
    Outcome::Rows(ResultSet {
        columns: names
            .iter()
            .map(|n| ResultColumn {
                name: n.to_string(),
                ty: Some(ChType::String),
            })
            .collect(),
        rows,
    })
}

fn single(name: &str, ty: ChType, value: &str) -> Outcome {
    Outcome::Rows(ResultSet {
        columns: vec![ResultColumn {
            name: name.to_string(),
            ty: Some(ty),
        }],
        rows: vec![vec![Some(value.to_string())]],
    })
}

fn already_exists(name: &QualifiedName) -> ChError {
    ChError::new(
        codes::TABLE_ALREADY_EXISTS,
        format!("Table {name} already exists. (TABLE_ALREADY_EXISTS)"),
    )
}

fn settings_error(e: catalog::kafka::SettingsError) -> ChError {
    ChError::new(e.code, e.message)
}

fn catalog_error(e: catalog::CatalogError) -> ChError {
    match e {
        catalog::CatalogError::AlreadyExists(name) => already_exists(&name),
        catalog::CatalogError::NotFound(name) => ChError::new(
            codes::UNKNOWN_TABLE,
            format!("Table {name} does not exist. (UNKNOWN_TABLE)"),
        ),
        catalog::CatalogError::NoCollection(name) => no_collection(&name),
        catalog::CatalogError::CollectionExists(name) => ChError::new(
            codes::NAMED_COLLECTION_ALREADY_EXISTS,
            format!(
                "A named collection `{name}` already exists. (NAMED_COLLECTION_ALREADY_EXISTS)"
            ),
        ),
        other => ChError::new(codes::UNKNOWN_EXCEPTION, other.to_string()),
    }
}


/// `SYSTEM SYNC KAFKA` without TIMEOUT waits this long (ClickHouse's
/// `receive_timeout`, which bounds its own SYSTEM SYNC statements).
const SYNC_TIMEOUT_SECONDS: u64 = 300;

fn no_collection(name: &str) -> ChError {
    ChError::new(
        codes::NAMED_COLLECTION_DOESNT_EXIST,
        format!("There is no named collection `{name}`. (NAMED_COLLECTION_DOESNT_EXIST)"),
    )
}

/// Where an INSERT names its table.
fn insert_span(sql: &str) -> Result<std::ops::Range<usize>, ChError> {
    planner::insert_target_span(sql).ok_or_else(|| {
        ChError::new(
            codes::SYNTAX_ERROR,
            "Syntax error: cannot find the INSERT's table",
        )
    })
}
