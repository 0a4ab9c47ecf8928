//! Acknowledgements, batched: one `basic.ack` with `multiple` for every run of finished
//! deliveries, instead of one frame (and, on a quorum queue, one Raft command) each.
//!
//! A delivery may be acknowledged only once its republished copy was confirmed, and
//! deliveries finish out of order (each is its own task). [`Acks`] keeps the delivery tags
//! of one channel in the order they arrived; a finished delivery waits until every
//! earlier one has finished too, then the whole run is acknowledged with one `multiple`
//! acknowledgement on its highest tag (AMQP 0-9-1 `basic.ack`, `multiple`: "all
//! outstanding messages up to and including" that tag). A delivery still being worked on
//! is never covered: the run stops before it.
//!
//! A negative acknowledgement (requeue) goes out at once, alone; its tag then counts as
//! settled, so a later `multiple` acknowledgement, which covers only outstanding
//! deliveries, does not touch it.
//!
//! Each delivery may carry the replay key it was admitted with; the acknowledgement that
//! covers it returns the key, to be settled ([`waxseal_message::Bus::settle`]) now that the
//! broker will not redeliver it.
//!
//! Tags are per channel; a new connection starts a new [`Acks`].

use std::collections::BTreeMap;

use amqprs::channel::{BasicAckArguments, BasicNackArguments, Channel};

/// The deliveries of one channel that are not acknowledged yet.
pub struct Acks {
    /// The channel they came on.
    channel: Channel,
    /// Delivery tag → `None` while it is being worked on, `Some` (its replay key if it has
    /// one) once its acknowledgement may go out.
    pending: BTreeMap<u64, Option<Option<Key>>>,
}

/// A replay key ([`waxseal_message::Admitted::replay_key`]).
pub type Key = [u8; 32];

impl Acks {
    /// No delivery yet on `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            pending: BTreeMap::new(),
        }
    }

    /// A delivery arrived (before its task starts).
    pub fn arrived(&mut self, tag: u64) {
        self.pending.insert(tag, None);
    }

    /// How many deliveries are not acknowledged yet.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether every delivery was settled.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The delivery `tag` is done: its copy was confirmed; `key`: the replay key it was
    /// admitted with. Its acknowledgement goes out with the next [`Acks::flush`] that
    /// reaches it.
    pub fn done(&mut self, tag: u64, key: Option<Key>) {
        if let Some(slot) = self.pending.get_mut(&tag) {
            *slot = Some(key);
        }
    }

    /// Acknowledges the run of done deliveries at the front, if any (one frame), and
    /// returns what it covered.
    pub async fn flush(&mut self) -> crate::amqp::Result<Covered> {
        let mut last = None;
        let mut covered = Covered::default();
        while let Some(entry) = self.pending.first_entry() {
            if entry.get().is_none() {
                break;
            }
            let tag = *entry.key();
            if let Some(key) = entry.remove() {
                covered.keys.extend(key);
                last = Some(tag);
            }
            covered.deliveries += 1;
        }
        if let Some(tag) = last {
            self.channel
                .basic_ack(BasicAckArguments::new(tag, true))
                .await?;
        }
        Ok(covered)
    }

    /// The delivery `tag` must be tried again (the broker refused its copy): requeued at
    /// once, on its own. The deliveries after it may now be at the front: the next
    /// [`Acks::flush`] acknowledges them.
    pub async fn requeue(&mut self, tag: u64) -> crate::amqp::Result<()> {
        self.channel
            .basic_nack(BasicNackArguments::new(tag, false, true))
            .await?;
        self.pending.remove(&tag);
        Ok(())
    }
}

/// What one acknowledgement covered.
#[derive(Debug, Default)]
pub struct Covered {
    /// How many deliveries.
    pub deliveries: usize,
    /// The replay keys of those that had one, to settle.
    pub keys: Vec<Key>,
}
