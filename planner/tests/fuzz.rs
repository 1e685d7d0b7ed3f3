//! Fuzz targets over the planner's readers of user text (issue 10): the
//! statement splitter with the helpers the frontends call on each statement
//! (`fuzz_split`), and the DDL and column type parsers (`fuzz_ddl_and_types`).
//! Driven by tests/src/fuzz/ (bounded under `cargo test`, timed with
//! `KAFKAHOUSE_FUZZ_SECONDS`, see scripts/fuzz).

#[path = "../../tests/src/fuzz/mod.rs"]
mod fuzz;

use catalog::ChType;
use fuzz::{sql, Target};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Fails the case with `why` unless `ok`.
fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(why()))
    }
}

/// Where `part` sits in `whole`, if it is a slice of it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// Whether `range` can slice `text` (in bounds, on character boundaries).
fn slices(text: &str, range: &std::ops::Range<usize>) -> bool {
    range.start <= range.end && text.get(range.clone()).is_some()
}

/// What the splitter and the helpers promise about any text.
fn split_properties(text: &str) -> Result<(), TestCaseError> {
    let statements = planner::split(text);
    check(planner::split(text) == statements, || "split is not deterministic".into())?;
    let mut end_of_previous = 0;
    for s in &statements {
        let Some(start) = offset_in(text, s.sql) else {
            return Err(TestCaseError::fail(format!("{:?} is not a slice of the input", s.sql)));
        };
        check(start >= end_of_previous, || format!("{:?} overlaps the statement before it", s.sql))?;
        end_of_previous = start + s.sql.len();
        check(!s.sql.is_empty(), || "an empty statement".into())?;
        check(s.sql.trim() == s.sql, || format!("{:?} keeps surrounding whitespace", s.sql))?;
        statement_helpers(s.sql)?;
    }
    tokens_in_bounds(text)
}

/// The helpers frontends call on one statement's text.
fn statement_helpers(sql: &str) -> Result<(), TestCaseError> {
    tokens_in_bounds(sql)?;
    let count = planner::placeholder_count(sql);
    let bound = planner::bind_placeholders(sql, |n| (n <= 3).then(|| format!("'v{n}'")));
    check(count > 3 || bound.is_some(), || {
        format!("{count} placeholders, all bound, yet bind_placeholders failed")
    })?;
    let _ = planner::bind_placeholders(sql, |_| None);
    for (name, range) in planner::table_references(sql) {
        check(slices(sql, &range), || format!("table reference {name:?} at {range:?} does not slice the statement"))?;
    }
    if let Some(range) = planner::insert_target_span(sql) {
        check(slices(sql, &range), || format!("insert target at {range:?} does not slice the statement"))?;
    }
    let stripped = planner::without_output_format(sql);
    check(offset_in(sql, stripped).is_some(), || "without_output_format returned text not in the statement".into())
}

/// Token ranges slice the text they came from, in order.
fn tokens_in_bounds(text: &str) -> Result<(), TestCaseError> {
    let mut previous_end = 0;
    for t in planner::tokens::significant(text) {
        let range = t.start..t.end;
        check(slices(text, &range), || format!("token {:?} at {range:?} does not slice the text", t.token))?;
        check(t.start >= previous_end, || format!("token {:?} at {range:?} starts before the one before it ends", t.token))?;
        previous_end = t.end;
    }
    Ok(())
}

#[test]
fn fuzz_split() {
    let target = Target::new("fuzz_split", module_path!(), 200).forked();
    let input = || {
        prop_oneof![
            8 => sql::script(),
            2 => sql::soup(),
            2 => sql::nesting(),
            1 => sql::big(),
            2 => any::<String>(),
            2 => sql::lossy_bytes(),
        ]
    };
    fuzz::run(&target, input, |text| split_properties(&text));
}

/// A type that parsed prints as text that parses back to it.
fn type_round_trip(text: &str) -> Result<(), TestCaseError> {
    if let Ok(ty) = ChType::parse(text) {
        let printed = ty.to_string();
        match ChType::parse(&printed) {
            Ok(again) => check(again == ty, || format!("{text:?} parsed as {ty:?}, printed as {printed:?}, which parses as {again:?}"))?,
            Err(e) => return Err(TestCaseError::fail(format!("{text:?} parsed as {ty:?}, printed as {printed:?}, which does not parse: {e}"))),
        }
        let _ = ty.to_arrow_field("c");
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum DdlInput {
    Type(String),
    KafkaTable(String),
    View(String),
    NamedCollection(String),
    Any(String),
}

fn ddl_properties(input: DdlInput) -> Result<(), TestCaseError> {
    let every_parser = |sql: &str| -> Result<(), TestCaseError> {
        if let Ok(table) = planner::parse_create_kafka_table(sql) {
            for (_, ty) in &table.columns {
                type_round_trip(ty)?;
            }
        }
        if let Ok(view) = planner::parse_create_materialized_view(sql) {
            let _ = planner::without_output_format(&view.select_sql);
            let _ = planner::split(&view.select_sql);
        }
        let _ = planner::parse_named_collection(sql);
        Ok(())
    };
    match input {
        DdlInput::Type(text) => type_round_trip(&text),
        DdlInput::KafkaTable(sql)
        | DdlInput::View(sql)
        | DdlInput::NamedCollection(sql)
        | DdlInput::Any(sql) => {
            every_parser(&sql)?;
            // As the server meets them: one statement of a query text.
            for s in planner::split(&sql) {
                every_parser(s.sql)?;
            }
            Ok(())
        }
    }
}

#[test]
fn fuzz_ddl_and_types() {
    let target = Target::new("fuzz_ddl_and_types", module_path!(), 200).forked();
    let input = || {
        prop_oneof![
            4 => sql::type_text().prop_map(DdlInput::Type),
            3 => sql::damaged(sql::create_kafka_table()).prop_map(DdlInput::KafkaTable),
            2 => sql::damaged(sql::create_materialized_view()).prop_map(DdlInput::View),
            1 => sql::damaged(sql::named_collection()).prop_map(DdlInput::NamedCollection),
            1 => sql::script().prop_map(DdlInput::Any),
        ]
    };
    fuzz::run(&target, input, ddl_properties);
}
