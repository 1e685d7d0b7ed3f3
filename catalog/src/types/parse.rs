//! The type parser: a ClickHouse type's SQL spelling into [`ChType`], with
//! ClickHouse's limits (nesting depth, FixedString length).
//!
//! Uses only the model in `types`.

use super::{ChType, TypeParseError, MAX_FIXED_STRING_LENGTH, MAX_TYPE_DEPTH};

/// Parses a type as ClickHouse writes it (see [`ChType::parse`]).
pub(super) fn parse(input: &str) -> Result<ChType, TypeParseError> {
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
