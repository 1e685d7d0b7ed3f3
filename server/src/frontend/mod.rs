//! Wire protocols. A frontend only translates between its wire format and
//! (statement text, session) → outcomes; it never decides what SQL means.

pub mod http;
pub mod native;
pub mod pg;
