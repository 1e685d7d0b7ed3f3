//! ClickHouse result types as PostgreSQL types, and values encoded for them.

use chrono::{NaiveDate, NaiveDateTime};
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{PgWireError, PgWireResult};
use rust_decimal::Decimal;

use catalog::ChType;

use crate::result::ResultColumn;

/// How a column's values travel to a PostgreSQL client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Date,
    Timestamp,
    /// Everything else travels as ClickHouse prints it: strings, enums (by
    /// name), UUIDs, IPs, and arrays, maps and tuples in ClickHouse syntax.
    Text,
}

impl PgKind {
    /// The PostgreSQL type for a ClickHouse type. Unsigned types take the
    /// next wider signed type, since PostgreSQL has no unsigned integers.
    pub fn of(ty: Option<&ChType>) -> PgKind {
        let Some(ty) = ty else { return PgKind::Text };
        match ty.value_type() {
            ChType::Bool => PgKind::Bool,
            ChType::Int8 | ChType::Int16 | ChType::UInt8 => PgKind::Int2,
            ChType::Int32 | ChType::UInt16 => PgKind::Int4,
            ChType::Int64 | ChType::UInt32 => PgKind::Int8,
            ChType::UInt64 => PgKind::Numeric,
            ChType::Float32 => PgKind::Float4,
            ChType::Float64 => PgKind::Float8,
            // rust_decimal holds 28 significant digits; wider decimals go as text.
            ChType::Decimal { precision, .. } if *precision <= 28 => PgKind::Numeric,
            ChType::Date | ChType::Date32 => PgKind::Date,
            ChType::DateTime { .. } | ChType::DateTime64 { .. } => PgKind::Timestamp,
            _ => PgKind::Text,
        }
    }

    pub fn pg_type(self) -> Type {
        match self {
            PgKind::Bool => Type::BOOL,
            PgKind::Int2 => Type::INT2,
            PgKind::Int4 => Type::INT4,
            PgKind::Int8 => Type::INT8,
            PgKind::Float4 => Type::FLOAT4,
            PgKind::Float8 => Type::FLOAT8,
            PgKind::Numeric => Type::NUMERIC,
            PgKind::Date => Type::DATE,
            PgKind::Timestamp => Type::TIMESTAMP,
            PgKind::Text => Type::TEXT,
        }
    }
}

/// The PostgreSQL kind of each result column.
pub fn kinds(columns: &[ResultColumn]) -> Vec<PgKind> {
    columns.iter().map(|c| PgKind::of(c.ty.as_ref())).collect()
}

/// Row description for result columns sent as `kinds`, in the formats the
/// client asked for.
pub fn fields(
    columns: &[ResultColumn],
    kinds: &[PgKind],
    format: impl Fn(usize) -> FieldFormat,
) -> Vec<FieldInfo> {
    columns
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (c, kind))| FieldInfo::new(c.name.clone(), None, None, kind.pg_type(), format(i)))
        .collect()
}

/// Encodes one ClickHouse text value as `kind`. In text format ClickHouse's
/// own spelling is already valid PostgreSQL text for every kind but booleans,
/// so it goes out unchanged (`2020-01-01 00:00:00`, not `...00.000000`).
pub fn encode(
    encoder: &mut DataRowEncoder,
    kind: PgKind,
    format: FieldFormat,
    value: Option<&str>,
) -> PgWireResult<()> {
    let Some(v) = value else {
        return encoder.encode_field(&None::<String>);
    };
    if format == FieldFormat::Text && kind != PgKind::Bool {
        return encoder.encode_field(&v);
    }
    match kind {
        PgKind::Bool => encoder.encode_field(&parse_bool(v)?),
        PgKind::Int2 => encoder.encode_field(&parse::<i16>(v)?),
        PgKind::Int4 => encoder.encode_field(&parse::<i32>(v)?),
        PgKind::Int8 => encoder.encode_field(&parse::<i64>(v)?),
        PgKind::Float4 => encoder.encode_field(&parse::<f32>(v)?),
        PgKind::Float8 => encoder.encode_field(&parse::<f64>(v)?),
        PgKind::Numeric => encoder.encode_field(&parse::<Decimal>(v)?),
        PgKind::Date => encoder.encode_field(
            &NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|e| bad(v, &e.to_string()))?,
        ),
        PgKind::Timestamp => encoder.encode_field(
            &NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f")
                .map_err(|e| bad(v, &e.to_string()))?,
        ),
        PgKind::Text => encoder.encode_field(&v),
    }
}

fn parse<T: std::str::FromStr>(v: &str) -> PgWireResult<T>
where
    T::Err: std::fmt::Display,
{
    v.parse::<T>().map_err(|e| bad(v, &e.to_string()))
}

fn parse_bool(v: &str) -> PgWireResult<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad(v, "not a boolean")),
    }
}

fn bad(value: &str, why: &str) -> PgWireError {
    PgWireError::ApiError(format!("cannot convert ClickHouse value {value:?}: {why}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(t: &str) -> PgKind {
        PgKind::of(Some(&ChType::parse(t).unwrap()))
    }

    #[test]
    fn type_mapping() {
        assert_eq!(kind("UInt8"), PgKind::Int2);
        assert_eq!(kind("UInt32"), PgKind::Int8);
        assert_eq!(kind("UInt64"), PgKind::Numeric);
        assert_eq!(kind("Nullable(Int32)"), PgKind::Int4);
        assert_eq!(kind("LowCardinality(String)"), PgKind::Text);
        assert_eq!(kind("Enum8('a' = 1)"), PgKind::Text);
        assert_eq!(kind("DateTime('UTC')"), PgKind::Timestamp);
        assert_eq!(kind("DateTime64(3)"), PgKind::Timestamp);
        assert_eq!(kind("Decimal(10, 2)"), PgKind::Numeric);
        assert_eq!(kind("Decimal(40, 2)"), PgKind::Text);
        assert_eq!(kind("Array(UInt8)"), PgKind::Text);
        assert_eq!(PgKind::of(None), PgKind::Text);
    }

    #[test]
    fn values_encode_in_text_and_binary() {
        let columns: Vec<ResultColumn> = ["UInt64", "DateTime64(3)", "Float64", "Bool"]
            .iter()
            .map(|t| ResultColumn {
                name: t.to_string(),
                ty: ChType::parse(t).ok(),
            })
            .collect();
        let values = [
            "18446744073709551615",
            "2020-01-01 10:00:00.123",
            "nan",
            "true",
        ];
        for format in [FieldFormat::Text, FieldFormat::Binary] {
            let schema = std::sync::Arc::new(fields(&columns, &kinds(&columns), |_| format));
            let mut encoder = DataRowEncoder::new(schema);
            for (c, v) in columns.iter().zip(values) {
                encode(&mut encoder, PgKind::of(c.ty.as_ref()), format, Some(v)).unwrap();
            }
            encoder.take_row();
        }
    }

    #[test]
    fn unparsable_values_are_errors_not_panics() {
        let columns = vec![ResultColumn {
            name: "d".into(),
            ty: Some(ChType::Date),
        }];
        let schema =
            std::sync::Arc::new(fields(&columns, &kinds(&columns), |_| FieldFormat::Binary));
        let mut encoder = DataRowEncoder::new(schema);
        assert!(encode(
            &mut encoder,
            PgKind::Date,
            FieldFormat::Binary,
            Some("yesterday")
        )
        .is_err());
    }
}
