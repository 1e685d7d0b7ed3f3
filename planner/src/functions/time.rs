//! ClickHouse's date and time conversions for views: Unix timestamps both
//! ways, and a DateTime or DateTime64 written as ClickHouse writes it
//! (`2020-01-01 00:00:01`, `.123` for DateTime64(3)), not as Arrow's ISO
//! text. Uses the module's names and Arrow's casts.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::Names;

/// Registers the functions of this module in `ctx`.
pub(super) fn register(ctx: &SessionContext) {
    for (name, kind) in [
        ("toUnixTimestamp", Kind::UnixSeconds),
        ("toUnixTimestamp64Milli", Kind::UnixMillis),
        ("fromUnixTimestamp64Milli", Kind::FromUnixMillis),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(UnixTime {
            names: Names::new(name),
            kind,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// DateTime (or its text) → UInt32 seconds.
    UnixSeconds,
    /// DateTime64 → Int64 milliseconds.
    UnixMillis,
    /// Int64 milliseconds → DateTime64(3).
    FromUnixMillis,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct UnixTime {
    names: Names,
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for UnixTime {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::UnixSeconds => DataType::UInt32,
            Kind::UnixMillis => DataType::Int64,
            Kind::FromUnixMillis => DataType::Timestamp(TimeUnit::Millisecond, None),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [value] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.names.name);
        };
        let value = value.to_array(rows)?;
        let out: ArrayRef = match self.kind {
            Kind::UnixSeconds => {
                let seconds = cast(&value, &DataType::Timestamp(TimeUnit::Second, None))?;
                cast(&cast(&seconds, &DataType::Int64)?, &DataType::UInt32)?
            }
            Kind::UnixMillis => {
                let millis = cast(&value, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
                cast(&millis, &DataType::Int64)?
            }
            Kind::FromUnixMillis => cast(
                &cast(&value, &DataType::Int64)?,
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// `value` as text the way ClickHouse writes it when it is a DateTime or
/// DateTime64 (in its own time zone, UTC without one); `None` for anything
/// else, which Arrow's cast writes.
pub(super) fn clickhouse_text(value: &ArrayRef) -> Result<Option<ArrayRef>> {
    let DataType::Timestamp(unit, zone) = value.data_type() else {
        return Ok(None);
    };
    let zone: chrono_tz::Tz = match zone.as_deref() {
        None | Some("UTC" | "+00:00" | "Z" | "Etc/UTC") => chrono_tz::UTC,
        Some(name) => match name.parse() {
            Ok(zone) => zone,
            Err(_) => return Ok(None),
        },
    };
    let (per_second, digits) = match unit {
        TimeUnit::Second => (1, 0),
        TimeUnit::Millisecond => (1_000, 3),
        TimeUnit::Microsecond => (1_000_000, 6),
        TimeUnit::Nanosecond => (1_000_000_000, 9),
    };
    let ticks = cast(value, &DataType::Int64)?;
    let ticks = ticks.as_primitive::<Int64Type>();
    let mut out = StringBuilder::with_capacity(ticks.len(), ticks.len() * (20 + digits));
    for i in 0..ticks.len() {
        if ticks.is_null(i) {
            out.append_null();
            continue;
        }
        let t = ticks.value(i);
        let (seconds, fraction) = (t.div_euclid(per_second), t.rem_euclid(per_second));
        let Some(time) = chrono::DateTime::from_timestamp(seconds, 0) else {
            out.append_null();
            continue;
        };
        let mut text = time
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        if digits > 0 {
            text.push_str(&format!(".{fraction:0digits$}"));
        }
        out.append_value(text);
    }
    Ok(Some(Arc::new(out.finish())))
}
