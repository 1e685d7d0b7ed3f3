//! ClickHouse column types: parsed from their SQL spelling into a model,
//! printed back in ClickHouse's canonical spelling, and mapped to Arrow.

use std::fmt;
use std::str::FromStr;

use arrow_schema::{DataType, Field, Fields, TimeUnit};

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
        let mut parser = TypeParser {
            src: input,
            pos: 0,
            depth: 0,
            too_deep: false,
        };
        let ty = parser.parse_type().map_err(|reason| TypeParseError {
            input: input.to_string(),
            reason,
            too_deep: parser.too_deep,
        })?;
        parser.skip_ws();
        if parser.pos != input.len() {
            return Err(TypeParseError {
                input: input.to_string(),
                reason: format!("unexpected text at position {}", parser.pos),
                too_deep: false,
            });
        }
        Ok(ty)
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
                write!(f, "DateTime({})", quote(tz))
            }
            ChType::DateTime64 {
                precision,
                timezone: None,
            } => write!(f, "DateTime64({precision})"),
            ChType::DateTime64 {
                precision,
                timezone: Some(tz),
            } => write!(f, "DateTime64({precision}, {})", quote(tz)),
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
                        Some(name) => write!(f, "{} {ty}", element_name(name))?,
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
        write!(f, "{} = {value}", quote(name))?;
    }
    f.write_str(")")
}

/// A tuple element's name as the type parser reads it back: plain, or in
/// backquotes when it is empty or holds anything but letters, digits and `_`.
fn element_name(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        if matches!(c, '`' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('`');
    out
}

/// A ClickHouse single-quoted string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Recursive-descent parser over a type string. Type syntax is small and
/// sqlparser's ClickHouse support does not cover it (Enum values, named
/// tuples, DateTime64 time zones), so it gets its own.
struct TypeParser<'a> {
    src: &'a str,
    pos: usize,
    /// Types being parsed around the current one.
    depth: usize,
    /// Set when parsing stopped at [`MAX_TYPE_DEPTH`].
    too_deep: bool,
}

type PResult<T> = Result<T, String>;

