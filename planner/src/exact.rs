//! Which parts of a view's SELECT DataFusion runs exactly as ClickHouse
//! does: the functions and operators the differential test
//! (tests/kafka_views.rs) checks against ClickHouse's own answers. A view
//! that uses anything else runs in the embedded ClickHouse engine instead,
//! so no view is ever silently different. Uses sqlparser's AST.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArguments, SetExpr, Statement, TableFactor, UnaryOperator,
};

/// Functions DataFusion (with kafkahouse's own) computes as ClickHouse does,
/// lower-cased. Each is in the differential test; keep the two in step.
const EXACT_FUNCTIONS: &[&str] = &[
    "tostring",
    "touint8",
    "touint16",
    "touint32",
    "touint64",
    "toint8",
    "toint16",
    "toint32",
    "toint64",
    "tofloat32",
    "tofloat64",
    "todate",
    "todatetime",
    "tounixtimestamp",
    "tounixtimestamp64milli",
    "fromunixtimestamp64milli",
    "tostartofminute",
    "tostartofhour",
    "tostartofday",
    "toyyyymm",
    "if",
    "multiif",
    "jsonextractstring",
    "jsonextractint",
    "jsonextractfloat",
    "jsonextractbool",
    "jsonextractraw",
    "jsonextract",
    "visitparamextractstring",
    "visitparamextractint",
    "visitparamextractfloat",
    "visitparamextractraw",
    "splitbychar",
    "splitbystring",
    "arraystringconcat",
    "has",
    "empty",
    "notempty",
    "match",
    "extract",
    "replaceregexpall",
    "replaceregexpone",
    "startswith",
    "endswith",
    "lowerutf8",
    "upperutf8",
    "intdiv",
    "modulo",
    "greatest",
    "least",
    "ifnull",
    "nullif",
    "assumenotnull",
    "tolowcardinality",
    "toyear",
    "tomonth",
    "todayofmonth",
    "tohour",
    "tostartofmonth",
    "lower",
    "upper",
    "concat",
    "coalesce",
    "length",
    "count",
    "uniqexact",
    "arrayjoin",
];

/// The types `CAST(x AS T)` / `x::T` converts to exactly (through the
/// `toT` functions above).
const EXACT_CASTS: &[&str] = &[
    "UInt8", "UInt16", "UInt32", "UInt64", "Int8", "Int16", "Int32", "Int64", "Float32", "Float64",
    "String", "Date", "DateTime",
];

/// What in `statement` DataFusion would not run exactly as ClickHouse does,
/// each named as the user wrote it; empty when all of it is exact.
pub fn inexact_parts(statement: &Statement) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut note = |what: String| {
        if !found.contains(&what) {
            found.push(what);
        }
    };
    if let Statement::Query(query) = statement {
        match query.body.as_ref() {
            SetExpr::Select(select) => {
                let plain_source = select.from.len() == 1
                    && select.from[0].joins.is_empty()
                    && matches!(
                        select.from[0].relation,
                        TableFactor::Table { args: None, .. }
                    );
                if !plain_source {
                    note("a FROM clause other than the Kafka table alone".to_string());
                }
                for alias in shadowing_aliases(select) {
                    note(format!(
                        "the alias {alias}, which ClickHouse reads in place of the column {alias}"
                    ));
                }
            }
            _ => note("a set operation (UNION, EXCEPT, INTERSECT)".to_string()),
        }
        if query.with.is_some() {
            note("WITH".to_string());
        }
    }
    let _ = sqlparser::ast::visit_expressions(statement, |expr| {
        if let Some(what) = inexact(expr) {
            note(what);
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// Aliases of SELECT items that are also column names read elsewhere in
/// the SELECT: ClickHouse reads the alias there (`SELECT n * 2 AS n ...
/// WHERE n > 1` filters on `n * 2`), SQL reads the column.
fn shadowing_aliases(select: &sqlparser::ast::Select) -> Vec<String> {
    use sqlparser::ast::SelectItem;
    let aliases: Vec<(usize, String)> = select
        .projection
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            SelectItem::ExprWithAlias { expr, alias } => match expr {
                Expr::Identifier(name) if name.value == alias.value => None,
                _ => Some((i, alias.value.clone())),
            },
            _ => None,
        })
        .collect();
    fn names(expr: &Expr) -> Vec<String> {
        let mut read = Vec::new();
        let _ = sqlparser::ast::visit_expressions(expr, |e| {
            if let Expr::Identifier(name) = e {
                read.push(name.value.clone());
            }
            ControlFlow::<()>::Continue(())
        });
        read
    }
    let mut read: Vec<String> = Vec::new();
    for (i, item) in select.projection.iter().enumerate() {
        let expr = match item {
            SelectItem::ExprWithAlias { expr, .. } | SelectItem::UnnamedExpr(expr) => expr,
            _ => continue,
        };
        // An item's own expression reads the column, not its alias.
        let own = aliases
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, a)| a.as_str());
        read.extend(names(expr).into_iter().filter(|n| Some(n.as_str()) != own));
    }
    for expr in select
        .selection
        .iter()
        .chain(select.having.iter())
        .chain(select.prewhere.iter())
    {
        read.extend(names(expr));
    }
    if let sqlparser::ast::GroupByExpr::Expressions(exprs, _) = &select.group_by {
        for expr in exprs {
            read.extend(names(expr));
        }
    }
    let mut found = Vec::new();
    for (_, alias) in aliases {
        if read.contains(&alias) && !found.contains(&alias) {
            found.push(alias);
        }
    }
    found
}

