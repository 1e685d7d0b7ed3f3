//! What of a Kafka table's settings is never shown: secret settings, and
//! passwords inside URLs.
//!
//! Uses nothing but std.

/// Settings whose values are secrets: never logged, never shown.
pub const SECRET_SETTINGS: [&str; 1] = ["kafka_sasl_password"];

/// A URL with its password hidden (`http://user:[HIDDEN]@host`): a schema
/// registry URL may carry credentials.
pub fn without_url_password(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return value.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:[HIDDEN]{}", &rest[at..])
        }
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            without_url_password("http://u:secret@registry:8081/x"),
            "http://u:[HIDDEN]@registry:8081/x"
        );
        assert_eq!(
            without_url_password("http://registry:8081"),
            "http://registry:8081"
        );
        assert_eq!(without_url_password("1"), "1");
    }
}
