//! What one consumer holds of messages read and not yet written, in payload
//! bytes, against its limit (`kafkahouse_max_consumer_bytes`).
//!
//! Every message the reader keeps is counted from the moment it is polled
//! until its block is committed, dropped (revoked) or abandoned, whatever
//! the path: the count lives in a [`Held`] that travels with the messages
//! (pending, then in their block) and gives its bytes back when dropped.
//! The reader cuts and pauses by it; the writer only drops blocks.
//!
//! Uses only the standard library.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A consumer's limit and what it holds now.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    held: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            held: AtomicUsize::new(0),
        })
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Payload bytes held now, across pending messages and cut blocks.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// A new, empty share of the budget.
    pub(crate) fn share(self: &Arc<Self>) -> Held {
        Held {
            budget: self.clone(),
            bytes: 0,
        }
    }
}

/// Bytes counted against a budget until this is dropped.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Held {
    pub(crate) fn add(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.budget.held.fetch_add(bytes, Ordering::AcqRel);
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_give_their_bytes_back_when_dropped() {
        let budget = Budget::new(100);
        let mut a = budget.share();
        a.add(30);
        a.add(10);
        let mut b = budget.share();
        b.add(5);
        assert_eq!((a.bytes(), budget.held()), (40, 45));
        drop(a);
        assert_eq!(budget.held(), 5);
        drop(b);
        assert_eq!(budget.held(), 0);
        assert_eq!(budget.limit(), 100);
    }
}
