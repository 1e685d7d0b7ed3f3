//! Merging a Kafka table's settings (engine arguments, a named collection,
//! SETTINGS) into one map, and resolving that map into [`KafkaSettings`] with
//! ClickHouse's defaults and checks.
//!
//! Uses the formats list (to refuse a format at CREATE time) and the
//! module's [`SettingsError`] and codes.

use std::collections::BTreeMap;

use super::formats::SUPPORTED_FORMATS;
use super::{
    SettingsError, BAD_ARGUMENTS, NUMBER_OF_ARGUMENTS_DOESNT_MATCH, UNKNOWN_FORMAT, UNKNOWN_SETTING,
};

/// The engine's positional arguments, in ClickHouse's order:
/// `Kafka(broker_list, topic_list, group_name, format[, row_delimiter, schema,
/// num_consumers, max_block_size, skip_broken_messages, commit_every_batch,
/// client_id, max_rows_per_message])`.
pub const POSITIONAL: [&str; 12] = [
    "kafka_broker_list",
    "kafka_topic_list",
    "kafka_group_name",
    "kafka_format",
    "kafka_row_delimiter",
    "kafka_schema",
    "kafka_num_consumers",
    "kafka_max_block_size",
    "kafka_skip_broken_messages",
    "kafka_commit_every_batch",
    "kafka_client_id",
    "kafka_max_rows_per_message",
];

/// Every `kafka_*` setting ClickHouse knows.
const KNOWN: [&str; 27] = [
    "kafka_broker_list",
    "kafka_topic_list",
    "kafka_group_name",
    "kafka_format",
    "kafka_schema",
    "kafka_num_consumers",
    "kafka_max_block_size",
    "kafka_skip_broken_messages",
    "kafka_commit_every_batch",
    "kafka_client_id",
    "kafka_poll_timeout_ms",
    "kafka_poll_max_batch_size",
    "kafka_consumers_pool_ttl_ms",
    "kafka_flush_interval_ms",
    "kafka_thread_per_consumer",
    "kafka_handle_error_mode",
    "kafka_commit_on_select",
    "kafka_max_rows_per_message",
    "kafka_keeper_path",
    "kafka_replica_name",
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_row_delimiter",
    "kafka_named_collection",
    "kafka_auto_offset_reset",
];

/// kafkahouse's own Kafka table settings.
const OWN: [&str; 1] = [
    // What one consumer holds of messages read and not yet written.
    "kafkahouse_max_consumer_bytes",
];

/// Default of `kafkahouse_max_consumer_bytes`, and the least it may be (a
/// consumer must hold at least a few fetches to make blocks of them).
pub const DEFAULT_MAX_CONSUMER_BYTES: u64 = 64 << 20;
const MIN_MAX_CONSUMER_BYTES: u64 = 1 << 20;

/// ClickHouse's defaults for the `0 = inherit` settings.
const MAX_INSERT_BLOCK_SIZE: u64 = 1_048_576;
const STREAM_FLUSH_INTERVAL_MS: u64 = 7_500;
const STREAM_POLL_TIMEOUT_MS: u64 = 500;
const MAX_BLOCK_SIZE: u64 = 65_409;

/// Merges positional engine arguments and SETTINGS into one map by name,
/// rejecting unknown names and a setting given twice.
pub fn merge_engine_settings(
    args: &[String],
    settings: &[(String, String)],
) -> Result<BTreeMap<String, String>, SettingsError> {
    if args.len() > POSITIONAL.len() {
        return Err(SettingsError::new(
            NUMBER_OF_ARGUMENTS_DOESNT_MATCH,
            format!(
                "Storage Kafka takes at most {} arguments, got {}",
                POSITIONAL.len(),
                args.len()
            ),
        ));
    }
    let mut map = BTreeMap::new();
    for (name, value) in POSITIONAL.iter().zip(args) {
        map.insert(name.to_string(), value.clone());
    }
    for (name, value) in settings {
        if !is_known(name) {
            return Err(SettingsError::new(
                UNKNOWN_SETTING,
                format!("Unknown setting '{name}' for storage Kafka"),
            ));
        }
        if map.insert(name.clone(), value.clone()).is_some() {
            return Err(SettingsError::new(
                BAD_ARGUMENTS,
                format!("Setting '{name}' is given both as an engine argument and in SETTINGS"),
            ));
        }
    }
    Ok(map)
}

