//! Errors as ClickHouse reports them: a code and a message (ARCHITECTURE.md,
//! invariant 6), and the codes kafkahouse raises. At the bottom, so the
//! catalog's checks, the planner and the server return the same error; each
//! frontend renders it in its own way. Uses nothing else.

use std::fmt;

/// ClickHouse error codes kafkahouse itself raises.
pub mod codes {
    pub const DUPLICATE_COLUMN: i32 = 15;
    pub const NO_SUCH_COLUMN_IN_TABLE: i32 = 16;
    pub const BAD_ARGUMENTS: i32 = 36;
    pub const NOT_IMPLEMENTED: i32 = 48;
    pub const UNKNOWN_TABLE: i32 = 60;
    pub const SYNTAX_ERROR: i32 = 62;
    pub const UNKNOWN_DATABASE: i32 = 81;
    pub const NETWORK_ERROR: i32 = 210;
    pub const CANNOT_PARSE_TEXT: i32 = 6;
    pub const INCORRECT_DATA: i32 = 117;
    pub const CANNOT_CONVERT_TYPE: i32 = 70;
    pub const TIMEOUT_EXCEEDED: i32 = 159;
    pub const QUERY_NOT_ALLOWED: i32 = 620;
    pub const NAMED_COLLECTION_DOESNT_EXIST: i32 = 669;
    pub const NAMED_COLLECTION_ALREADY_EXISTS: i32 = 670;
    pub const NAMED_COLLECTION_IS_IMMUTABLE: i32 = 671;
    pub const NAMED_COLLECTION_IS_USED: i32 = 769;
    pub const UNKNOWN_TYPE: i32 = 50;
    pub const TOO_DEEP_RECURSION: i32 = 306;
    pub const LOGICAL_ERROR: i32 = 49;
    pub const CANNOT_READ_ALL_DATA: i32 = 33;
    pub const UNKNOWN_FORMAT: i32 = 73;
    pub const UNKNOWN_COMPRESSION_METHOD: i32 = 89;
    pub const CHECKSUM_DOESNT_MATCH: i32 = 40;
    pub const CANNOT_DECOMPRESS: i32 = 271;
    pub const READONLY: i32 = 164;
    pub const UNEXPECTED_PACKET_FROM_CLIENT: i32 = 101;
    pub const SESSION_NOT_FOUND: i32 = 372;
    pub const SESSION_IS_LOCKED: i32 = 373;
    pub const TABLE_ALREADY_EXISTS: i32 = 57;
    pub const UNKNOWN_EXCEPTION: i32 = 1002;
    /// ClickHouse reports librdkafka failures as std exceptions.
    pub const KAFKA_ERROR: i32 = 1001;
    pub const UNKNOWN_SETTING: i32 = 115;
    pub const AUTHENTICATION_FAILED: i32 = 516;
    pub const NUMBER_OF_ARGUMENTS_DOESNT_MATCH: i32 = 42;
    pub const ILLEGAL_COLUMN: i32 = 44;
    pub const UNKNOWN_IDENTIFIER: i32 = 47;
}

/// An error with ClickHouse's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChError {
    pub code: i32,
    /// The text after `DB::Exception: `.
    pub message: String,
}

impl std::error::Error for ChError {}

impl fmt::Display for ChError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code: {}. DB::Exception: {}", self.code, self.message)
    }
}

impl ChError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Reads an exception as a ClickHouse server prints it. Current servers
    /// write `Code: 60. DB::Exception: msg. (UNKNOWN_TABLE) (version ...)`;
    /// 18.x writes `Code: 60, e.displayText() = DB::Exception: msg, e.what() =
    /// DB::Exception`. Both become code 60 and `msg...`, shown the current way.
    pub fn from_server_text(text: &str) -> Self {
        let text = text.trim();
        let parsed = text.strip_prefix("Code: ").and_then(|rest| {
            let digits = rest.find(|c: char| !c.is_ascii_digit())?;
            let code: i32 = rest[..digits].parse().ok()?;
            let after = &rest[digits..];
            let message = match after.find("DB::Exception: ") {
                Some(i) => &after[i + "DB::Exception: ".len()..],
                None => after.trim_start_matches(['.', ',', ' ']),
            };
            let message = message
                .strip_suffix(", e.what() = DB::Exception")
                .unwrap_or(message);
            Some(ChError::new(code, message.trim()))
        });
        parsed.unwrap_or_else(|| ChError::new(codes::UNKNOWN_EXCEPTION, text))
    }

    /// The SQLSTATE a PostgreSQL client expects for this kind of error.
    pub fn sqlstate(&self) -> &'static str {
        match self.code {
            codes::SYNTAX_ERROR => "42601",
            codes::UNKNOWN_TABLE => "42P01",
            codes::UNKNOWN_DATABASE => "3D000",
            47 => "42703", // UNKNOWN_IDENTIFIER
            46 => "42883", // UNKNOWN_FUNCTION
            57 => "42P07", // TABLE_ALREADY_EXISTS
            516 => "28P01", // AUTHENTICATION_FAILED: invalid_password
            82 => "42P04", // DATABASE_ALREADY_EXISTS
            codes::NOT_IMPLEMENTED => "0A000",
            codes::NETWORK_ERROR => "08006",
            394 => "57014", // QUERY_WAS_CANCELLED
            _ => "XX000",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_server_text() {
        let e = ChError::from_server_text(
            "Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE) (version 24.8.1)\n",
        );
        assert_eq!(e.code, 60);
        assert_eq!(
            e.to_string(),
            "Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE) (version 24.8.1)"
        );
        assert_eq!(e.sqlstate(), "42P01");
    }

    #[test]
    fn old_server_text_is_shown_the_current_way() {
        let e = ChError::from_server_text(
            "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n",
        );
        assert_eq!(e.code, 60);
        assert_eq!(
            e.to_string(),
            "Code: 60. DB::Exception: Table default.nope doesn't exist."
        );
    }

    #[test]
    fn unstructured_text_keeps_all_of_it() {
        let e = ChError::from_server_text("something broke");
        assert_eq!(e.code, codes::UNKNOWN_EXCEPTION);
        assert_eq!(e.message, "something broke");
    }
}
