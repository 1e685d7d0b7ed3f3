//! Values of a client's typed INSERT block read back as TabSeparated text,
//! for INSERTs kafkahouse parses itself (into Kafka tables) or that a server
//! takes only as text (ClickHouse 18.x, where a type was announced
//! simplified). Uses opensrv-clickhouse's typed getters and the typed
//! columns' type names.

use catalog::ChType;
use chrono::NaiveDate;
use opensrv_clickhouse::types::Block;

use super::typed::native_type;

/// Whether `text_cell` reads values of `ty` from a block announced with
/// `header` (arrays only of numbers other than UInt8, strings and dates).
pub(super) fn readable_as_text(ty: &ChType) -> bool {
    match ty {
        ChType::LowCardinality(inner) => readable_as_text(inner),
        ChType::Nullable(inner) | ChType::Array(inner) => typed_item(inner.value_type()),
        ChType::DateTime64 { .. } | ChType::FixedString(_) => false,
        other => native_type(other).is_some(),
    }
}

/// Items `text_cell` reads inside Nullable and Array: numbers (UInt8 is
/// read as bytes there), strings, dates and times.
fn typed_item(ty: &ChType) -> bool {
    matches!(ty, ChType::String | ChType::Date | ChType::DateTime { .. })
        || (crate::formats::is_number(Some(ty)) && *ty != ChType::UInt8)
}

/// One value of a client's typed block as TabSeparated text, for INSERTs
/// kafkahouse parses itself (into Kafka tables) or that a server takes
/// only as text. `ty` is the column's type (`readable_as_text`).
pub(super) fn text_cell(block: &Block, row: usize, column: usize, ty: &ChType) -> Option<String> {
    use opensrv_clickhouse::types::{Decimal, Enum16, Enum8};
    type Zoned = chrono::DateTime<chrono_tz::Tz>;
    let quote = |v: &str| catalog::quote::string(v);
    let time = |t: Zoned, zone: &Option<String>| -> Option<String> {
        let zone: chrono_tz::Tz = zone.as_deref().unwrap_or("UTC").parse().ok()?;
        Some(
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
    };
    macro_rules! get {
        ($t:ty) => {
            block.get::<$t, _>(row, column).ok()?
        };
    }
    macro_rules! nullable {
        ($t:ty, $show:expr) => {
            match get!(Option<$t>) {
                None => "\\N".to_string(),
                Some(v) => $show(v)?,
            }
        };
    }
    macro_rules! list {
        ($t:ty, $show:expr) => {{
            let items: Vec<String> = get!(Vec<$t>)
                .into_iter()
                .map($show)
                .collect::<Option<Vec<String>>>()?;
            catalog::quote::tsv(&format!("[{}]", items.join(",")))
        }};
    }
    let number = |v: &dyn std::fmt::Display| Some(v.to_string());
    Some(match ty {
        ChType::LowCardinality(inner) => return text_cell(block, row, column, inner),
        ChType::Nullable(inner) => match inner.value_type() {
            ChType::UInt16 => nullable!(u16, |v: u16| number(&v)),
            ChType::UInt32 => nullable!(u32, |v: u32| number(&v)),
            ChType::UInt64 => nullable!(u64, |v: u64| number(&v)),
            ChType::Int8 => nullable!(i8, |v: i8| number(&v)),
            ChType::Int16 => nullable!(i16, |v: i16| number(&v)),
            ChType::Int32 => nullable!(i32, |v: i32| number(&v)),
            ChType::Int64 => nullable!(i64, |v: i64| number(&v)),
            ChType::Float32 => nullable!(f32, |v: f32| number(&v)),
            ChType::Float64 => nullable!(f64, |v: f64| number(&v)),
            ChType::String => nullable!(String, |v: String| Some(catalog::quote::tsv(&v))),
            ChType::Date => nullable!(NaiveDate, |v: NaiveDate| Some(
                v.format("%Y-%m-%d").to_string()
            )),
            ChType::DateTime { timezone } => nullable!(Zoned, |v: Zoned| time(v, timezone)),
            _ => return None,
        },
        ChType::Array(inner) => match inner.value_type() {
            ChType::UInt16 => list!(u16, |v: u16| number(&v)),
            ChType::UInt32 => list!(u32, |v: u32| number(&v)),
            ChType::UInt64 => list!(u64, |v: u64| number(&v)),
            ChType::Int8 => list!(i8, |v: i8| number(&v)),
            ChType::Int16 => list!(i16, |v: i16| number(&v)),
            ChType::Int32 => list!(i32, |v: i32| number(&v)),
            ChType::Int64 => list!(i64, |v: i64| number(&v)),
            ChType::Float32 => list!(f32, |v: f32| number(&v)),
            ChType::Float64 => list!(f64, |v: f64| number(&v)),
            ChType::String => list!(String, |v: String| Some(quote(&v))),
            ChType::Date => list!(NaiveDate, |v: NaiveDate| Some(quote(
                &v.format("%Y-%m-%d").to_string()
            ))),
            ChType::DateTime { timezone } => {
                list!(Zoned, |v: Zoned| time(v, timezone).map(|t| quote(&t)))
            }
            _ => return None,
        },
        ChType::UInt8 => get!(u8).to_string(),
        ChType::UInt16 => get!(u16).to_string(),
        ChType::UInt32 => get!(u32).to_string(),
        ChType::UInt64 => get!(u64).to_string(),
        ChType::Int8 => get!(i8).to_string(),
        ChType::Int16 => get!(i16).to_string(),
        ChType::Int32 => get!(i32).to_string(),
        ChType::Int64 => get!(i64).to_string(),
        ChType::Float32 => get!(f32).to_string(),
        ChType::Float64 => get!(f64).to_string(),
        ChType::String => catalog::quote::tsv(&get!(String)),
        ChType::Date => get!(NaiveDate).format("%Y-%m-%d").to_string(),
        ChType::DateTime { timezone } => time(get!(Zoned), timezone)?,
        // opensrv-clickhouse prints -0.01 as "0.-1": the units, by hand.
        ChType::Decimal { .. } => {
            let d = get!(Decimal);
            decimal_text(d.internal::<i64>(), d.scale())
        }
        ChType::Enum8(values) => {
            let v = get!(Enum8).internal();
            catalog::quote::tsv(&values.iter().find(|(_, x)| *x == v)?.0)
        }
        ChType::Enum16(values) => {
            let v = get!(Enum16).internal();
            catalog::quote::tsv(&values.iter().find(|(_, x)| *x == v)?.0)
        }
        ChType::Uuid => get!(uuid::Uuid).to_string(),
        ChType::IPv4 => get!(std::net::Ipv4Addr).to_string(),
        ChType::IPv6 => get!(std::net::Ipv6Addr).to_string(),
        _ => return None,
    })
}

/// `units` in 10^-scale as ClickHouse writes a decimal (`-0.01`).
fn decimal_text(units: i64, scale: usize) -> String {
    let digits = format!("{:0>width$}", units.unsigned_abs(), width = scale + 1);
    let (whole, fraction) = digits.split_at(digits.len() - scale);
    let sign = if units < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_written_as_clickhouse_writes_them() {
        assert_eq!(super::decimal_text(-1, 2), "-0.01");
        assert_eq!(super::decimal_text(1250, 2), "12.50");
        assert_eq!(super::decimal_text(7, 0), "7");
    }
}
