//! kafkahouse's catalog: what a Kafka table or a view is, in ClickHouse's
//! terms, and where those definitions are kept.

pub mod consumption;
pub mod error;
pub mod kafka;
pub mod quote;
pub mod sealing;
pub mod store;
pub mod types;
pub mod view_engine;

pub use store::{
    Catalog, CatalogError, CollectionUse, ColumnDef, Definition, KafkaTableDef, NamedCollection,
    QualifiedName,
    ViewDef,
};
pub use consumption::{Consumption, ProducingView};
pub use error::ChError;
pub use types::{ChType, TypeParseError};
pub use view_engine::ViewEngine;
