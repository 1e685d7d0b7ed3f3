//! Who an HTTP request says it is, as ClickHouse's HTTP interface reads it:
//! `Authorization: Basic`, the `X-ClickHouse-User` / `X-ClickHouse-Key`
//! headers, or the `user` / `password` URL parameters (in that order); none
//! of them is user `default` without a password. Uses base64 and axum's
//! headers.

use std::collections::BTreeMap;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use base64::Engine;

use crate::error::{codes, ChError};

/// `(user, password)` of a request.
pub fn of(
    params: &BTreeMap<String, String>,
    headers: &HeaderMap,
) -> Result<(String, String), ChError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(value) = header(AUTHORIZATION.as_str()) {
        let Some(encoded) = value.strip_prefix("Basic ") else {
            return Err(bad("only Basic authorization is supported"));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("Authorization: Basic is not base64"))?;
        let text =
            String::from_utf8(decoded).map_err(|_| bad("Authorization: Basic is not UTF-8"))?;
        let (user, password) = text.split_once(':').unwrap_or((text.as_str(), ""));
        return Ok((user.to_string(), password.to_string()));
    }
    if let Some(user) = header("X-ClickHouse-User") {
        return Ok((
            user.to_string(),
            header("X-ClickHouse-Key").unwrap_or("").to_string(),
        ));
    }
    Ok((
        params
            .get("user")
            .cloned()
            .unwrap_or_else(|| "default".to_string()),
        params.get("password").cloned().unwrap_or_default(),
    ))
}

fn bad(why: &str) -> ChError {
    ChError::new(
        codes::AUTHENTICATION_FAILED,
        format!("{why}. (AUTHENTICATION_FAILED)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_then_headers_then_parameters() {
        let params = BTreeMap::from([
            ("user".to_string(), "p".to_string()),
            ("password".to_string(), "pw".to_string()),
        ]);
        let mut headers = HeaderMap::new();
        assert_eq!(of(&params, &headers).unwrap(), ("p".into(), "pw".into()));
        headers.insert("X-ClickHouse-User", "h".parse().unwrap());
        headers.insert("X-ClickHouse-Key", "k".parse().unwrap());
        assert_eq!(of(&params, &headers).unwrap(), ("h".into(), "k".into()));
        // alice:s:ecret
        headers.insert(AUTHORIZATION, "Basic YWxpY2U6czplY3JldA==".parse().unwrap());
        assert_eq!(
            of(&params, &headers).unwrap(),
            ("alice".into(), "s:ecret".into())
        );
        assert_eq!(
            of(&BTreeMap::new(), &HeaderMap::new()).unwrap(),
            ("default".into(), String::new())
        );
    }
}
