//! Integers as ClickHouse converts and divides them: a narrowing conversion
//! wraps (`toUInt8(300)` is 44, `toUInt64(-1)` is 18446744073709551615)
//! where Arrow's cast fails, and `intDiv` of integers divides exactly (a
//! Float64 division loses the last digits of large values). Uses arrow.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int16Array, Int32Array, Int64Array, Int8Array, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::Names;

/// `array` (of integers) converted to the integer `target` as ClickHouse
/// converts it, keeping the low bits; `None` when either is not an integer.
pub(super) fn wrapping_cast(array: &ArrayRef, target: &DataType) -> Result<Option<ArrayRef>> {
    if !(array.data_type().is_integer() && target.is_integer()) {
        return Ok(None);
    }
    // Every value's two's complement bits in an i64.
    let bits: Vec<Option<i64>> = match array.data_type() {
        DataType::UInt64 => array
            .as_primitive::<UInt64Type>()
            .iter()
            .map(|v| v.map(|v| v as i64))
            .collect(),
        _ => cast(array, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .iter()
            .collect(),
    };
    macro_rules! to {
        ($array:ty, $t:ty) => {
            Arc::new(bits.iter().map(|v| v.map(|v| v as $t)).collect::<$array>()) as ArrayRef
        };
    }
    Ok(Some(match target {
        DataType::Int8 => to!(Int8Array, i8),
        DataType::Int16 => to!(Int16Array, i16),
        DataType::Int32 => to!(Int32Array, i32),
        DataType::Int64 => to!(Int64Array, i64),
        DataType::UInt8 => to!(UInt8Array, u8),
        DataType::UInt16 => to!(UInt16Array, u16),
        DataType::UInt32 => to!(UInt32Array, u32),
        DataType::UInt64 => to!(UInt64Array, u64),
        _ => return Ok(None),
    }))
}

/// `intDiv(a, b)`: integers divided exactly, rounding toward zero (a
/// division by zero is an error, as in ClickHouse); other numbers divided
/// as Float64 and truncated.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct IntDiv {
    names: Names,
    signature: Signature,
}

impl IntDiv {
    pub(super) fn new() -> IntDiv {
        IntDiv {
            names: Names::new("intDiv"),
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IntDiv {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [a, b] = args.args.as_slice() else {
            return exec_err!("intDiv takes two arguments");
        };
        let (a, b) = (a.to_array(rows)?, b.to_array(rows)?);
        if a.data_type().is_integer() && b.data_type().is_integer() {
            let (a, b) = (cast(&a, &DataType::Int64)?, cast(&b, &DataType::Int64)?);
            return Ok(ColumnarValue::Array(arrow::compute::kernels::numeric::div(
                &a, &b,
            )?));
        }
        let (a, b) = (cast(&a, &DataType::Float64)?, cast(&b, &DataType::Float64)?);
        let quotients: Int64Array = a
            .as_primitive::<Float64Type>()
            .iter()
            .zip(b.as_primitive::<Float64Type>().iter())
            .map(|(a, b)| Some((a? / b?).trunc() as i64))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(quotients)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_conversions_wrap() {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![300, -1, i64::MIN, i64::MAX]));
        let out = wrapping_cast(&values, &DataType::UInt8).unwrap().unwrap();
        assert_eq!(
            out.as_primitive::<arrow::datatypes::UInt8Type>().values(),
            &[44, 255, 0, 255]
        );
        let out = wrapping_cast(&values, &DataType::UInt64).unwrap().unwrap();
        assert_eq!(
            out.as_primitive::<UInt64Type>().value(2),
            9223372036854775808
        );
        let big: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX]));
        let out = wrapping_cast(&big, &DataType::Int32).unwrap().unwrap();
        assert_eq!(
            out.as_primitive::<arrow::datatypes::Int32Type>().value(0),
            -1
        );
    }
}
