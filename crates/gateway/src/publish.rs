//! Publishing, so that no single message can tear down the session.
//!
//! The broker answers a publish it will not take by closing the channel (RabbitMQ: `406
//! PRECONDITION_FAILED` for a message over `max_message_size`, for instance), and every
//! publish still unconfirmed on that channel fails with it, whichever message caused it.
//! [`Publisher`] therefore:
//!
//! - publishes on one shared channel with publisher confirms, reopened (on the same
//!   connection) once the broker closed it;
//! - on a failure while the connection is still up, publishes that message again **alone**,
//!   on a channel of its own, one message at a time ([`Publisher::publish_alone`]): a
//!   message that was only caught in another's failure now goes through; one that the
//!   broker refuses again on its own is the cause, a refusal of that message
//!   ([`PublishError::Refused`]), which the service sends to the rejected exchange as
//!   `republish-refused`;
//! - anything else ([`PublishError::Session`]: the connection lost, an exchange missing or not
//!   writable, which no message causes) ends the session as before: the service
//!   reconnects and the broker redelivers what was not acknowledged.

//!
//! Confirmations are matched to publishes here: the client hands out the
//! broker's `basic.ack`/`basic.nack` frames as they come, and publishes on a channel in
//! confirm mode are numbered from 1 in the order they were sent (AMQP 0-9-1 publisher
//! confirms), so every publish takes its number and its frame goes out under one lock.
//! A `basic.return` (a `mandatory` message no queue took) comes just before the
//! acknowledgement of the message it returns; like the previous client, the next
//! confirmation resolved carries it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{BasicPublishArguments, Channel, ConfirmSelectArguments};
use amqprs::connection::Connection;
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use tokio::sync::oneshot;

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// The broker refused this message, published alone (its text, from the broker).
    Refused(String),
    /// Not this message's doing: the session ends (the connection, an exchange...).
    Session(String),
}

/// The broker's answer to one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Taken (`basic.ack`).
    Ack,
    /// Taken by no queue: returned (`basic.return`, then `basic.ack`), a `mandatory`
    /// message only.
    Returned,
    /// Not taken (`basic.nack`: a queue full with `reject-publish`, for instance).
    Nack,
}

impl Confirmation {
    /// Whether the broker took the message (acknowledged it, returned or not).
    pub fn is_ack(self) -> bool {
        !matches!(self, Self::Nack)
    }
}

/// One message to publish.
pub struct Outgoing<'a> {
    /// The exchange.
    pub exchange: &'a str,
    /// The routing key.
    pub routing_key: &'a str,
    /// `mandatory`: the broker returns the message if no queue is bound for it.
    pub mandatory: bool,
    /// The body.
    pub body: &'a [u8],
    /// The properties.
    pub properties: BasicProperties,
}

/// A channel closed by the broker: its reply code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The AMQP reply code (`406` PRECONDITION_FAILED...).
    pub code: u16,
    /// The broker's text.
    pub text: String,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the broker closed the channel: {} {}",
            self.code, self.text
        )
    }
}

/// What one publish waits for: its confirmation, or the channel closed under it.
type Answer = Result<Confirmation, Closed>;

/// The publishes of one channel waiting for their confirmations.
#[derive(Default)]
struct Waiting {
    /// The number of the last publish sent.
    last: u64,
    /// Publish number → who waits for its answer.
    waiting: BTreeMap<u64, oneshot::Sender<Answer>>,
    /// Returns received whose acknowledgement has not come yet.
    returned: usize,
    /// Set once the broker closed the channel.
    closed: Option<Closed>,
}

impl Waiting {
    /// Answers publish `tag` (and, `multiple`, every earlier one still waiting).
    fn confirm(&mut self, tag: u64, multiple: bool, taken: bool) {
        let tags: Vec<u64> = if multiple {
            self.waiting.range(..=tag).map(|(t, _)| *t).collect()
        } else {
            vec![tag]
        };
        for t in tags {
            let Some(who) = self.waiting.remove(&t) else {
                continue;
            };
            let answer = if !taken {
                Confirmation::Nack
            } else if self.returned > 0 {
                self.returned -= 1;
                Confirmation::Returned
            } else {
                Confirmation::Ack
            };
            let _ = who.send(Ok(answer));
        }
    }

    /// The broker closed the channel: every publish still waiting fails with it.
    fn close(&mut self, closed: Closed) {
        for (_, who) in std::mem::take(&mut self.waiting) {
            let _ = who.send(Err(closed.clone()));
        }
        self.closed = Some(closed);
    }
}

