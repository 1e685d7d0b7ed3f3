//! ClickHouse's HTTP interface of a kafkahouse (reqwest), for queries that
//! send data, with polling until a query answers what a test expects.

use std::time::{Duration, Instant};

use crate::Kafkahouse;

/// ClickHouse's HTTP interface of a kafkahouse, for queries with data.
pub struct ChHttp {
    base: String,
    client: reqwest::Client,
}

impl ChHttp {
    pub fn new(server: &Kafkahouse) -> ChHttp {
        ChHttp {
            base: format!("http://{}", server.http_addr),
            client: reqwest::Client::new(),
        }
    }

    /// `query` with `body` as its data; panics on an error answer.
    pub async fn post(&self, query: &str, body: Vec<u8>) -> Vec<u8> {
        self.post_with(query, body, &[])
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// `query` with `body` and settings as URL parameters; an error answer
    /// is returned as its text.
    pub async fn post_with(
        &self,
        query: &str,
        body: Vec<u8>,
        settings: &[(&str, &str)],
    ) -> Result<Vec<u8>, String> {
        let mut params = vec![("query", query)];
        params.extend_from_slice(settings);
        let response = self
            .client
            .post(&self.base)
            .query(&params)
            .body(body)
            .send()
            .await
            .expect("HTTP request");
        let status = response.status();
        let bytes = response.bytes().await.expect("HTTP body").to_vec();
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)))
        }
    }

    pub async fn run(&self, query: &str) -> String {
        String::from_utf8_lossy(&self.post(query, Vec::new()).await).into_owned()
    }

    /// Waits until `query` answers `expected` (consumption is asynchronous).
    /// `wait_for`, failing the test when `query` never answers `expected`.
    pub async fn eventually(&self, query: &str, expected: &str, timeout: Duration) {
        let answer = self.wait_for(query, expected, timeout).await;
        assert_eq!(answer, expected, "{query}");
    }

    pub async fn wait_for(&self, query: &str, expected: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.run(query).await;
            if answer.trim() == expected || Instant::now() >= deadline {
                return answer.trim().to_string();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
