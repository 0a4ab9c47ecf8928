//! The delay before a message the gateway could not decide goes back to the queue.
//!
//! A transient failure of the gateway's own (a CRL server down with no current copy, the
//! replay journal out of reach) or a broker that did not take a copy (a negative
//! confirmation) requeues the delivery; the broker hands it straight back. Without a
//! delay the gateway would spin on it. So the delivery is held for a delay before it is
//! requeued: 100 ms at first, doubling while such failures continue, at most
//! [`MAX`], and back to none once a message is published again (the cause is gone).
//! The delay is shared by the process: while the CRL server is down, every message that
//! needs it waits, and the queue is not spun through faster than the delay allows.

use std::sync::Mutex;
use std::time::Duration;

/// The first delay.
pub const FIRST: Duration = Duration::from_millis(100);
/// The longest delay.
pub const MAX: Duration = Duration::from_secs(5);

/// The current delay.
#[derive(Debug, Default)]
pub struct Backoff {
    /// `None` after a success.
    next: Mutex<Option<Duration>>,
}

impl Backoff {
    /// A failure: the delay to wait now (the next one will be twice as long, at most
    /// [`MAX`]).
    pub fn failed(&self) -> Duration {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let now = next.unwrap_or(FIRST);
        *next = Some((now * 2).min(MAX));
        now
    }

    /// A success: the next failure waits [`FIRST`] again.
    pub fn succeeded(&self) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_failing_bounded_and_resets_on_success() {
        let b = Backoff::default();
        let delays: Vec<_> = (0..8).map(|_| b.failed()).collect();
        assert_eq!(delays[0], FIRST);
        assert_eq!(delays[1], FIRST * 2);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*delays.last().unwrap(), MAX);
        b.succeeded();
        assert_eq!(b.failed(), FIRST);
    }
}
