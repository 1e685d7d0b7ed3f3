//! What the differential checks of view functions share
//! (`tests/kafka_views.rs`, `tests/engine_views.rs`): a Kafka table of
//! inputs, a table holding each input row with one result column per
//! function, the view's SELECT list, and the comparison of every stored
//! result with ClickHouse's own evaluation of the same expression over the
//! stored inputs.

use crate::kafka::run;
use crate::scalar;

/// `inputs_queue`, a Kafka table of `inputs` (`name Type, ...`) read from
/// `topic` by `group`, and `results`, holding those inputs and a column
/// `r{i}` of each function's result type.
pub async fn function_tables(
    client: &tokio_postgres::Client,
    (bootstrap, topic, group): (&str, &str, &str),
    inputs: &str,
    functions: &[(&str, &str)],
) {
    let results: Vec<String> = functions
        .iter()
        .enumerate()
        .map(|(i, (ty, _))| format!("r{i} {ty}"))
        .collect();
    run(
        client,
        &format!(
            "CREATE TABLE results ({inputs}, {}) ENGINE = MergeTree ORDER BY n",
            results.join(", ")
        ),
    )
    .await;
    run(
        client,
        &format!(
            "CREATE TABLE inputs_queue ({inputs}) ENGINE = Kafka('{bootstrap}', '{topic}', '{group}', 'JSONEachRow')"
        ),
    )
    .await;
}

/// `expr AS r0, expr AS r1, ...`: the functions in a view's SELECT list.
pub fn function_select(functions: &[(&str, &str)]) -> String {
    functions
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| format!("{expr} AS r{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The functions whose result `r{i}` in `table` differs, in some row, from
/// ClickHouse's own evaluation of the expression over the inputs stored
/// next to it (NULL equal to NULL), each with one differing pair.
pub async fn disagreements(
    client: &tokio_postgres::Client,
    table: &str,
    functions: &[(&str, &str)],
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (i, (_, expr)) in functions.iter().enumerate() {
        let text = |e: &str| format!("ifNull(toString({e}), 'NULL')");
        let (stored, own) = (text(&format!("r{i}")), text(expr));
        let count = scalar(
            client,
            &format!("SELECT countIf({stored} != {own}) FROM {table}"),
        )
        .await;
        if count != "0" {
            let sample = scalar(
                client,
                &format!(
                    "SELECT concat({stored}, ' vs ', {own}) FROM {table} WHERE {stored} != {own} LIMIT 1"
                ),
            )
            .await;
            wrong.push(format!("{expr}: view vs ClickHouse: {sample}"));
        }
    }
    wrong
}
