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

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ErrorKind};

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The broker refused this message, published alone (its text, from the broker).
    Refused(String),
    /// Not this message's doing: the session ends (the connection, an exchange...).
    Session(String),
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

/// The publishing side of one connection.
pub struct Publisher {
    conn: Arc<Connection>,
    channel: tokio::sync::Mutex<Channel>,
    /// One message published alone at a time.
    solo: tokio::sync::Mutex<()>,
}

/// How long opening a channel may take: on a connection that is going away the broker's
/// answer may never come, and a message task must not wait for it forever.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel of `conn` in confirm mode.
pub async fn confirming_channel(conn: &Connection) -> lapin::Result<Channel> {
    let open = async {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    };
    tokio::time::timeout(OPEN_TIMEOUT, open)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()))
}

impl Publisher {
    /// A publisher on `conn`, publishing on `channel` (in confirm mode) first.
    pub fn new(conn: Arc<Connection>, channel: Channel) -> Self {
        Self {
            conn,
            channel: tokio::sync::Mutex::new(channel),
            solo: tokio::sync::Mutex::new(()),
        }
    }

    /// The shared channel, reopened if the broker closed it.
    async fn channel(&self) -> lapin::Result<Channel> {
        let mut channel = self.channel.lock().await;
        if !channel.status().connected() {
            *channel = confirming_channel(&self.conn).await?;
        }
        Ok(channel.clone())
    }

    /// Publishes `m` and waits for the broker's confirmation. A failure is retried once,
    /// alone (see the module's documentation), before it counts.
    pub async fn publish(&self, m: &Outgoing<'_>) -> Result<Confirmation, PublishError> {
        let first = match self.channel().await {
            Ok(channel) => send(&channel, m).await,
            Err(e) => Err(e),
        };
        match first {
            Ok(c) => Ok(c),
            Err(e) if !self.conn.status().connected() => Err(PublishError::Session(e.to_string())),
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
        let r = send(&channel, m).await;
        if channel.status().connected() {
            let _ = channel.close(200, "".into()).await;
        }
        match r {
            Ok(c) => Ok(c),
            Err(e) if self.conn.status().connected() && refuses_the_message(&e) => {
                Err(PublishError::Refused(e.to_string()))
            }
            Err(e) => Err(PublishError::Session(e.to_string())),
        }
    }
}

async fn send(channel: &Channel, m: &Outgoing<'_>) -> lapin::Result<Confirmation> {
    channel
        .basic_publish(
            m.exchange.into(),
            m.routing_key.into(),
            BasicPublishOptions {
                mandatory: m.mandatory,
                ..Default::default()
            },
            m.body,
            m.properties.clone(),
        )
        .await?
        .await
}

/// Whether `e`, from a message published alone on a fresh channel of a live connection,
/// is the broker refusing that message: a channel-level error other than a missing or
/// forbidden exchange (those would refuse every message: a deployment problem, not the
/// message's), or a message the client could not encode.
pub fn refuses_the_message(e: &lapin::Error) -> bool {
    match e.kind() {
        ErrorKind::ProtocolError(p) => match p.kind() {
            AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND | AMQPSoftError::ACCESSREFUSED) => false,
            AMQPErrorKind::Soft(_) => true,
            AMQPErrorKind::Hard(_) => false,
        },
        ErrorKind::SerialisationError(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::protocol::{AMQPError, AMQPHardError};

    fn protocol(kind: AMQPErrorKind) -> lapin::Error {
        ErrorKind::ProtocolError(AMQPError::new(kind, "text".into())).into()
    }

    #[test]
    fn which_failures_are_the_messages_own() {
        assert!(refuses_the_message(&protocol(AMQPErrorKind::Soft(
            AMQPSoftError::PRECONDITIONFAILED
        ))));
        assert!(refuses_the_message(&protocol(AMQPErrorKind::Soft(
            AMQPSoftError::CONTENTTOOLARGE
        ))));
        // A missing or forbidden exchange refuses every message: not this one's fault.
        assert!(!refuses_the_message(&protocol(AMQPErrorKind::Soft(
            AMQPSoftError::NOTFOUND
        ))));
        assert!(!refuses_the_message(&protocol(AMQPErrorKind::Soft(
            AMQPSoftError::ACCESSREFUSED
        ))));
        assert!(!refuses_the_message(&protocol(AMQPErrorKind::Hard(
            AMQPHardError::FRAMEERROR
        ))));
        let io: lapin::Error = std::io::Error::other("reset").into();
        assert!(!refuses_the_message(&io));
    }
}
