//! ClickHouse's errors for Kafka statements: the catalog's and the settings'
//! failures as ClickHouse codes and texts. Uses the catalog and errors only.

use catalog::QualifiedName;

use crate::error::{codes, ChError};

pub(super) fn already_exists(name: &QualifiedName) -> ChError {
    ChError::new(
        codes::TABLE_ALREADY_EXISTS,
        format!("Table {name} already exists. (TABLE_ALREADY_EXISTS)"),
    )
}

pub(super) fn unknown_table(name: &QualifiedName, what: &str) -> ChError {
    ChError::new(
        codes::UNKNOWN_TABLE,
        format!("{what} {name} does not exist. (UNKNOWN_TABLE)"),
    )
}

pub(super) fn settings_error(e: catalog::kafka::SettingsError) -> ChError {
    ChError::new(e.code, e.message)
}

pub(super) fn catalog_error(e: catalog::CatalogError) -> ChError {
    match e {
        catalog::CatalogError::AlreadyExists(name) => already_exists(&name),
        catalog::CatalogError::NotFound(name) => unknown_table(&name, "Table"),
        catalog::CatalogError::NoCollection(name) => no_collection(&name),
        catalog::CatalogError::CollectionExists(name) => ChError::new(
            codes::NAMED_COLLECTION_ALREADY_EXISTS,
            format!(
                "A named collection `{name}` already exists. (NAMED_COLLECTION_ALREADY_EXISTS)"
            ),
        ),
        e @ catalog::CatalogError::CollectionInUse { .. } => ChError::new(
            codes::NAMED_COLLECTION_IS_USED,
            format!("{e}. (NAMED_COLLECTION_IS_USED)"),
        ),
        e @ catalog::CatalogError::Sealing(_) => {
            ChError::new(codes::BAD_ARGUMENTS, format!("{e}. (BAD_ARGUMENTS)"))
        }
        other => ChError::new(codes::UNKNOWN_EXCEPTION, other.to_string()),
    }
}

pub(super) fn no_collection(name: &str) -> ChError {
    ChError::new(
        codes::NAMED_COLLECTION_DOESNT_EXIST,
        format!("There is no named collection `{name}`. (NAMED_COLLECTION_DOESNT_EXIST)"),
    )
}