impl<'a> TypeParser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> PResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{c}' at position {}", self.pos))
        }
    }

    fn ident(&mut self) -> PResult<String> {
        self.skip_ws();
        if let Some(q @ ('`' | '"')) = self.rest().chars().next() {
            // Backslash escapes and a doubled quote inside, as ClickHouse reads them.
            self.pos += 1;
            let mut name = String::new();
            let mut chars = self.rest().char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            name.push(escaped);
                        }
                    }
                    c if c == q && self.rest()[i + 1..].starts_with(q) => {
                        chars.next();
                        name.push(q);
                    }
                    c if c == q => {
                        self.pos += i + 1;
                        return Ok(name);
                    }
                    c => name.push(c),
                }
            }
            return Err("unterminated quoted name".to_string());
        }
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(format!("expected a name at position {}", self.pos));
        }
        let name = self.rest()[..len].to_string();
        self.pos += len;
        Ok(name)
    }

    fn string(&mut self) -> PResult<String> {
        self.skip_ws();
        if !self.rest().starts_with('\'') {
            return Err(format!("expected a string at position {}", self.pos));
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                }
                '\'' => {
                    // '' inside a literal is an escaped quote.
                    if self.rest()[i + 1..].starts_with('\'') {
                        chars.next();
                        out.push('\'');
                    } else {
                        self.pos += i + 1;
                        return Ok(out);
                    }
                }
                c => out.push(c),
            }
        }
        Err("unterminated string".to_string())
    }

    fn integer(&mut self) -> PResult<i64> {
        self.skip_ws();
        let rest = self.rest();
        let sign = usize::from(rest.starts_with('-') || rest.starts_with('+'));
        let digits = rest[sign..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - sign);
        if digits == 0 {
            return Err(format!("expected a number at position {}", self.pos));
        }
        let text = &rest[..sign + digits];
        self.pos += text.len();
        text.parse::<i64>().map_err(|e| e.to_string())
    }

    fn small<T: TryFrom<i64>>(&mut self, what: &str) -> PResult<T> {
        let n = self.integer()?;
        T::try_from(n).map_err(|_| format!("{what} {n} is out of range"))
    }

    fn inner(&mut self) -> PResult<Box<ChType>> {
        self.expect('(')?;
        let ty = self.parse_type()?;
        self.expect(')')?;
        Ok(Box::new(ty))
    }

    fn parse_type(&mut self) -> PResult<ChType> {
        if self.depth >= MAX_TYPE_DEPTH {
            self.too_deep = true;
            return Err(format!("types nest deeper than {MAX_TYPE_DEPTH}"));
        }
        self.depth += 1;
        let ty = self.parse_family();
        self.depth -= 1;
        ty
    }

    fn parse_family(&mut self) -> PResult<ChType> {
        let name = self.ident()?;
        // ClickHouse matches most families case-sensitively but accepts SQL
        // aliases in any case; both are handled here.
        let ty = match name.as_str() {
            "Int8" => ChType::Int8,
            "Int16" => ChType::Int16,
            "Int32" => ChType::Int32,
            "Int64" => ChType::Int64,
            "Int128" => ChType::Int128,
            "Int256" => ChType::Int256,
            "UInt8" => ChType::UInt8,
            "UInt16" => ChType::UInt16,
            "UInt32" => ChType::UInt32,
            "UInt64" => ChType::UInt64,
            "UInt128" => ChType::UInt128,
            "UInt256" => ChType::UInt256,
            "Float32" => ChType::Float32,
            "Float64" => ChType::Float64,
            "Bool" => ChType::Bool,
            "String" => ChType::String,
            "Date" => ChType::Date,
            "Date32" => ChType::Date32,
            "UUID" => ChType::Uuid,
            "IPv4" => ChType::IPv4,
            "IPv6" => ChType::IPv6,
            "Nothing" => ChType::Nothing,
            "FixedString" => {
                self.expect('(')?;
                let n: usize = self.small("FixedString length")?;
                self.expect(')')?;
                if n == 0 || n > MAX_FIXED_STRING_LENGTH {
                    return Err(format!(
                        "FixedString length must be between 1 and {MAX_FIXED_STRING_LENGTH}"
                    ));
                }
                ChType::FixedString(n)
            }
            "Decimal" => {
                self.expect('(')?;
                let precision: u8 = self.small("Decimal precision")?;
                let scale: u8 = if self.eat(',') {
                    self.small("Decimal scale")?
                } else {
                    0
                };
                self.expect(')')?;
                decimal(precision, scale)?
            }
            "Decimal32" | "Decimal64" | "Decimal128" | "Decimal256" => {
                self.expect('(')?;
                let scale: u8 = self.small("Decimal scale")?;
                self.expect(')')?;
                let precision = match name.as_str() {
                    "Decimal32" => 9,
                    "Decimal64" => 18,
                    "Decimal128" => 38,
                    _ => 76,
                };
                decimal(precision, scale)?
            }
            "DateTime" => {
                let timezone = if self.eat('(') {
                    let tz = self.string()?;
                    self.expect(')')?;
                    Some(tz)
                } else {
                    None
                };
                ChType::DateTime { timezone }
            }
            "DateTime64" => {
                self.expect('(')?;
                let precision: u8 = self.small("DateTime64 precision")?;
                if precision > 9 {
                    return Err(format!("DateTime64 precision {precision} is above 9"));
                }
                let timezone = if self.eat(',') {
                    Some(self.string()?)
                } else {
                    None
                };
                self.expect(')')?;
                ChType::DateTime64 {
                    precision,
                    timezone,
                }
            }
            "Enum" | "Enum8" | "Enum16" => self.parse_enum(&name)?,
            "LowCardinality" => ChType::LowCardinality(self.inner()?),
            "Nullable" => ChType::Nullable(self.inner()?),
            "Array" => ChType::Array(self.inner()?),
            "Map" => {
                self.expect('(')?;
                let key = self.parse_type()?;
                self.expect(',')?;
                let value = self.parse_type()?;
                self.expect(')')?;
                ChType::Map(Box::new(key), Box::new(value))
            }
            "Tuple" => self.parse_tuple()?,
            other => sql_alias(other).ok_or_else(|| format!("unknown type '{other}'"))?,
        };
        Ok(ty)
    }

    fn parse_enum(&mut self, family: &str) -> PResult<ChType> {
        self.expect('(')?;
        let mut names = Vec::new();
        loop {
            let name = self.string()?;
            let value = if self.eat('=') {
                Some(self.integer()?)
            } else {
                None
            };
            names.push((name, value));
            if !self.eat(',') {
                break;
            }
        }
        self.expect(')')?;
        // Values are all explicit or all implicit (then 1, 2, 3, ...).
        let explicit = names.iter().filter(|(_, v)| v.is_some()).count();
        if explicit != 0 && explicit != names.len() {
            return Err("enum values must be all explicit or all implicit".into());
        }
        let values: Vec<(String, i64)> = names
            .into_iter()
            .enumerate()
            .map(|(i, (name, v))| (name, v.unwrap_or(i as i64 + 1)))
            .collect();
        let fits_i8 = values.iter().all(|(_, v)| i8::try_from(*v).is_ok());
        let use_8 = match family {
            "Enum8" => true,
            "Enum16" => false,
            _ => fits_i8,
        };
        if use_8 {
            values
                .into_iter()
                .map(|(n, v)| {
                    i8::try_from(v)
                        .map(|v| (n, v))
                        .map_err(|_| format!("Enum8 value {v} is out of range"))
                })
                .collect::<PResult<Vec<_>>>()
                .map(ChType::Enum8)
        } else {
            values
                .into_iter()
                .map(|(n, v)| {
                    i16::try_from(v)
                        .map(|v| (n, v))
                        .map_err(|_| format!("Enum16 value {v} is out of range"))
                })
                .collect::<PResult<Vec<_>>>()
                .map(ChType::Enum16)
        }
    }

    fn parse_tuple(&mut self) -> PResult<ChType> {
        self.expect('(')?;
        let mut elements = Vec::new();
        loop {
            // A named element is `name Type`: a name followed by another name.
            let save = self.pos;
            let first = self.ident()?;
            self.skip_ws();
            let named = self
                .rest()
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '`' || c == '"');
            if named {
                elements.push((Some(first), self.parse_type()?));
            } else {
                self.pos = save;
                elements.push((None, self.parse_type()?));
            }
            if !self.eat(',') {
                break;
            }
        }
        self.expect(')')?;
        Ok(ChType::Tuple(elements))
    }
}