/// Settings of `ENGINE = Kafka(collection, overrides...) SETTINGS ...`, as
/// ClickHouse reads them: the collection's keys that are Kafka settings
/// (others are for other engines and ignored), then the overrides given with
/// it, then SETTINGS, each later one winning.
pub fn merge_collection_settings(
    collection: &BTreeMap<String, String>,
    overrides: &[(String, String)],
    settings: &[(String, String)],
) -> Result<BTreeMap<String, String>, SettingsError> {
    let mut map: BTreeMap<String, String> = collection
        .iter()
        .filter(|(k, _)| is_known(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, value) in overrides.iter().chain(settings) {
        if !is_known(name) {
            return Err(SettingsError::new(
                UNKNOWN_SETTING,
                format!("Unknown setting '{name}' for storage Kafka"),
            ));
        }
        map.insert(name.clone(), value.clone());
    }
    Ok(map)
}

/// A `kafka_*` name ClickHouse knows, or a format setting (which ClickHouse
/// also accepts on a Kafka table and applies to parsing).
fn is_known(name: &str) -> bool {
    // Format settings reach the parser's SQL: names are plain identifiers.
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain
        && (KNOWN.contains(&name)
            || OWN.contains(&name)
            || ["input_format_", "output_format_", "format_", "date_time_"]
                .iter()
                .any(|p| name.starts_with(p)))
}

/// Resolved settings with ClickHouse's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    pub broker_list: String,
    pub topics: Vec<String>,
    pub group_name: String,
    pub format: String,
    pub schema: String,
    pub num_consumers: u64,
    /// Rows per block, per consumer.
    pub max_block_size: u64,
    pub skip_broken_messages: u64,
    pub commit_every_batch: bool,
    pub client_id: String,
    pub poll_timeout_ms: u64,
    pub poll_max_batch_size: u64,
    pub flush_interval_ms: u64,
    pub thread_per_consumer: bool,
    pub handle_error_mode: String,
    pub commit_on_select: bool,
    pub max_rows_per_message: u64,
    pub security_protocol: String,
    pub sasl_mechanism: String,
    pub sasl_username: String,
    pub sasl_password: String,
    /// Format settings (`input_format_skip_unknown_fields`, ...).
    pub format_settings: BTreeMap<String, String>,
    /// Payload bytes one consumer holds, read and not yet written.
    pub max_consumer_bytes: u64,
}

impl KafkaSettings {
    /// Checks a merged settings map and fills in defaults.
    pub fn resolve(map: &BTreeMap<String, String>) -> Result<KafkaSettings, SettingsError> {
        let required = |name: &str| -> Result<String, SettingsError> {
            match map.get(name) {
                Some(v) if !v.is_empty() => Ok(v.clone()),
                _ => Err(SettingsError::new(
                    BAD_ARGUMENTS,
                    format!("Required setting '{name}' for storage Kafka is not specified"),
                )),
            }
        };
        let text = |name: &str| map.get(name).cloned().unwrap_or_default();
        let number = |name: &str, default: u64| -> Result<u64, SettingsError> {
            match map.get(name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().map_err(|_| {
                    SettingsError::new(
                        BAD_ARGUMENTS,
                        format!("Setting '{name}' must be a non-negative integer, got '{v}'"),
                    )
                }),
            }
        };
        let flag = |name: &str| -> Result<bool, SettingsError> {
            match map.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("0") | Some("false") => Ok(false),
                Some("1") | Some("true") => Ok(true),
                Some(v) => Err(SettingsError::new(
                    BAD_ARGUMENTS,
                    format!("Setting '{name}' must be 0 or 1, got '{v}'"),
                )),
            }
        };