/// The channel's callbacks: confirmations, returns and the broker closing it.
struct Confirms(Arc<Mutex<Waiting>>);

fn lock(w: &Mutex<Waiting>) -> MutexGuard<'_, Waiting> {
    // Nothing panics while holding it; a poisoned lock still holds consistent data.
    w.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait::async_trait]
impl ChannelCallback for Confirms {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> crate::amqp::Result<()> {
        lock(&self.0).close(Closed {
            code: close.reply_code(),
            text: close.reply_text().clone(),
        });
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> crate::amqp::Result<()> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> crate::amqp::Result<bool> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        lock(&self.0).confirm(ack.delivery_tag(), ack.mutiple(), true);
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        lock(&self.0).confirm(nack.delivery_tag(), nack.multiple(), false);
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {
        lock(&self.0).returned += 1;
    }
}

/// A channel in confirm mode, and the publishes waiting for its confirmations.
pub struct Confirming {
    channel: Channel,
    waiting: Arc<Mutex<Waiting>>,
}

/// How long opening a channel may take: on a connection that is going away the broker's
/// answer may never come, and a message task must not wait for it forever.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel of `conn` in confirm mode.
pub async fn confirming_channel(conn: &Connection) -> Result<Confirming, ChannelError> {
    let open = async {
        let channel = conn.open_channel(None).await?;
        let waiting = Arc::<Mutex<Waiting>>::default();
        channel.register_callback(Confirms(waiting.clone())).await?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await?;
        Ok::<_, amqprs::error::Error>(Confirming { channel, waiting })
    };
    match tokio::time::timeout(OPEN_TIMEOUT, open).await {
        Ok(r) => r.map_err(ChannelError::Amqp),
        Err(_) => Err(ChannelError::Timeout),
    }
}

/// Why a confirming channel could not be opened ([`confirming_channel`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The broker or the client refused (the connection is going away, for instance).
    #[error("{0}")]
    Amqp(amqprs::error::Error),
    /// No answer within [`OPEN_TIMEOUT`].
    #[error("no channel within {} s", OPEN_TIMEOUT.as_secs())]
    Timeout,
}

/// Why a publish on one channel failed.
enum Failed {
    /// The broker closed the channel (this message's doing, or another's).
    Closed(Closed),
    /// The connection (or the client) failed.
    Connection(String),
}

impl Failed {
    fn text(&self) -> String {
        match self {
            Self::Closed(c) => c.to_string(),
            Self::Connection(e) => e.clone(),
        }
    }
}

impl Confirming {
    fn is_open(&self) -> bool {
        self.channel.is_open() && lock(&self.waiting).closed.is_none()
    }

    /// Sends `m`; the answer comes on the receiver. The caller holds this channel alone
    /// while it sends, so that publish numbers follow the order of the frames.
    async fn send(&self, m: &Outgoing<'_>) -> Result<oneshot::Receiver<Answer>, Failed> {
        let (tx, rx) = oneshot::channel();
        {
            let mut w = lock(&self.waiting);
            if let Some(c) = &w.closed {
                return Err(Failed::Closed(c.clone()));
            }
            w.last += 1;
            let number = w.last;
            w.waiting.insert(number, tx);
        }
        let args = BasicPublishArguments::new(m.exchange, m.routing_key)
            .mandatory(m.mandatory)
            .finish();
        if let Err(e) = self
            .channel
            .basic_publish(m.properties.clone(), m.body.to_vec(), args)
            .await
        {
            return Err(Failed::Connection(e.to_string()));
        }
        Ok(rx)
    }
}

/// Waits for the answer to one publish.
async fn answer(rx: oneshot::Receiver<Answer>) -> Result<Confirmation, Failed> {
    match rx.await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(closed)) => Err(Failed::Closed(closed)),
        Err(_) => Err(Failed::Connection("the confirmation was lost".into())),
    }
}

/// The publishing side of one connection.
pub struct Publisher {
    conn: Connection,
    /// The shared channel, held while a publish is sent (see [`Confirming::send`]).
    channel: tokio::sync::Mutex<Confirming>,
    /// One message published alone at a time.
    solo: tokio::sync::Mutex<()>,
}

impl Publisher {
    /// A publisher on `conn`, publishing on `channel` (in confirm mode) first.
    pub fn new(conn: Connection, channel: Confirming) -> Self {
        Self {
            conn,
            channel: tokio::sync::Mutex::new(channel),
            solo: tokio::sync::Mutex::new(()),
        }
    }