fn decimal(precision: u8, scale: u8) -> PResult<ChType> {
    if precision == 0 || precision > 76 {
        return Err(format!("Decimal precision {precision} is outside 1..76"));
    }
    if scale > precision {
        return Err(format!(
            "Decimal scale {scale} exceeds precision {precision}"
        ));
    }
    Ok(ChType::Decimal { precision, scale })
}

/// SQL-standard aliases ClickHouse accepts case-insensitively.
fn sql_alias(name: &str) -> Option<ChType> {
    Some(match name.to_ascii_uppercase().as_str() {
        "TINYINT" | "INT1" | "BYTE" => ChType::Int8,
        "SMALLINT" => ChType::Int16,
        "INT" | "INTEGER" => ChType::Int32,
        "BIGINT" => ChType::Int64,
        "FLOAT" | "REAL" => ChType::Float32,
        "DOUBLE" => ChType::Float64,
        "BOOLEAN" | "BOOL" => ChType::Bool,
        "TEXT" | "VARCHAR" | "CHAR" | "BLOB" | "STRING" => ChType::String,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &str, canonical: &str) {
        let ty = ChType::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(ty.to_string(), canonical, "canonical form of {input}");
        assert_eq!(
            ChType::parse(canonical).as_ref(),
            Ok(&ty),
            "reparse of {canonical}"
        );
    }

    #[test]
    fn scalar_types_keep_their_names() {
        for name in [
            "Int8", "Int16", "Int32", "Int64", "Int128", "Int256", "UInt8", "UInt16", "UInt32",
            "UInt64", "UInt128", "UInt256", "Float32", "Float64", "Bool", "String", "Date",
            "Date32", "DateTime", "UUID", "IPv4", "IPv6",
        ] {
            roundtrip(name, name);
        }
    }

    #[test]
    fn parameterised_types() {
        roundtrip("FixedString(16)", "FixedString(16)");
        roundtrip("Decimal(10,2)", "Decimal(10, 2)");
        roundtrip("Decimal32(4)", "Decimal(9, 4)");
        roundtrip("Decimal256(10)", "Decimal(76, 10)");
        roundtrip("DateTime('Europe/Moscow')", "DateTime('Europe/Moscow')");
        roundtrip("DateTime64(3)", "DateTime64(3)");
        roundtrip("DateTime64(6, 'UTC')", "DateTime64(6, 'UTC')");
        roundtrip(
            "Map(LowCardinality(String), Array(Nullable(UInt64)))",
            "Map(LowCardinality(String), Array(Nullable(UInt64)))",
        );
        roundtrip("Tuple(UInt8, String)", "Tuple(UInt8, String)");
        roundtrip(
            "Tuple(a UInt8, b Array(String))",
            "Tuple(a UInt8, b Array(String))",
        );
        roundtrip("Nullable(Nothing)", "Nullable(Nothing)");
    }

    #[test]
    fn enums_with_and_without_values() {
        roundtrip(
            "Enum('none' = 0, 'open' = 1, 'closed' = 2)",
            "Enum8('none' = 0, 'open' = 1, 'closed' = 2)",
        );
        roundtrip("Enum('a', 'b')", "Enum8('a' = 1, 'b' = 2)");
        roundtrip("Enum('big' = 1000)", "Enum16('big' = 1000)");
        roundtrip("Enum16('x' = -5)", "Enum16('x' = -5)");
        roundtrip(r"Enum8('it\'s' = 1)", r"Enum8('it\'s' = 1)");
        assert!(ChType::parse("Enum8('big' = 1000)").is_err());
        assert!(ChType::parse("Enum('a' = 1, 'b')").is_err());
    }

    #[test]
    fn sql_aliases_map_to_clickhouse_types() {
        assert_eq!(ChType::parse("BIGINT"), Ok(ChType::Int64));
        assert_eq!(ChType::parse("varchar"), Ok(ChType::String));
    }

    #[test]
    fn bad_types_are_errors() {
        for bad in [
            "",
            "Foo",
            "Array(",
            "Array(String",
            "FixedString(0)",
            "Decimal(80, 2)",
            "DateTime64(12)",
            "String extra",
        ] {
            assert!(ChType::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn arrow_mapping() {
        let ty = ChType::parse("Array(LowCardinality(String))").unwrap();
        assert_eq!(
            ty.to_arrow(),
            DataType::List(Field::new("item", DataType::Utf8, false).into())
        );
        let nullable = ChType::parse("Nullable(UInt64)").unwrap();
        let field = nullable.to_arrow_field("x");
        assert!(field.is_nullable());
        assert_eq!(field.data_type(), &DataType::UInt64);
        assert_eq!(
            ChType::parse("DateTime64(3, 'UTC')").unwrap().to_arrow(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(
            ChType::parse("Decimal(10, 2)").unwrap().to_arrow(),
            DataType::Decimal128(10, 2)
        );
        assert_eq!(
            ChType::parse("Decimal(50, 2)").unwrap().to_arrow(),
            DataType::Decimal256(50, 2)
        );
        assert_eq!(
            ChType::parse("Enum('a', 'b')").unwrap().to_arrow(),
            DataType::Utf8
        );
        match ChType::parse("Map(String, UInt8)").unwrap().to_arrow() {
            DataType::Map(entries, false) => match entries.data_type() {
                DataType::Struct(fields) => {
                    assert_eq!(fields[0].name(), "key");
                    assert_eq!(fields[1].data_type(), &DataType::UInt8);
                }
                other => panic!("map entries are {other:?}"),
            },
            other => panic!("Map maps to {other:?}"),
        }
        match ChType::parse("Tuple(a UInt8, String)").unwrap().to_arrow() {
            DataType::Struct(fields) => {
                assert_eq!(fields[0].name(), "a");
                assert_eq!(fields[1].name(), "2");
            }
            other => panic!("Tuple maps to {other:?}"),
        }
    }

    #[test]
    fn tutorial_destination_columns_parse() {
        let ty = ChType::parse("Enum('CommitCommentEvent' = 1, 'CreateEvent' = 2, 'DeleteEvent' = 3, 'ForkEvent' = 4, 'GollumEvent' = 5, 'IssueCommentEvent' = 6, 'IssuesEvent' = 7, 'MemberEvent' = 8, 'PublicEvent' = 9, 'PullRequestEvent' = 10, 'PullRequestReviewCommentEvent' = 11, 'PushEvent' = 12, 'ReleaseEvent' = 13, 'SponsorshipEvent' = 14, 'WatchEvent' = 15, 'GistEvent' = 16, 'FollowEvent' = 17, 'DownloadEvent' = 18, 'PullRequestReviewEvent' = 19, 'ForkApplyEvent' = 20, 'Event' = 21, 'TeamAddEvent' = 22)").unwrap();
        match ty {
            ChType::Enum8(values) => assert_eq!(values.len(), 22),
            other => panic!("got {other}"),
        }
    }

    #[test]
    fn serde_uses_the_clickhouse_spelling() {
        let ty = ChType::parse("Array(Nullable(DateTime('UTC')))").unwrap();
        let json = serde_json::to_string(&ty).unwrap();
        assert_eq!(json, "\"Array(Nullable(DateTime('UTC')))\"");
        let back: ChType = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ty);
    }

    #[test]
    fn nesting_is_limited_before_the_stack_is() {
        let nested = |depth: usize| {
            format!("{}UInt8{}", "Array(".repeat(depth), ")".repeat(depth))
        };
        let deepest = nested(MAX_TYPE_DEPTH - 1);
        assert!(ChType::parse(&deepest).is_ok());
        for depth in [MAX_TYPE_DEPTH, 5_000, 1_000_000] {
            let e = ChType::parse(&nested(depth)).unwrap_err();
            assert!(e.too_deep, "depth {depth}");
            assert!(e.to_string().starts_with("Maximum parse depth (100) exceeded"), "{e}");
            assert!(e.to_string().len() < 300, "the message names only the start");
        }
        // Depth counts through every family that nests.
        let mixed = "Map(String, Tuple(a Nullable(String), b ".repeat(60) + "UInt8" + &"))".repeat(60);
        assert!(ChType::parse(&mixed).unwrap_err().too_deep);
    }

    #[test]
    fn fixed_string_length_is_clickhouse_s_limit() {
        assert!(ChType::parse("FixedString(16777215)").is_ok());
        let e = ChType::parse("FixedString(1099511627776)").unwrap_err();
        assert!(!e.too_deep);
        assert!(ChType::parse("FixedString(16777216)").is_err());
    }

    #[test]
    fn tuple_element_names_print_so_that_they_parse_back() {
        for input in [
            "Map(Int8, Tuple(`` DateTime('UTC')))",
            "Tuple(`a b` UInt8, `x\\`y` String, \"q\"\"r\" Int8, plain_1 Int8)",
        ] {
            let ty = ChType::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let printed = ty.to_string();
            assert_eq!(ChType::parse(&printed).as_ref(), Ok(&ty), "{printed}");
        }
        assert_eq!(
            ChType::parse("Tuple(`a b` UInt8)").unwrap().to_string(),
            "Tuple(`a b` UInt8)"
        );
    }
}
