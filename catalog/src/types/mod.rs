//! ClickHouse column types: parsed from their SQL spelling into a model
//! (`parse.rs`), printed back in ClickHouse's canonical spelling, and mapped
//! to Arrow.

use std::fmt;
use std::str::FromStr;

use arrow_schema::{DataType, Field, Fields, TimeUnit};

mod parse;
#[cfg(test)]
mod tests;

/// A ClickHouse column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChType {
    Int8,
    Int16,
    Int32,
    Int64,
    Int128,
    Int256,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    UInt128,
    UInt256,
    Float32,
    Float64,
    /// `Decimal(P, S)`; `Decimal32(S)` and friends are normalised to this.
    Decimal {
        precision: u8,
        scale: u8,
    },
    Bool,
    String,
    FixedString(usize),
    Date,
    Date32,
    DateTime {
        timezone: Option<String>,
    },
    DateTime64 {
        precision: u8,
        timezone: Option<String>,
    },
    /// Enum8 values, in declaration order.
    Enum8(Vec<(String, i8)>),
    /// Enum16 values, in declaration order.
    Enum16(Vec<(String, i16)>),
    Uuid,
    IPv4,
    IPv6,
    LowCardinality(Box<ChType>),
    Nullable(Box<ChType>),
    Array(Box<ChType>),
    Map(Box<ChType>, Box<ChType>),
    /// Elements with their names when the tuple is named.
    Tuple(Vec<(Option<String>, ChType)>),
    /// The type of `NULL` literals: `Nullable(Nothing)`.
    Nothing,
}

/// How deeply types may nest (`Array(Array(...))`). ClickHouse's parser stops
/// at a depth of 1,000 of its own frames; every function over [`ChType`]
/// (printing, Arrow mapping, decoding) recurses once per level, so kafkahouse
/// keeps well below what a thread's stack holds. Nobody nests types this deep.
pub const MAX_TYPE_DEPTH: usize = 100;

/// The longest `FixedString(N)`: ClickHouse's own limit (0xFFFFFF).
pub const MAX_FIXED_STRING_LENGTH: usize = 0xFF_FFFF;

/// A type string that is not a ClickHouse type this model knows, or that
/// nests deeper than [`MAX_TYPE_DEPTH`] (`too_deep`: ClickHouse's
/// TOO_DEEP_RECURSION rather than UNKNOWN_TYPE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct TypeParseError {
    pub input: String,
    pub reason: String,
    pub too_deep: bool,
}

impl TypeParseError {
    fn message(&self) -> String {
        // A type nested thousands deep is as long as its nesting: name only its start.
        let input: String = self.input.chars().take(120).collect();
        let more = if input.len() < self.input.len() { "..." } else { "" };
        if self.too_deep {
            format!("Maximum parse depth ({MAX_TYPE_DEPTH}) exceeded in type {input}{more}")
        } else {
            format!("Unknown data type family or bad type: {input}{more} ({})", self.reason)
        }
    }
}

impl ChType {
    /// Parses a type as ClickHouse writes it, e.g. `Array(LowCardinality(String))`
    /// or the tutorial's `Enum('none' = 0, 'created' = 1)`.
    pub fn parse(input: &str) -> Result<ChType, TypeParseError> {
        parse::parse(input)
    }

    /// Whether a value of this type may be NULL.
    pub fn is_nullable(&self) -> bool {
        match self {
            ChType::Nullable(_) | ChType::Nothing => true,
            ChType::LowCardinality(inner) => inner.is_nullable(),
            _ => false,
        }
    }

    /// The type with `Nullable` and `LowCardinality` wrappers removed: what the
    /// values are, as opposed to how they are stored.
    pub fn value_type(&self) -> &ChType {
        match self {
            ChType::Nullable(inner) | ChType::LowCardinality(inner) => inner.value_type(),
            other => other,
        }
    }

