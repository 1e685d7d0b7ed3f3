//! ClickHouse functions that views commonly use, as DataFusion functions
//! with ClickHouse's names. DataFusion lower-cases function names when it
//! plans, so each is registered under its ClickHouse spelling and in lower
//! case. Functions DataFusion already has with ClickHouse's meaning
//! (concat, coalesce) are left to it; `length`, `lower` and `upper` are
//! replaced, since ClickHouse counts and converts bytes (`text`). Date and
//! time conversions are in `time`, integer ones in `numbers`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{cast, date_part, DatePart};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// The three accessors every function here shares.
macro_rules! names_and_signature {
    () => {
        fn name(&self) -> &str {
            &self.names.name
        }
        fn aliases(&self) -> &[String] {
            &self.names.aliases
        }
        fn signature(&self) -> &Signature {
            &self.signature
        }
    };
}

// After the macro, which they use.
mod defaults;
mod numbers;
mod text;
mod time;

pub use defaults::with_subscript_defaults;

/// Registers every function of this module in `ctx`.
pub fn register(ctx: &SessionContext) {
    let conversions: [(&str, DataType); 14] = [
        ("toString", DataType::Utf8),
        ("toUInt8", DataType::UInt8),
        ("toUInt16", DataType::UInt16),
        ("toUInt32", DataType::UInt32),
        ("toUInt64", DataType::UInt64),
        ("toInt8", DataType::Int8),
        ("toInt16", DataType::Int16),
        ("toInt32", DataType::Int32),
        ("toInt64", DataType::Int64),
        ("toFloat32", DataType::Float32),
        ("toFloat64", DataType::Float64),
        ("toDate", DataType::Date32),
        ("toDateTime", DataType::Timestamp(TimeUnit::Second, None)),
        (
            "toDateTime64",
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
    ];
    for (name, target) in conversions {
        ctx.register_udf(ScalarUDF::new_from_impl(Convert {
            names: Names::new(name),
            target,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    for (name, seconds) in [
        ("toStartOfMinute", 60),
        ("toStartOfHour", 3_600),
        ("toStartOfDay", 86_400),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(StartOf {
            names: Names::new(name),
            seconds,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    ctx.register_udf(ScalarUDF::new_from_impl(ToYyyymm {
        names: Names::new("toYYYYMM"),
        signature: Signature::any(1, Volatility::Immutable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(MultiIf {
        names: Names::new("multiIf"),
        signature: Signature::variadic_any(Volatility::Immutable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(MultiIf {
        names: Names::new("if"),
        signature: Signature::any(3, Volatility::Immutable),
    }));
    for (name, kind) in [
        ("JSONExtractString", JsonKind::String),
        ("JSONExtractInt", JsonKind::Int),
        ("JSONExtractFloat", JsonKind::Float),
        ("JSONExtractBool", JsonKind::Bool),
        ("JSONExtractRaw", JsonKind::Raw),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(JsonExtract {
            names: Names::new(name),
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
        }));
    }
    ctx.register_udf(ScalarUDF::new_from_impl(Length {
        names: Names::new("length"),
        signature: Signature::any(1, Volatility::Immutable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(SplitByChar {
        names: Names::new("splitByChar"),
        signature: Signature::any(2, Volatility::Immutable),
    }));
    time::register(ctx);
    ctx.register_udf(ScalarUDF::new_from_impl(defaults::DefaultIfNull::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(numbers::IntDiv::new()));
    for case in text::Case::all() {
        ctx.register_udf(ScalarUDF::new_from_impl(case));
    }
}

/// A ClickHouse name and its lower-case alias.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Names {
    name: String,
    aliases: Vec<String>,
}

impl Names {
    fn new(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        Names {
            name: name.to_string(),
            aliases: if lower == name { vec![] } else { vec![lower] },
        }
    }
}

/// `toUInt32(x)`, `toString(x)`, `toDate(x)`...: a cast to a fixed type.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Convert {
    names: Names,
    target: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for Convert {
    names_and_signature!();
    /// Refuses, at planning, text from a type Arrow writes otherwise than
    /// ClickHouse (a UUID, an array, a Decimal's trailing zeros): such a
    /// view then runs in the embedded ClickHouse engine.
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if self.target == DataType::Utf8 {
            if let Some(arg) = args.first() {
                // Floats too: Arrow writes -0.0 and 1e15 as `-0.0` and
                // `1000000000000000.0`, ClickHouse as `-0` and `1e15`.
                let exact = arg.is_integer()
                    || matches!(
                        arg,
                        DataType::Utf8
                            | DataType::LargeUtf8
                            | DataType::Utf8View
                            | DataType::Boolean
                            | DataType::Date32
                            | DataType::Timestamp(..)
                            | DataType::Null
                    );
                if !exact {
                    return datafusion::common::plan_err!(
                        "{} of {arg} is not written as ClickHouse writes it",
                        self.names.name
                    );
                }
            }
        }
        // A DateTime keeps its time zone (one without would be read as
        // wall-clock time in the destination's).
        if let (DataType::Timestamp(unit, None), Some(DataType::Timestamp(_, zone @ Some(_)))) =
            (&self.target, args.first())
        {
            return Ok(DataType::Timestamp(*unit, zone.clone()));
        }
        Ok(self.target.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.names.name);
        };
        // A DateTime as text is ClickHouse's `2020-01-01 00:00:01`, not
        // Arrow's ISO form.
        if self.target == DataType::Utf8 {
            let array = value.to_array(args.number_rows)?;
            if let Some(text) = time::clickhouse_text(&array)? {
                return Ok(ColumnarValue::Array(text));
            }
        }
        // Integers narrowed wrap, as ClickHouse converts them.
        if let ColumnarValue::Array(array) = value {
            if let Some(wrapped) = numbers::wrapping_cast(array, args.return_type())? {
                return Ok(ColumnarValue::Array(wrapped));
            }
        }
        value.cast_to(args.return_type(), None)
    }
}

/// `toStartOfHour(t)` and friends: a DateTime rounded down.
#[derive(Debug, PartialEq, Eq, Hash)]
struct StartOf {
    names: Names,
    seconds: i64,
    signature: Signature,
}

impl ScalarUDFImpl for StartOf {
    names_and_signature!();
    /// A DateTime in the argument's time zone, as in ClickHouse (a
    /// timestamp without one would be read as wall-clock time).
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match args.first() {
            Some(DataType::Timestamp(_, zone)) => {
                DataType::Timestamp(TimeUnit::Second, zone.clone())
            }
            _ => DataType::Timestamp(TimeUnit::Second, None),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [value] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.names.name);
        };
        let array = value.to_array(rows)?;
        // Rounded in the column's own time zone, as ClickHouse rounds it
        // (an hour starts at :30 in UTC for Asia/Kolkata).
        let zone = match array.data_type() {
            DataType::Timestamp(_, Some(zone)) => zone.parse::<chrono_tz::Tz>().ok(),
            _ => None,
        };
        let seconds = cast(&array, &DataType::Timestamp(TimeUnit::Second, None))?;
        let seconds = cast(&seconds, &DataType::Int64)?;
        let step = self.seconds;
        let round = |v: i64| -> i64 {
            let Some(zone) = zone else {
                return v - v.rem_euclid(step);
            };
            let offset = chrono::DateTime::from_timestamp(v, 0)
                .map(|t| {
                    use chrono::Offset;
                    i64::from(t.with_timezone(&zone).offset().fix().local_minus_utc())
                })
                .unwrap_or(0);
            let local = v + offset;
            v - local.rem_euclid(step)
        };
        let values = seconds
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .map(|a| {
                arrow::compute::kernels::arity::unary::<_, _, arrow::datatypes::Int64Type>(a, round)
            });
        let Some(values) = values else {
            return exec_err!("{} expects a date or time", self.names.name);
        };
        let rounded: ArrayRef = Arc::new(values);
        Ok(ColumnarValue::Array(cast(&rounded, args.return_type())?))
    }
}

/// `toYYYYMM(d)`: year * 100 + month, as UInt32.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToYyyymm {
    names: Names,
    signature: Signature,
}

impl ScalarUDFImpl for ToYyyymm {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [value] = args.args.as_slice() else {
            return exec_err!("toYYYYMM takes one argument");
        };
        let mut array = value.to_array(rows)?;
        if matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8) {
            array = cast(&array, &DataType::Timestamp(TimeUnit::Second, None))?;
        }
        let years = date_part(&array, DatePart::Year)?;
        let months = date_part(&array, DatePart::Month)?;
        let years = years.as_any().downcast_ref::<arrow::array::Int32Array>();
        let months = months.as_any().downcast_ref::<arrow::array::Int32Array>();
        let (Some(years), Some(months)) = (years, months) else {
            return exec_err!("toYYYYMM expects a date or time");
        };
        let out: UInt32Array = years
            .iter()
            .zip(months.iter())
            .map(|(y, m)| Some((y? * 100 + m?) as u32))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `if(c, a, b)` and `multiIf(c1, v1, c2, v2, ..., else)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MultiIf {
    names: Names,
    signature: Signature,
}

impl ScalarUDFImpl for MultiIf {
    names_and_signature!();
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() < 3 || args.len().is_multiple_of(2) {
            return exec_err!(
                "{} takes condition, value pairs and an else value",
                self.names.name
            );
        }
        Ok(args[1].clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let target = args.return_type().clone();
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let Some(last) = arrays.last() else {
            return exec_err!("{} needs arguments", self.names.name);
        };
        // Fold from the else value backwards: each pair picks its value where
        // its condition holds.
        let mut result = cast(last, &target)?;
        for pair in arrays[..arrays.len() - 1].chunks(2).rev() {
            let condition = cast(&pair[0], &DataType::Boolean)?;
            let Some(mask) = condition.as_any().downcast_ref::<BooleanArray>() else {
                return exec_err!("{}: a condition is not boolean", self.names.name);
            };
            let value = cast(&pair[1], &target)?;
            result = zip(mask, &value, &result)?;
        }
        Ok(ColumnarValue::Array(result))
    }
}

/// `JSONExtractString(json, key)` and friends: one field of a JSON text,
/// with ClickHouse's defaults ('' / 0 / false) when it is missing or of
/// another type. Keys are field names (or 1-based array indexes), nested as
/// further arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonExtract {
    names: Names,
    kind: JsonKind,
    signature: Signature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum JsonKind {
    String,
    Int,
    Float,
    Bool,
    Raw,
}

impl ScalarUDFImpl for JsonExtract {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            JsonKind::String | JsonKind::Raw => DataType::Utf8,
            JsonKind::Int => DataType::Int64,
            JsonKind::Float => DataType::Float64,
            JsonKind::Bool => DataType::UInt8,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{Float64Builder, Int64Builder, StringBuilder, UInt8Builder};
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| {
                a.to_array(rows)
                    .and_then(|a| Ok(cast(&a, &DataType::Utf8)?))
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let Some((json, path)) = arrays.split_first() else {
            return exec_err!("{} needs a JSON argument", self.names.name);
        };
        let text = |a: &ArrayRef, i: usize| {
            a.as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .filter(|s| !s.is_null(i))
                .map(|s| s.value(i).to_string())
        };
        let lookup = |i: usize| -> Option<serde_json::Value> {
            let mut value: serde_json::Value = serde_json::from_str(&text(json, i)?).ok()?;
            for key in path {
                let key = text(key, i)?;
                value = match (&value, key.parse::<i64>()) {
                    (serde_json::Value::Array(items), Ok(n)) if n != 0 => {
                        let index = if n > 0 { n - 1 } else { items.len() as i64 + n };
                        items.get(usize::try_from(index).ok()?)?.clone()
                    }
                    (serde_json::Value::Object(map), _) => map.get(&key)?.clone(),
                    _ => return None,
                };
            }
            Some(value)
        };
        let out: ArrayRef = match self.kind {
            JsonKind::String => {
                let mut b = StringBuilder::new();
                for i in 0..rows {
                    // ClickHouse gives a number's text too (`{"k":7}` → '7').
                    match lookup(i) {
                        Some(serde_json::Value::String(s)) => b.append_value(s),
                        Some(serde_json::Value::Number(n)) => b.append_value(n.to_string()),
                        _ => b.append_value(""),
                    }
                }
                Arc::new(b.finish())
            }
            JsonKind::Raw => {
                let mut b = StringBuilder::new();
                for i in 0..rows {
                    b.append_value(lookup(i).map(|v| v.to_string()).unwrap_or_default());
                }
                Arc::new(b.finish())
            }
            JsonKind::Int => {
                let mut b = Int64Builder::new();
                for i in 0..rows {
                    let v = match lookup(i) {
                        Some(serde_json::Value::Number(n)) => {
                            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))
                        }
                        Some(serde_json::Value::Bool(v)) => Some(i64::from(v)),
                        _ => None,
                    };
                    b.append_value(v.unwrap_or(0));
                }
                Arc::new(b.finish())
            }
            JsonKind::Float => {
                let mut b = Float64Builder::new();
                for i in 0..rows {
                    let v = match lookup(i) {
                        Some(serde_json::Value::Number(n)) => n.as_f64(),
                        _ => None,
                    };
                    b.append_value(v.unwrap_or(0.0));
                }
                Arc::new(b.finish())
            }
            JsonKind::Bool => {
                let mut b = UInt8Builder::new();
                for i in 0..rows {
                    // A number is true unless it is 0, as in ClickHouse.
                    b.append_value(u8::from(match lookup(i) {
                        Some(serde_json::Value::Bool(v)) => v,
                        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
                        _ => false,
                    }));
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// `splitByChar(sep, s)`: the pieces of `s` between single-character
/// separators, as an array.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SplitByChar {
    names: Names,
    signature: Signature,
}

impl ScalarUDFImpl for SplitByChar {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(arrow::datatypes::Field::new(
            "item",
            DataType::Utf8,
            true,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow::array::{ListBuilder, StringArray, StringBuilder};
        let rows = args.number_rows;
        let [separator, value] = args.args.as_slice() else {
            return exec_err!("splitByChar takes a separator and a string");
        };
        let separator = cast(&separator.to_array(rows)?, &DataType::Utf8)?;
        let value = cast(&value.to_array(rows)?, &DataType::Utf8)?;
        let (Some(separator), Some(value)) = (
            separator.as_any().downcast_ref::<StringArray>(),
            value.as_any().downcast_ref::<StringArray>(),
        ) else {
            return exec_err!("splitByChar takes strings");
        };
        let mut out = ListBuilder::new(StringBuilder::new());
        for i in 0..rows {
            if value.is_null(i) || separator.is_null(i) {
                out.append(false);
                continue;
            }
            let mut chars = separator.value(i).chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return exec_err!("splitByChar: the separator must be exactly one character");
            };
            for piece in value.value(i).split(c) {
                out.values().append_value(piece);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `length(x)`: bytes of a string (ClickHouse counts bytes, not characters
/// as DataFusion's `length` does), or elements of an array.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Length {
    names: Names,
    signature: Signature,
}

impl ScalarUDFImpl for Length {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [value] = args.args.as_slice() else {
            return exec_err!("length takes one argument");
        };
        let lengths = arrow::compute::kernels::length::length(&value.to_array(rows)?)?;
        Ok(ColumnarValue::Array(cast(&lengths, &DataType::UInt64)?))
    }
}
