//! What ClickHouse reads differently from SQL in a view's SELECT, rewritten
//! before DataFusion plans it: dotted virtual columns, a DateTime compared
//! with a number, ClickHouse functions that DataFusion has under another
//! name or shape (`match`, `replaceRegexpAll`, `intDiv`, `has`, ...), and
//! `CAST(x AS UInt32)` / `x::UInt32` with ClickHouse's type names. Each
//! mapping is checked against ClickHouse's own answer by the differential
//! test (tests/kafka_views.rs). Uses sqlparser's AST and ClickHouse dialect.

use arrow::datatypes::{DataType, Schema};
use sqlparser::ast::{Expr, Ident, Statement as SqlStatement};
use sqlparser::dialect::ClickHouseDialect;

/// What ClickHouse reads differently from SQL, over the block's `schema`:
/// `_headers.name` without quotes is one column (SQL would read column
/// `name` of a table `_headers`), and a DateTime column compared with a
/// number compares with that Unix time (`_timestamp = 0`), which
/// DataFusion refuses between a timestamp and an integer.
pub(crate) fn rewrite(mut statement: SqlStatement, schema: &Schema) -> SqlStatement {
    use std::ops::ControlFlow;
    let is_time = |expr: &Expr| match expr {
        Expr::Identifier(ident) => schema
            .field_with_name(&ident.value)
            .is_ok_and(|f| matches!(f.data_type(), DataType::Timestamp(..))),
        _ => false,
    };
    let is_number = |expr: &Expr| matches!(expr, Expr::Value(v) if matches!(v.value, sqlparser::ast::Value::Number(..)));
    let as_time = |number: &Expr| -> Option<Expr> {
        sqlparser::parser::Parser::new(&ClickHouseDialect {})
            .try_with_sql(&format!("toDateTime({number})"))
            .ok()?
            .parse_expr()
            .ok()
    };
    let _ = sqlparser::ast::visit_expressions_mut(&mut statement, |expr| {
        if let Expr::CompoundIdentifier(parts) = expr {
            if let [a, b] = parts.as_slice() {
                let joined = format!("{}.{}", a.value, b.value);
                if schema.field_with_name(&joined).is_ok() {
                    *expr = Expr::Identifier(Ident::with_quote('"', joined));
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    // After the dotted names: `_timestamp` may be compared once it is one.
    let _ = sqlparser::ast::visit_expressions_mut(&mut statement, |expr| {
        if let Expr::BinaryOp { left, op, right } = expr {
            let comparison = matches!(
                op,
                sqlparser::ast::BinaryOperator::Eq
                    | sqlparser::ast::BinaryOperator::NotEq
                    | sqlparser::ast::BinaryOperator::Lt
                    | sqlparser::ast::BinaryOperator::LtEq
                    | sqlparser::ast::BinaryOperator::Gt
                    | sqlparser::ast::BinaryOperator::GtEq
            );
            if comparison {
                if is_time(left) && is_number(right) {
                    if let Some(t) = as_time(right) {
                        **right = t;
                    }
                } else if is_number(left) && is_time(right) {
                    if let Some(t) = as_time(left) {
                        **left = t;
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    // ClickHouse functions DataFusion has under another name or shape;
    // arguments first (the visit is bottom-up).
    let _ = sqlparser::ast::visit_expressions_mut(&mut statement, |expr| {
        if let Some(replaced) = function(expr).or_else(|| cast(expr)) {
            *expr = replaced;
        }
        ControlFlow::<()>::Continue(())
    });
    statement
}

/// `expr` parsed (ClickHouse dialect).
fn parse(text: &str) -> Option<Expr> {
    sqlparser::parser::Parser::new(&ClickHouseDialect {})
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()
}

/// A ClickHouse function call as the DataFusion expression that computes
/// the same (booleans as UInt8, as ClickHouse returns them).
fn function(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let sqlparser::ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    let args: Vec<String> = list
        .args
        .iter()
        .map(|a| match a {
            sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e)) => {
                Some(e.to_string())
            }
            _ => None,
        })
        .collect::<Option<_>>()?;
    let name = f.name.to_string();
    let u8 = |inner: String| format!("CAST({inner} AS TINYINT UNSIGNED)");
    let text = match (name.to_ascii_lowercase().as_str(), args.as_slice()) {
        ("modulo", [a, b]) => format!("({a}) % ({b})"),
        ("match", [s, p]) => u8(format!("regexp_like({s}, {p})")),
        ("replaceregexpall", [s, p, r]) => format!("regexp_replace({s}, {p}, {r}, 'g')"),
        ("replaceregexpone", [s, p, r]) => format!("regexp_replace({s}, {p}, {r})"),
        ("extract", [s, p]) => format!("coalesce(regexp_match({s}, {p})[1], '')"),
        ("assumenotnull" | "tolowcardinality", [x]) => x.clone(),
        ("startswith", [s, p]) => u8(format!("starts_with({s}, {p})")),
        ("endswith", [s, p]) => u8(format!("ends_with({s}, {p})")),
        ("empty", [x]) => u8(format!("length({x}) = 0")),
        ("notempty", [x]) => u8(format!("length({x}) > 0")),
        ("has", [a, x]) => u8(format!("array_has({a}, {x})")),
        ("arraystringconcat", [a]) => format!("array_to_string({a}, '')"),
        ("arraystringconcat", [a, sep]) => format!("array_to_string({a}, {sep})"),
        // ClickHouse splits '' into [''].
        ("splitbystring", [sep, s]) => {
            format!("CASE WHEN {s} = '' THEN make_array('') ELSE string_to_array({s}, {sep}) END")
        }
        ("toyear", [t]) => format!("CAST(date_part('year', {t}) AS SMALLINT UNSIGNED)"),
        ("tomonth", [t]) => u8(format!("date_part('month', {t})")),
        ("todayofmonth", [t]) => u8(format!("date_part('day', {t})")),
        ("tohour", [t]) => u8(format!("date_part('hour', {t})")),
        ("tominute", [t]) => u8(format!("date_part('minute', {t})")),
        ("tosecond", [t]) => u8(format!("date_part('second', {t})")),
        ("tostartofmonth", [t]) => format!("CAST(date_trunc('month', {t}) AS DATE)"),
        ("tostartofyear", [t]) => format!("CAST(date_trunc('year', {t}) AS DATE)"),
        ("uniqexact", [x]) => format!("CAST(count(DISTINCT {x}) AS BIGINT UNSIGNED)"),
        // Only a string value is a string here (JSONExtractString also
        // writes a number as text).
        ("visitparamextractstring" | "simplejsonextractstring", [j, k]) => format!(
            "CASE WHEN starts_with(JSONExtractRaw({j}, {k}), '\"') THEN JSONExtractString({j}, {k}) ELSE '' END"
        ),
        ("visitparamextractint" | "simplejsonextractint", [j, k]) => format!("JSONExtractInt({j}, {k})"),
        ("visitparamextractfloat" | "simplejsonextractfloat", [j, k]) => {
            format!("JSONExtractFloat({j}, {k})")
        }
        ("visitparamextractbool" | "simplejsonextractbool", [j, k]) => {
            format!("JSONExtractBool({j}, {k})")
        }
        ("visitparamextractraw" | "simplejsonextractraw", [j, k]) => format!("JSONExtractRaw({j}, {k})"),
        ("jsonextract", [j, k, ty]) => {
            let ty = ty.trim_matches('\'');
            let family = match ty {
                "String" => "String",
                "Float32" | "Float64" => "Float",
                "Bool" => "Bool",
                t if t.starts_with("Int") || t.starts_with("UInt") => "Int",
                _ => return None,
            };
            let extracted = format!("JSONExtract{family}({j}, {k})");
            match ty {
                "String" | "Float64" | "Int64" | "Bool" => extracted,
                other => format!("to{other}({extracted})"),
            }
        }
        ("todecimal32", [x, s]) => format!("CAST({x} AS DECIMAL(9, {s}))"),
        ("todecimal64", [x, s]) => format!("CAST({x} AS DECIMAL(18, {s}))"),
        ("todecimal128", [x, s]) => format!("CAST({x} AS DECIMAL(38, {s}))"),
        _ => return None,
    };
    parse(&text)
}

/// `CAST(x AS UInt32)` and `x::UInt32` with a ClickHouse type name as the
/// conversion function (`toUInt32(x)`), which DataFusion's CAST lacks.
fn cast(expr: &Expr) -> Option<Expr> {
    let Expr::Cast {
        expr: inner,
        data_type,
        ..
    } = expr
    else {
        return None;
    };
    let ty = data_type.to_string();
    let known = [
        "UInt8", "UInt16", "UInt32", "UInt64", "Int8", "Int16", "Int32", "Int64", "Float32",
        "Float64", "String", "Date", "DateTime",
    ];
    // ClickHouse's type names are case-insensitive (`INT8` is Int8).
    let name = known.iter().find(|k| k.eq_ignore_ascii_case(&ty))?;
    parse(&format!("to{name}({inner})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(select: &str) -> String {
        let statement = sqlparser::parser::Parser::parse_sql(&ClickHouseDialect {}, select)
            .unwrap()
            .remove(0);
        rewrite(statement, &Schema::empty()).to_string()
    }

    #[test]
    fn clickhouse_functions_become_datafusion_expressions() {
        assert_eq!(
            rewritten("SELECT match(s, '^a'), CAST(n AS UInt32), n::Int8, intDiv(n, 2) FROM q"),
            "SELECT CAST(regexp_like(s, '^a') AS TINYINT UNSIGNED), toUInt32(n), toInt8(n), \
             intDiv(n, 2) FROM q"
        );
        // Unknown names and shapes are left for the planner to judge.
        assert_eq!(
            rewritten("SELECT nosuch(s), match(s) FROM q"),
            "SELECT nosuch(s), match(s) FROM q"
        );
    }
}
