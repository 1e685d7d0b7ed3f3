//! A Kafka table's engine settings: ClickHouse's names, defaults and checks
//! (src/Storages/Kafka/KafkaSettings), and the virtual columns its rows carry.
//!
//! This file names the error every check returns (the catalog's `ChError`); `settings` merges and resolves the settings, `formats` knows the
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

/// What is wrong with a Kafka table's settings: ClickHouse's code and text.
pub type SettingsError = crate::error::ChError;

use crate::error::codes::{
    BAD_ARGUMENTS, ILLEGAL_COLUMN, NUMBER_OF_ARGUMENTS_DOESNT_MATCH, UNKNOWN_FORMAT, UNKNOWN_SETTING,
};
