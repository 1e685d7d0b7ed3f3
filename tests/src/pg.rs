//! Statements through the PostgreSQL wire (tokio-postgres): rows and single
//! values of simple queries, the error a statement gets, and polling a query
//! until it answers what a test expects.

use std::time::{Duration, Instant};

/// The text of a simple query's rows: one Vec per row, NULL as "NULL".
pub async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
    messages
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The single value of a one-row, one-column simple query.
pub async fn scalar(client: &tokio_postgres::Client, sql: &str) -> String {
    let rows = rows(client, sql).await;
    assert_eq!(rows.len(), 1, "{sql} returned {rows:?}");
    rows[0][0].clone()
}

/// The error message a failing statement gets (panics if it succeeds).
pub async fn error_of(client: &tokio_postgres::Client, sql: &str) -> String {
    match client.simple_query(sql).await {
        Ok(m) => panic!("{sql} should fail, got {} messages", m.len()),
        Err(e) => error_text(&e),
    }
}

/// The server's message of a tokio-postgres error.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|db| db.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

/// Polls `sql` (a one-value query) until it returns `expected`, for at most
/// `timeout`; returns the last value seen. Consumption is asynchronous, so
/// tests wait for the condition, never for a fixed time.
pub async fn wait_for(
    client: &tokio_postgres::Client,
    sql: &str,
    expected: &str,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let value = scalar(client, sql).await;
        if value == expected || Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
