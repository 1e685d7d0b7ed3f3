//! kafkahouse's planner: reads ClickHouse SQL and decides what each statement
//! is. It never touches sockets or backends; frontends hand it text and act
//! on what it returns.

pub mod cut;
pub use cut::insert_format_end;
pub mod ddl;
pub mod engine_sql;
pub mod exact;
pub mod functions;
pub mod placeholders;
pub mod split;
mod spellings;
pub mod ternary;
pub mod tokens;
pub mod view;

/// ClickHouse's quoting of names and values (kept in the catalog crate,
/// which the type names need too).
pub use catalog::quote;

pub use ddl::{
    parse_create_kafka_table, parse_create_materialized_view, parse_named_collection,
    ColumnExpression, CreateKafkaTable, CreateView, DdlError, NamedCollectionStatement,
};
pub use split::{
    insert_target_span, split, statements, table_references, without_output_format, InsertFormat,
    Kind, ObjectName, Setting, Statement, MAX_QUERY_SIZE,
};
pub use placeholders::{bind_placeholders, placeholder_count};
pub use view::{match_destination, source_schema, ViewError, ViewPlan};