    /// The Arrow type that carries values of this type. Nullability is carried by
    /// the field (see [`ChType::to_arrow_field`]); `LowCardinality` is a storage
    /// encoding and maps to its plain value type; enums travel as their names.
    pub fn to_arrow(&self) -> DataType {
        match self {
            ChType::Int8 => DataType::Int8,
            ChType::Int16 => DataType::Int16,
            ChType::Int32 => DataType::Int32,
            ChType::Int64 => DataType::Int64,
            ChType::UInt8 => DataType::UInt8,
            ChType::UInt16 => DataType::UInt16,
            ChType::UInt32 => DataType::UInt32,
            ChType::UInt64 => DataType::UInt64,
            // 128-bit integers have up to 39 digits: one more than Decimal128 holds.
            ChType::Int128 | ChType::UInt128 => DataType::Decimal256(39, 0),
            // 256-bit integers can exceed Decimal256's 76 digits: keep ClickHouse's
            // little-endian bytes.
            ChType::Int256 | ChType::UInt256 => DataType::FixedSizeBinary(32),
            ChType::Float32 => DataType::Float32,
            ChType::Float64 => DataType::Float64,
            ChType::Decimal { precision, scale } => {
                if *precision <= 38 {
                    DataType::Decimal128(*precision, *scale as i8)
                } else {
                    DataType::Decimal256(*precision, *scale as i8)
                }
            }
            ChType::Bool => DataType::Boolean,
            ChType::String => DataType::Utf8,
            ChType::FixedString(n) => DataType::FixedSizeBinary(*n as i32),
            ChType::Date | ChType::Date32 => DataType::Date32,
            ChType::DateTime { timezone } => {
                DataType::Timestamp(TimeUnit::Second, timezone.as_deref().map(Into::into))
            }
            ChType::DateTime64 {
                precision,
                timezone,
            } => {
                let unit = match precision {
                    0 => TimeUnit::Second,
                    1..=3 => TimeUnit::Millisecond,
                    4..=6 => TimeUnit::Microsecond,
                    _ => TimeUnit::Nanosecond,
                };
                DataType::Timestamp(unit, timezone.as_deref().map(Into::into))
            }
            ChType::Enum8(_) | ChType::Enum16(_) => DataType::Utf8,
            ChType::Uuid | ChType::IPv6 => DataType::FixedSizeBinary(16),
            ChType::IPv4 => DataType::UInt32,
            ChType::LowCardinality(inner) | ChType::Nullable(inner) => inner.to_arrow(),
            ChType::Array(inner) => DataType::List(inner.to_arrow_field("item").into()),
            ChType::Map(key, value) => {
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        key.to_arrow_field("key").with_nullable(false),
                        value.to_arrow_field("value"),
                    ])),
                    false,
                );
                DataType::Map(entries.into(), false)
            }
            ChType::Tuple(elements) => DataType::Struct(
                elements
                    .iter()
                    .enumerate()
                    .map(|(i, (name, ty))| {
                        let name = name.clone().unwrap_or_else(|| (i + 1).to_string());
                        ty.to_arrow_field(&name)
                    })
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ChType::Nothing => DataType::Null,
        }
    }

    /// An Arrow field named `name` for a column of this type.
    pub fn to_arrow_field(&self, name: &str) -> Field {
        Field::new(name, self.to_arrow(), self.is_nullable())
    }
}

impl fmt::Display for ChType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChType::Int8 => f.write_str("Int8"),
            ChType::Int16 => f.write_str("Int16"),
            ChType::Int32 => f.write_str("Int32"),
            ChType::Int64 => f.write_str("Int64"),
            ChType::Int128 => f.write_str("Int128"),
            ChType::Int256 => f.write_str("Int256"),
            ChType::UInt8 => f.write_str("UInt8"),
            ChType::UInt16 => f.write_str("UInt16"),
            ChType::UInt32 => f.write_str("UInt32"),
            ChType::UInt64 => f.write_str("UInt64"),
            ChType::UInt128 => f.write_str("UInt128"),
            ChType::UInt256 => f.write_str("UInt256"),
            ChType::Float32 => f.write_str("Float32"),
            ChType::Float64 => f.write_str("Float64"),
            ChType::Decimal { precision, scale } => write!(f, "Decimal({precision}, {scale})"),
            ChType::Bool => f.write_str("Bool"),
            ChType::String => f.write_str("String"),
            ChType::FixedString(n) => write!(f, "FixedString({n})"),
            ChType::Date => f.write_str("Date"),
            ChType::Date32 => f.write_str("Date32"),
            ChType::DateTime { timezone: None } => f.write_str("DateTime"),
            ChType::DateTime { timezone: Some(tz) } => {
                write!(f, "DateTime({})", crate::quote::string(tz))
            }
            ChType::DateTime64 {
                precision,
                timezone: None,
            } => write!(f, "DateTime64({precision})"),
            ChType::DateTime64 {
                precision,
                timezone: Some(tz),
            } => write!(f, "DateTime64({precision}, {})", crate::quote::string(tz)),
            ChType::Enum8(values) => write_enum(f, "Enum8", values),
            ChType::Enum16(values) => write_enum(f, "Enum16", values),
            ChType::Uuid => f.write_str("UUID"),
            ChType::IPv4 => f.write_str("IPv4"),
            ChType::IPv6 => f.write_str("IPv6"),
            ChType::LowCardinality(inner) => write!(f, "LowCardinality({inner})"),
            ChType::Nullable(inner) => write!(f, "Nullable({inner})"),
            ChType::Array(inner) => write!(f, "Array({inner})"),
            ChType::Map(key, value) => write!(f, "Map({key}, {value})"),
            ChType::Tuple(elements) => {
                f.write_str("Tuple(")?;
                for (i, (name, ty)) in elements.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match name {
                        Some(name) => write!(f, "{} {ty}", crate::quote::element_name(name))?,
                        None => write!(f, "{ty}")?,
                    }
                }
                f.write_str(")")
            }
            ChType::Nothing => f.write_str("Nothing"),
        }
    }
}

impl FromStr for ChType {
    type Err = TypeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChType::parse(s)
    }
}

// Persisted as its ClickHouse spelling, which is stable and readable.
impl serde::Serialize for ChType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ChType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChType::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn write_enum<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    family: &str,
    values: &[(String, T)],
) -> fmt::Result {
    write!(f, "{family}(")?;
    for (i, (name, value)) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{} = {value}", crate::quote::string(name))?;
    }
    f.write_str(")")
}