/// [`inexact_parts`] of a SELECT's text; a text the SQL parser does not
/// read (or nests too deep to read) is inexact as a whole.
pub fn inexact_in_text(select_sql: &str) -> Vec<String> {
    let unread = || vec!["syntax kafkahouse's SQL parser does not read".to_string()];
    let rewritten = crate::ternary::rewrite(select_sql);
    let sql = rewritten.as_deref().unwrap_or(select_sql);
    if crate::tokens::nesting_depth(&crate::tokens::significant(sql))
        > crate::tokens::MAX_SELECT_DEPTH
    {
        return unread();
    }
    match sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::ClickHouseDialect {}, sql) {
        Ok(statements) if statements.len() == 1 => inexact_parts(&statements[0]),
        _ => unread(),
    }
}

/// Why `expr` itself (not its arguments, visited on their own) is not exact.
fn inexact(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Value(_)
        | Expr::Nested(_)
        | Expr::IsNull(_)
        | Expr::IsNotNull(_) => None,
        Expr::InList { list, .. } if !list.is_empty() => None,
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => None,
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if matches!(expr.as_ref(), Expr::Value(_)) => None,
        // ClickHouse widens integer arithmetic (UInt8 + UInt8 is UInt16)
        // and divides into Float64; DataFusion keeps the operands' type.
        Expr::BinaryOp { op, .. } => match op {
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::And
            | BinaryOperator::Or => None,
            other => Some(format!("the operator {other}")),
        },
        Expr::Cast { data_type, .. } => {
            let ty = data_type.to_string();
            if EXACT_CASTS.iter().any(|t| t.eq_ignore_ascii_case(&ty)) {
                None
            } else {
                Some(format!("CAST to {ty}"))
            }
        }
        Expr::Function(f) => {
            let name = f.name.to_string();
            let windowed = f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty();
            let plain_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(list) => list.clauses.is_empty(),
                FunctionArguments::Subquery(_) => false,
            };
            let known = EXACT_FUNCTIONS.contains(&name.to_ascii_lowercase().as_str());
            if known && !windowed && plain_args && f.parameters == FunctionArguments::None {
                None
            } else {
                Some(format!("{name}()"))
            }
        }
        other => {
            let text = other.to_string();
            let short: String = text.chars().take(40).collect();
            Some(if short.len() < text.len() {
                format!("{short}...")
            } else {
                short
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::ClickHouseDialect;

    fn parts(select: &str) -> Vec<String> {
        let statement = sqlparser::parser::Parser::parse_sql(&ClickHouseDialect {}, select)
            .unwrap()
            .remove(0);
        inexact_parts(&statement)
    }

    #[test]
    fn checked_functions_are_exact() {
        assert!(parts(
            "SELECT toUInt32(n) AS m, upper(s), CAST(n AS UInt8) FROM q WHERE n > 1 AND s IN ('a')"
        )
        .is_empty());
        assert!(parts("SELECT count(), uniqExact(s) FROM q GROUP BY s").is_empty());
    }

    #[test]
    fn the_rest_is_named() {
        assert_eq!(
            parts("SELECT formatDateTime(t, '%F'), n * 2, n / 2 FROM q"),
            ["formatDateTime()", "the operator *", "the operator /"]
        );
        assert_eq!(
            parts("SELECT n FROM q JOIN d USING (n)"),
            ["a FROM clause other than the Kafka table alone"]
        );
        assert_eq!(
            parts("SELECT CAST(n AS Decimal(9, 2)) FROM q"),
            ["CAST to DECIMAL(9,2)"]
        );
        assert_eq!(
            parts("SELECT toUInt32(n) AS n FROM q WHERE n > 1"),
            ["the alias n, which ClickHouse reads in place of the column n"]
        );
        // Its own expression reads the column.
        assert!(parts("SELECT toUInt32(n) AS n, upper(s) AS s FROM q").is_empty());
    }
}
