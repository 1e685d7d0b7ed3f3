//! Payloads parsed by the embedded ClickHouse engine: every format, format
//! setting and type ClickHouse reads, with ClickHouse's own parser, handed
//! back as Arrow. A block is written to a scratch file and read with
//! `file(path, format, structure)`; the result comes back as an Arrow stream.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, concat_batches, take};

use catalog::kafka::KafkaSettings;
use catalog::{quote, ChType, ColumnDef};

use super::framing::Framing;
use super::{broken, message_of_row, Message, Parse, ParseFailure, Parsed};
use crate::chdb::Connection;
use crate::error::{codes, ChError};

/// Names each parser's scratch directory uniquely within the process.
static NEXT_PARSER: AtomicU64 = AtomicU64::new(0);

/// Parses with the embedded engine.
pub struct EngineParser {
    /// Connections to the engine: blocks are decoded two at a time (the
    /// next while the current one is inserted), each on its own.
    parsers: Vec<Mutex<Connection>>,
    format: String,
    framing: Framing,
    columns: Vec<ColumnDef>,
    /// `expr AS name, ...`: each column in a type whose Arrow form is the
    /// one `ChType::to_arrow` gives.
    select: String,
    /// The table's columns for `file()`.
    structure: String,
    /// ` SETTINGS ...`: Arrow strings, the table's format settings, its
    /// schema.
    settings: String,
    scratch: PathBuf,
    /// Names each parse's files: blocks may be decoded concurrently.
    next_file: AtomicU64,
}

