//! The chDB binding (libchdb loaded at run time): to be moved here from
//! `backend/embedded.rs` (issue 11).
