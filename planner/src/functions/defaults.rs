//! ClickHouse's `arr[i]` out of range: the element type's default (`''`,
//! `0`, `[]`), where SQL (and DataFusion) gives NULL. `with_subscript_defaults`
//! wraps each subscript of a query in `defaultIfNull`, which this module
//! registers; the system tables' queries go through it.

use std::ops::ControlFlow;

use arrow::compute::is_not_null;
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use sqlparser::ast::{AccessExpr, Expr, Ident, ObjectName};
use sqlparser::dialect::ClickHouseDialect;

use super::Names;

/// `defaultIfNull(x)`: `x`, its NULLs replaced by its type's default.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct DefaultIfNull {
    pub(super) names: Names,
    pub(super) signature: Signature,
}

impl DefaultIfNull {
    pub(super) fn new() -> DefaultIfNull {
        DefaultIfNull {
            names: Names::new("defaultIfNull"),
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DefaultIfNull {
    names_and_signature!();
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.first() {
            Some(t) => Ok(t.clone()),
            None => exec_err!("defaultIfNull takes one argument"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("defaultIfNull takes one argument");
        };
        let array = value.to_array(args.number_rows)?;
        if array.null_count() == 0 {
            return Ok(ColumnarValue::Array(array));
        }
        let default = ScalarValue::new_default(array.data_type())?.to_scalar()?;
        let present = is_not_null(&array)?;
        Ok(ColumnarValue::Array(zip(&present, &array, &default)?))
    }
}

/// `sql` with every subscript `x[i]` read as ClickHouse reads it
/// (`defaultIfNull(x[i])`); `None` when it has none or does not parse.
pub fn with_subscript_defaults(sql: &str) -> Option<String> {
    let mut statements = sqlparser::parser::Parser::parse_sql(&ClickHouseDialect {}, sql).ok()?;
    let mut changed = false;
    for statement in &mut statements {
        let _ = sqlparser::ast::visit_expressions_mut(statement, |expr| {
            if let Expr::CompoundFieldAccess { access_chain, .. } = expr {
                if access_chain
                    .iter()
                    .all(|a| matches!(a, AccessExpr::Subscript(_)))
                {
                    let inner = std::mem::replace(expr, Expr::value(sqlparser::ast::Value::Null));
                    *expr = Expr::Function(sqlparser::ast::Function {
                        name: ObjectName::from(vec![Ident::new("defaultIfNull")]),
                        uses_odbc_syntax: false,
                        parameters: sqlparser::ast::FunctionArguments::None,
                        args: sqlparser::ast::FunctionArguments::List(
                            sqlparser::ast::FunctionArgumentList {
                                duplicate_treatment: None,
                                args: vec![sqlparser::ast::FunctionArg::Unnamed(
                                    sqlparser::ast::FunctionArgExpr::Expr(inner),
                                )],
                                clauses: vec![],
                            },
                        ),
                        filter: None,
                        null_treatment: None,
                        over: None,
                        within_group: vec![],
                    });
                    changed = true;
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }
    changed.then(|| {
        statements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscripts_read_defaults() {
        assert_eq!(
            with_subscript_defaults(r#"SELECT "exceptions.text"[-1] FROM system.kafka_consumers"#)
                .as_deref(),
            Some(r#"SELECT defaultIfNull("exceptions.text"[-1]) FROM system.kafka_consumers"#)
        );
        assert_eq!(with_subscript_defaults("SELECT 1"), None);
    }
}