        let broker_list = required("kafka_broker_list")?;
        let topics: Vec<String> = required("kafka_topic_list")?
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        let group_name = required("kafka_group_name")?;
        let format = required("kafka_format")?;
        if !SUPPORTED_FORMATS.contains(&format.as_str()) {
            return Err(SettingsError::new(
                UNKNOWN_FORMAT,
                format!(
                    "Format {format} is not supported for Kafka tables by this kafkahouse build (supported: {})",
                    SUPPORTED_FORMATS.join(", ")
                ),
            ));
        }
        if format.starts_with("Protobuf") && text("kafka_schema").is_empty() {
            return Err(SettingsError::new(
                BAD_ARGUMENTS,
                format!("The format {format} requires a schema. The corresponding setting should be set: kafka_schema = 'file.proto:MessageType'"),
            ));
        }
        let num_consumers = number("kafka_num_consumers", 1)?;
        if num_consumers == 0 {
            return Err(SettingsError::new(
                BAD_ARGUMENTS,
                "kafka_num_consumers must be at least 1",
            ));
        }
        let max_block_size = match number("kafka_max_block_size", 0)? {
            0 => (MAX_INSERT_BLOCK_SIZE / num_consumers).max(1),
            n => n,
        };
        let max_consumer_bytes =
            number("kafkahouse_max_consumer_bytes", DEFAULT_MAX_CONSUMER_BYTES)?;
        if max_consumer_bytes < MIN_MAX_CONSUMER_BYTES {
            return Err(SettingsError::new(
                BAD_ARGUMENTS,
                format!("kafkahouse_max_consumer_bytes must be at least {MIN_MAX_CONSUMER_BYTES} (1 MiB), got {max_consumer_bytes}"),
            ));
        }
        let handle_error_mode = map
            .get("kafka_handle_error_mode")
            .cloned()
            .unwrap_or_else(|| "default".to_string());
        if !ERROR_MODES.contains(&handle_error_mode.as_str()) {
            return Err(SettingsError::new(
                BAD_ARGUMENTS,
                format!(
                    "Unexpected value of StreamingHandleErrorMode: '{handle_error_mode}' (expected one of: {})",
                    ERROR_MODES.join(", ")
                ),
            ));
        }
        let format_settings = map
            .iter()
            .filter(|(k, _)| !k.starts_with("kafka_") && !OWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(KafkaSettings {
            broker_list,
            topics,
            group_name,
            format,
            schema: text("kafka_schema"),
            num_consumers,
            max_block_size,
            skip_broken_messages: number("kafka_skip_broken_messages", 0)?,
            commit_every_batch: flag("kafka_commit_every_batch")?,
            client_id: text("kafka_client_id"),
            poll_timeout_ms: match number("kafka_poll_timeout_ms", 0)? {
                0 => STREAM_POLL_TIMEOUT_MS,
                n => n,
            },
            poll_max_batch_size: match number("kafka_poll_max_batch_size", 0)? {
                0 => MAX_BLOCK_SIZE,
                n => n,
            },
            flush_interval_ms: match number("kafka_flush_interval_ms", 0)? {
                0 => STREAM_FLUSH_INTERVAL_MS,
                n => n,
            },
            thread_per_consumer: flag("kafka_thread_per_consumer")?,
            handle_error_mode,
            commit_on_select: flag("kafka_commit_on_select")?,
            max_rows_per_message: number("kafka_max_rows_per_message", 1)?,
            security_protocol: text("kafka_security_protocol"),
            sasl_mechanism: text("kafka_sasl_mechanism"),
            sasl_username: text("kafka_sasl_username"),
            sasl_password: text("kafka_sasl_password"),
            format_settings,
            max_consumer_bytes,
        })
    }
}

impl KafkaSettings {
    /// What happens to messages that cannot be parsed. ClickHouse applies
    /// `kafka_skip_broken_messages` in the default mode only.
    pub fn error_mode(&self) -> ErrorMode {
        match self.handle_error_mode.as_str() {
            "stream" => ErrorMode::Stream,
            "dead_letter_queue" => ErrorMode::DeadLetterQueue,
            _ if self.skip_broken_messages > 0 => ErrorMode::Skip(self.skip_broken_messages),
            _ => ErrorMode::Default,
        }
    }
}

/// What happens to a message that cannot be parsed
/// (`kafka_skip_broken_messages`, `kafka_handle_error_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorMode {
    /// The block fails and is retried; nothing past it is committed.
    Default,
    /// Up to N broken messages per block are left out.
    Skip(u64),
    /// A broken message becomes a row of defaults with `_error` and `_raw_message`.
    Stream,
    /// Broken messages go to `system.dead_letter_queue`.
    DeadLetterQueue,
}