impl EngineParser {
    pub fn new(
        parsers: Vec<Connection>,
        columns: &[ColumnDef],
        settings: &KafkaSettings,
        parsing: &super::Parsing,
    ) -> Result<EngineParser, ChError> {
        let schema_path = &parsing.schema_path;
        let scratch = parsing.scratch.join(format!(
            "parser-{}",
            NEXT_PARSER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&scratch).map_err(|e| {
            ChError::new(
                codes::UNKNOWN_EXCEPTION,
                format!("Cannot create {}: {e}", scratch.display()),
            )
        })?;
        let select = columns
            .iter()
            .map(|c| {
                let name = quote::identifier(&c.name);
                let carried = transport(&c.ty);
                if carried == c.ty {
                    name
                } else {
                    format!(
                        "CAST({name}, {}) AS {name}",
                        quote::string(&carried.to_string())
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let structure = columns
            .iter()
            .map(|c| format!("{} {}", quote::identifier(&c.name), c.ty))
            .collect::<Vec<_>>()
            .join(", ");
        // Rows come back in input order (parallel parsing keeps it; rows
        // of separate files are put in order by `_file`).
        let mut pairs = vec![(
            "output_format_arrow_string_as_string".to_string(),
            "1".to_string(),
        )];
        pairs.extend(
            settings
                .format_settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        if !settings.schema.is_empty() {
            pairs.push((
                "format_schema".to_string(),
                schema_setting(&settings.schema, schema_path),
            ));
        }
        let settings_sql = pairs
            .iter()
            .map(|(k, v)| format!("{k} = {}", quote::setting_value(v)))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(EngineParser {
            parsers: parsers.into_iter().map(Mutex::new).collect(),
            format: settings.format.clone(),
            framing: Framing::of(&settings.format),
            columns: columns.to_vec(),
            select,
            structure,
            settings: format!(" SETTINGS {settings_sql}"),
            scratch,
            next_file: AtomicU64::new(0),
        })
    }

    /// Runs the engine over `path` (a file or a glob) and returns the rows,
    /// with `_file` first when `with_file`.
    fn run(&self, path: &Path, format: &str, with_file: bool) -> Result<RecordBatch, ChError> {
        let file = if with_file { "_file, " } else { "" };
        let sql = format!(
            "SELECT {file}{} FROM file({}, {}, {}){}",
            self.select,
            quote::string(&path.to_string_lossy()),
            quote::string(format),
            quote::string(&self.structure),
            self.settings
        );
        let started = std::time::Instant::now();
        let body = {
            // A free connection, else wait for the first.
            let parser = self
                .parsers
                .iter()
                .find_map(|p| p.try_lock().ok())
                .or_else(|| {
                    self.parsers
                        .first()
                        .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()))
                })
                .ok_or_else(|| {
                    ChError::new(
                        codes::UNKNOWN_EXCEPTION,
                        "no connection to the parsing engine",
                    )
                })?;
            parser.query(sql.as_bytes(), "ArrowStream")?.body
        };
        let queried = started.elapsed();
        let batch = read_arrow(&body);
        tracing::trace!(
            query_ms = queried.as_secs_f64() * 1e3,
            arrow_ms = (started.elapsed() - queried).as_secs_f64() * 1e3,
            bytes = body.len(),
            "engine parse"
        );
        batch
    }

    /// `e` without the scratch files the engine names ("(in file/uri
    /// /data/scratch/parser-0/block-3)"): the message is about the
    /// message, and kafkahouse's files are none of the user's business.
    fn without_paths(&self, mut e: ChError) -> ChError {
        let scratch = self.scratch.to_string_lossy();
        e.message = strip_paths(&e.message, &scratch);
        e
    }

    /// The engine's columns as `ChType::to_arrow` types them.
    fn to_parsed(&self, columns: &[ArrayRef], rows: Vec<usize>) -> Result<Parsed, ChError> {
        let columns = columns
            .iter()
            .zip(&self.columns)
            .map(|(array, column)| {
                cast(array, &column.ty.to_arrow()).map_err(|e| {
                    ChError::new(
                        codes::CANNOT_CONVERT_TYPE,
                        format!("column {}: {e}", column.name),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Parsed {
            columns,
            rows_per_message: rows,
        })
    }

    /// Each message as a file of its own, read in one query; rows are put
    /// back in message order by `_file`.
    fn parse_separately(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let dir = Scratch(self.scratch_path("messages"));
        self.parse_files(&dir.0, messages)
    }

    /// A path for one parse's files, unique among concurrent parses.
    fn scratch_path(&self, what: &str) -> PathBuf {
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        self.scratch.join(format!("{what}-{n}"))
    }

    fn parse_files(&self, dir: &Path, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let whole = |error: ChError| ParseFailure { index: None, error };
        std::fs::create_dir_all(dir).map_err(|e| whole(io_error(dir, e)))?;
        let mut any = false;
        for (i, m) in messages.iter().enumerate() {
            if m.payload.is_empty() {
                continue;
            }
            any = true;
            let path = dir.join(file_name(i));
            // A row format's last row ends with its line break, which a
            // message may leave out (TSKV requires it).
            let written =
                if matches!(self.framing, Framing::Lines { .. }) && !m.payload.ends_with(b"\n") {
                    let mut line = m.payload.clone();
                    line.push(b'\n');
                    std::fs::write(&path, line)
                } else {
                    std::fs::write(&path, &m.payload)
                };
            written.map_err(|e| whole(io_error(&path, e)))?;
        }
        if !any {
            return self
                .to_parsed(
                    &self.empty_columns().map_err(whole)?,
                    vec![0; messages.len()],
                )
                .map_err(whole);
        }
        let batch = self
            .run(&dir.join("*"), &self.format, true)
            .map_err(|error| ParseFailure {
                index: file_in_error(&error.message, dir),
                error,
            })?;
        // `_file` is the message's index: sort rows by it, stably.
        let files = batch.column(0).as_string::<i32>();
        let mut order: Vec<(usize, u32)> = Vec::with_capacity(files.len());
        let mut rows = vec![0; messages.len()];
        for row in 0..files.len() {
            let index = files
                .value(row)
                .parse::<usize>()
                .ok()
                .filter(|i| *i < messages.len())
                .ok_or_else(|| whole(broken(format!("unexpected file {}", files.value(row)))))?;
            rows[index] += 1;
            order.push((index, row as u32));
        }
        order.sort_by_key(|(index, _)| *index);
        let indices = UInt32Array::from_iter_values(order.into_iter().map(|(_, row)| row));
        let columns = batch.columns()[1..]
            .iter()
            .map(|c| take(c, &indices, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| whole(broken(e.to_string())))?;
        self.to_parsed(&columns, rows).map_err(whole)
    }

    /// Zero rows of every column, in the engine's types.
    fn empty_columns(&self) -> Result<Vec<ArrayRef>, ChError> {
        let path = Scratch(self.scratch_path("empty"));
        std::fs::write(&path.0, b"").map_err(|e| io_error(&path.0, e))?;
        // RowBinary reads an empty file as no rows, whatever the columns.
        let batch = self.run(&path.0, "RowBinary", false)?;
        Ok(batch.columns().to_vec())
    }
}

impl Parse for EngineParser {
    fn parse(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        // Errors name the scratch files until they have said which message
        // failed (`file_in_error`); what leaves the parser does not.
        self.parse_block(messages).map_err(|f| ParseFailure {
            index: f.index,
            error: self.without_paths(f.error),
        })
    }
}

impl EngineParser {
    fn parse_block(&self, messages: &[&Message]) -> Result<Parsed, ParseFailure> {
        let Some(joined) = self.framing.join(&self.format, messages) else {
            return self.parse_separately(messages);
        };
        let whole = |error: ChError| ParseFailure { index: None, error };
        if joined.data.is_empty() {
            return self
                .to_parsed(&self.empty_columns().map_err(whole)?, joined.rows)
                .map_err(whole);
        }
        let path = Scratch(self.scratch_path("block"));
        std::fs::write(&path.0, &joined.data).map_err(|e| whole(io_error(&path.0, e)))?;
        let batch = match self.run(&path.0, &joined.format, false) {
            Ok(batch) => batch,
            Err(error) => {
                let index =
                    row_in_error(&error.message).and_then(|row| message_of_row(&joined.rows, row));
                return Err(ParseFailure { index, error });
            }
        };
        if batch.num_rows() != joined.rows.iter().sum::<usize>() {
            // The rows did not fall where they were counted: ask per message.
            return self.parse_separately(messages);
        }
        self.to_parsed(batch.columns(), joined.rows).map_err(whole)
    }
}

impl Drop for EngineParser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// `text` without `(in file/uri <scratch>...)` and with any other path under
/// `scratch` as "the message".
fn strip_paths(text: &str, scratch: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(scratch) {
        let before = &rest[..at];
        let after = &rest[at + scratch.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == ')' || c == '\'' || c == ',' || c == ':')
            .unwrap_or(after.len());
        let opener = " (in file/uri ";
        match before.strip_suffix(opener.trim_start()) {
            Some(kept) if after[end..].starts_with(')') => {
                let kept = kept.strip_suffix(' ').unwrap_or(kept);
                out.push_str(kept);
                rest = &after[end + 1..];
                // "...: (in file/uri X): While" reads "...: While".
                if kept.ends_with(':') {
                    rest = rest.strip_prefix(':').unwrap_or(rest);
                }
            }
            _ => {
                out.push_str(before);
                out.push_str("the message");
                rest = &after[end..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A scratch file or directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The type a column travels in from the engine: one whose Arrow form is
/// what `ChType::to_arrow` gives (DateTime as a timestamp, enums by name,
/// 128-bit integers as text for an exact decimal).
fn transport(ty: &ChType) -> ChType {
    match ty {
        ChType::DateTime { timezone } => ChType::DateTime64 {
            precision: 0,
            timezone: timezone.clone(),
        },
        ChType::Enum8(_) | ChType::Enum16(_) | ChType::Int128 | ChType::UInt128 => ChType::String,
        ChType::LowCardinality(inner) => transport(inner),
        ChType::Nullable(inner) => ChType::Nullable(Box::new(transport(inner))),
        ChType::Array(inner) => ChType::Array(Box::new(transport(inner))),
        ChType::Map(key, value) => {
            ChType::Map(Box::new(transport(key)), Box::new(transport(value)))
        }
        ChType::Tuple(elements) => ChType::Tuple(
            elements
                .iter()
                .map(|(name, t)| (name.clone(), transport(t)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `kafka_schema = 'file.proto:Message'` with a relative file found under
/// the schema path, as ClickHouse's `format_schema_path`.
fn schema_setting(schema: &str, schema_path: &Path) -> String {
    match schema.split_once(':') {
        Some((file, message)) if !Path::new(file).is_absolute() => {
            format!("{}:{message}", schema_path.join(file).display())
        }
        _ => schema.to_string(),
    }
}

fn read_arrow(body: &[u8]) -> Result<RecordBatch, ChError> {
    let reader = arrow::ipc::reader::StreamReader::try_new(body, None).map_err(undecodable)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(undecodable)?;
    concat_batches(&schema, &batches).map_err(undecodable)
}

/// Arrow refuses what it cannot hold; a String that is not UTF-8 is the
/// usual case.
fn undecodable(e: arrow::error::ArrowError) -> ChError {
    broken(format!(
        "The parsed values cannot be held as Arrow (a String that is not valid UTF-8?): {e}"
    ))
}

/// ClickHouse's `(at row N)`, 1-based.
fn row_in_error(message: &str) -> Option<usize> {
    let rest = &message[message.find("(at row ")? + "(at row ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<usize>().ok()?.checked_sub(1)
}

/// ClickHouse's `(in file/uri DIR/NAME)`: the message NAME stands for.
fn file_in_error(message: &str, dir: &Path) -> Option<usize> {
    let prefix = format!("{}/", dir.display());
    let rest = &message[message.find(&prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn file_name(index: usize) -> String {
    format!("{index:08}")
}

fn io_error(path: &Path, e: std::io::Error) -> ChError {
    ChError::new(
        codes::UNKNOWN_EXCEPTION,
        format!("Cannot write {}: {e}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_rows_and_files() {
        let text = "Code: 27. DB::Exception: Cannot parse input: expected '\"' before: 'x\"}': (at row 3)\n: While executing File.";
        assert_eq!(row_in_error(text), Some(2));
        assert_eq!(message_of_row(&[1, 0, 2, 1], 2), Some(2));
        assert_eq!(message_of_row(&[1, 0, 2, 1], 4), None);
        let text =
            "Code: 27. DB::Exception: ...: (in file/uri /tmp/x/messages/00000012): While executing";
        assert_eq!(file_in_error(text, Path::new("/tmp/x/messages")), Some(12));
    }

    #[test]
    fn errors_leave_the_parser_without_scratch_paths() {
        let text = "Code: 27. DB::Exception: Cannot parse: (at row 1)\n: (in file/uri /d/scratch/parser-0/messages-3/00000012): While executing File. Also /d/scratch/parser-0/block-4, there.";
        assert_eq!(
            strip_paths(text, "/d/scratch/parser-0"),
            "Code: 27. DB::Exception: Cannot parse: (at row 1)\n: While executing File. Also the message, there."
        );
        assert_eq!(strip_paths("no paths", "/d/scratch"), "no paths");
    }

    #[test]
    fn transport_types() {
        let t = |s: &str| transport(&ChType::parse(s).unwrap()).to_string();
        assert_eq!(t("DateTime('UTC')"), "DateTime64(0, 'UTC')");
        assert_eq!(
            t("Map(LowCardinality(String), Array(Enum8('a' = 1)))"),
            "Map(String, Array(String))"
        );
        assert_eq!(t("Nullable(Int128)"), "Nullable(String)");
        assert_eq!(
            t("Tuple(a UInt8, b DateTime)"),
            "Tuple(a UInt8, b DateTime64(0))"
        );
    }

    #[test]
    fn schemas_are_found_under_the_schema_path() {
        let base = Path::new("/schemas");
        assert_eq!(schema_setting("m.proto:M", base), "/schemas/m.proto:M");
        assert_eq!(schema_setting("/abs/m.proto:M", base), "/abs/m.proto:M");
    }
}
