//! A Kafka table's engine settings: ClickHouse's names, defaults and checks
//! (src/Storages/Kafka/KafkaSettings), and the virtual columns its rows carry.
//!
//! This file holds the error every check returns and ClickHouse's codes for
//! it; `settings` merges and resolves the settings, `formats` knows the
//! input formats and the columns they can fill, `secrets` what is never
//! shown. Uses only the catalog's types.

mod formats;
mod secrets;
mod settings;

pub use formats::{check_columns, error_columns, virtual_columns, SUPPORTED_FORMATS};
pub use secrets::{without_url_password, SECRET_SETTINGS};
pub use settings::{
    merge_collection_settings, merge_engine_settings, ErrorMode, KafkaSettings, POSITIONAL,
};

/// What is wrong with a Kafka table's settings; `code` is ClickHouse's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    pub code: i32,
    pub message: String,
}

impl SettingsError {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

const UNKNOWN_SETTING: i32 = 115;
const BAD_ARGUMENTS: i32 = 36;
const NUMBER_OF_ARGUMENTS_DOESNT_MATCH: i32 = 42;
const UNKNOWN_FORMAT: i32 = 73;
const ILLEGAL_COLUMN: i32 = 44;
