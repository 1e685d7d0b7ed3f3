//! kafkahouse's planner: reads ClickHouse SQL and decides what each statement
//! is. It never touches sockets or backends; frontends hand it text and act
//! on what it returns.

pub mod ddl;
pub mod functions;
pub mod split;
pub mod tokens;
pub mod view;

pub use ddl::{
    parse_create_kafka_table, parse_create_materialized_view, parse_named_collection,
    CreateKafkaTable, CreateView, DdlError, NamedCollectionStatement,
};
pub use split::{
    bind_placeholders, insert_target_span, placeholder_count, split, table_references,
    without_output_format, Kind, ObjectName, Setting, Statement,
};
pub use view::{match_destination, source_schema, ViewError, ViewPlan};
