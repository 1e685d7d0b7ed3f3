//! Case conversions as ClickHouse does them: `lower` and `upper` change
//! ASCII letters only (ClickHouse works on bytes), `lowerUTF8` and
//! `upperUTF8` every letter. Uses arrow.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::Names;

/// One of the four case conversions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Case {
    names: Names,
    upper: bool,
    utf8: bool,
    signature: Signature,
}

impl Case {
    /// `lower`, `upper`, `lowerUTF8` and `upperUTF8`.
    pub(super) fn all() -> [Case; 4] {
        let case = |name: &str, upper: bool, utf8: bool| Case {
            names: Names::new(name),
            upper,
            utf8,
            signature: Signature::any(1, Volatility::Immutable),
        };
        [
            case("lower", false, false),
            case("upper", true, false),
            case("lowerUTF8", false, true),
            case("upperUTF8", true, true),
        ]
    }
}

impl ScalarUDFImpl for Case {
    names_and_signature!();
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.names.name);
        };
        let text = cast(&value.to_array(args.number_rows)?, &DataType::Utf8)?;
        let convert = |s: &str| match (self.upper, self.utf8) {
            (false, false) => s.to_ascii_lowercase(),
            (true, false) => s.to_ascii_uppercase(),
            (false, true) => s.to_lowercase(),
            (true, true) => s.to_uppercase(),
        };
        let out: StringArray = text
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(convert))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}