    /// Sends `m` on the shared channel, reopened if the broker closed it.
    async fn send_shared(&self, m: &Outgoing<'_>) -> Result<oneshot::Receiver<Answer>, Failed> {
        let mut channel = self.channel.lock().await;
        if !channel.is_open() {
            *channel = confirming_channel(&self.conn)
                .await
                .map_err(|e| Failed::Connection(e.to_string()))?;
        }
        channel.send(m).await
    }

    /// Publishes `m` and waits for the broker's confirmation. A failure is retried once,
    /// alone (see the module's documentation), before it counts.
    pub async fn publish(&self, m: &Outgoing<'_>) -> Result<Confirmation, PublishError> {
        let first = match self.send_shared(m).await {
            Ok(rx) => answer(rx).await,
            Err(e) => Err(e),
        };
        match first {
            Ok(c) => Ok(c),
            Err(e) if !self.conn.is_open() => Err(PublishError::Session(e.text())),
            // Closed by this message, or caught in another's closing: alone, it tells.
            Err(_) => self.publish_alone(m).await,
        }
    }

    /// Publishes `m` on a channel of its own, alone, and waits for the confirmation.
    pub async fn publish_alone(&self, m: &Outgoing<'_>) -> Result<Confirmation, PublishError> {
        let _alone = self.solo.lock().await;
        let channel = confirming_channel(&self.conn)
            .await
            .map_err(|e| PublishError::Session(e.to_string()))?;
        let r = match channel.send(m).await {
            Ok(rx) => answer(rx).await,
            Err(e) => Err(e),
        };
        if channel.is_open() {
            let _ = channel.channel.close().await;
        }
        match r {
            Ok(c) => Ok(c),
            Err(Failed::Closed(c)) if self.conn.is_open() && refuses_the_message(c.code) => {
                Err(PublishError::Refused(c.to_string()))
            }
            Err(e) => Err(PublishError::Session(e.text())),
        }
    }
}

/// Whether the broker closing a channel with `code` (AMQP 0-9-1 reply codes), for a
/// message published alone on a fresh channel of a live connection, refuses that
/// message: a channel-level error other than a missing or forbidden exchange (those would
/// refuse every message: a deployment problem, not the message's).
pub fn refuses_the_message(code: u16) -> bool {
    const ACCESS_REFUSED: u16 = 403;
    const NOT_FOUND: u16 = 404;
    !matches!(code, ACCESS_REFUSED | NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_failures_are_the_messages_own() {
        // PRECONDITION_FAILED (over max_message_size), CONTENT_TOO_LARGE.
        assert!(refuses_the_message(406));
        assert!(refuses_the_message(311));
        // A missing or forbidden exchange refuses every message: not this one's fault.
        assert!(!refuses_the_message(404));
        assert!(!refuses_the_message(403));
    }

    fn waiting(n: u64) -> (Waiting, Vec<oneshot::Receiver<Answer>>) {
        let mut w = Waiting::default();
        let mut rx = Vec::new();
        for _ in 0..n {
            let (t, r) = oneshot::channel();
            w.last += 1;
            w.waiting.insert(w.last, t);
            rx.push(r);
        }
        (w, rx)
    }

    #[test]
    fn confirmations_answer_their_own_publishes() {
        let (mut w, mut rx) = waiting(5);
        // 2 alone, then 1 and 3 with `multiple`; 4 refused; 5 returned then taken.
        w.confirm(2, false, true);
        w.confirm(3, true, true);
        w.confirm(4, false, false);
        w.returned += 1;
        w.confirm(5, false, true);
        let got: Vec<Answer> = rx.iter_mut().map(|r| r.try_recv().unwrap()).collect();
        use Confirmation::*;
        assert_eq!(got, vec![Ok(Ack), Ok(Ack), Ok(Ack), Ok(Nack), Ok(Returned)]);
        assert!(w.waiting.is_empty());
    }

    #[test]
    fn a_closed_channel_fails_every_publish_still_waiting() {
        let (mut w, mut rx) = waiting(3);
        w.confirm(1, false, true);
        let closed = Closed {
            code: 406,
            text: "PRECONDITION_FAILED".into(),
        };
        w.close(closed.clone());
        assert_eq!(rx[0].try_recv().unwrap(), Ok(Confirmation::Ack));
        assert_eq!(rx[1].try_recv().unwrap(), Err(closed.clone()));
        assert_eq!(rx[2].try_recv().unwrap(), Err(closed));
        assert!(w.closed.is_some());
    }
}