/// Error modes ClickHouse accepts.
const ERROR_MODES: [&str; 3] = ["default", "stream", "dead_letter_queue"];

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tutorial_arguments_and_defaults() {
        let map = merge_engine_settings(
            &args(&["kafka_host:9092", "github", "clickhouse", "JSONEachRow"]),
            &[
                ("kafka_thread_per_consumer".into(), "0".into()),
                ("kafka_num_consumers".into(), "1".into()),
            ],
        )
        .unwrap();
        let s = KafkaSettings::resolve(&map).unwrap();
        assert_eq!(s.broker_list, "kafka_host:9092");
        assert_eq!(s.topics, ["github"]);
        assert_eq!(s.group_name, "clickhouse");
        assert_eq!(s.max_block_size, 1_048_576);
        assert_eq!(s.flush_interval_ms, 7_500);
        assert_eq!(s.poll_timeout_ms, 500);
        assert_eq!(s.max_consumer_bytes, DEFAULT_MAX_CONSUMER_BYTES);
        assert!(!s.thread_per_consumer);
    }

    #[test]
    fn settings_form_topic_lists_and_format_settings() {
        let map = merge_engine_settings(
            &[],
            &[
                ("kafka_broker_list".into(), "a:1,b:2".into()),
                ("kafka_topic_list".into(), "t1, t2".into()),
                ("kafka_group_name".into(), "g".into()),
                ("kafka_format".into(), "JSONEachRow".into()),
                ("kafka_num_consumers".into(), "4".into()),
                ("input_format_skip_unknown_fields".into(), "1".into()),
            ],
        )
        .unwrap();
        let s = KafkaSettings::resolve(&map).unwrap();
        assert_eq!(s.topics, ["t1", "t2"]);
        assert_eq!(s.max_block_size, 1_048_576 / 4);
        assert_eq!(
            s.format_settings
                .get("input_format_skip_unknown_fields")
                .map(String::as_str),
            Some("1")
        );
    }

    #[test]
    fn bad_settings_are_clickhouse_errors() {
        let unknown =
            merge_engine_settings(&[], &[("kafka_bogus".into(), "1".into())]).unwrap_err();
        assert_eq!(unknown.code, 115);
        let odd = merge_engine_settings(&[], &[("format_x = 1, max_threads".into(), "1".into())])
            .unwrap_err();
        assert_eq!(odd.code, 115);
        let twice = merge_engine_settings(
            &args(&["b:1"]),
            &[("kafka_broker_list".into(), "c:2".into())],
        )
        .unwrap_err();
        assert_eq!(twice.code, 36);
        let too_many = merge_engine_settings(&vec!["x".to_string(); 13], &[]).unwrap_err();
        assert_eq!(too_many.code, 42);

        let missing = merge_engine_settings(&args(&["b:1", "t"]), &[]).unwrap();
        let e = KafkaSettings::resolve(&missing).unwrap_err();
        assert_eq!(e.code, 36);
        assert!(e.message.contains("kafka_group_name"), "{e}");

        let not_number = merge_engine_settings(
            &args(&["b:1", "t", "g", "JSONEachRow"]),
            &[("kafka_max_block_size".into(), "lots".into())],
        )
        .unwrap();
        assert_eq!(KafkaSettings::resolve(&not_number).unwrap_err().code, 36);

        let odd = merge_engine_settings(&args(&["b:1", "t", "g", "Pretty"]), &[]).unwrap();
        assert_eq!(KafkaSettings::resolve(&odd).unwrap_err().code, 73);
    }

    #[test]
    fn named_collection_then_overrides_then_settings() {
        let collection = BTreeMap::from([
            ("kafka_broker_list".to_string(), "b:9092".to_string()),
            ("kafka_topic_list".to_string(), "t".to_string()),
            ("kafka_group_name".to_string(), "g".to_string()),
            ("kafka_format".to_string(), "CSV".to_string()),
            ("url".to_string(), "for another engine".to_string()),
        ]);
        let map = merge_collection_settings(
            &collection,
            &[("kafka_format".into(), "JSONEachRow".into())],
            &[("kafka_group_name".into(), "g2".into())],
        )
        .unwrap();
        assert_eq!(
            map.get("kafka_format").map(String::as_str),
            Some("JSONEachRow")
        );
        assert_eq!(map.get("kafka_group_name").map(String::as_str), Some("g2"));
        assert!(!map.contains_key("url"));
        assert!(KafkaSettings::resolve(&map).is_ok());
        let e = merge_collection_settings(&collection, &[("nope".into(), "1".into())], &[])
            .unwrap_err();
        assert_eq!(e.code, UNKNOWN_SETTING);
    }

    #[test]
    fn the_consumer_budget_is_kafkahouses_own_setting() {
        let args: Vec<String> = ["b:9092", "t", "g", "JSONEachRow"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let budget = |v: &str| {
            let map =
                merge_engine_settings(&args, &[("kafkahouse_max_consumer_bytes".into(), v.into())])
                    .unwrap();
            KafkaSettings::resolve(&map)
        };
        let s = budget("8388608").unwrap();
        assert_eq!(s.max_consumer_bytes, 8 << 20);
        // Not a format setting: the parser never sees it.
        assert!(s.format_settings.is_empty());
        assert_eq!(budget("1048575").unwrap_err().code, BAD_ARGUMENTS);
        assert_eq!(budget("lots").unwrap_err().code, BAD_ARGUMENTS);
        // Other kafkahouse_ names are unknown, as in ClickHouse.
        let unknown = merge_engine_settings(&args, &[("kafkahouse_other".into(), "1".into())]);
        assert_eq!(unknown.unwrap_err().code, UNKNOWN_SETTING);
    }
}
