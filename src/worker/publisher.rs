//! Publishing with publisher confirms: a message counts as sent only once the broker confirmed it.
//!
//! Used for retry-queue and dead-letter republishing, result messages and `misp-connector publish`.
//! Messages are published `mandatory` to the default exchange, so a missing queue is an error, not a silent drop.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};

use crate::error::{Classify, ErrorClass};

/// Why a message could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The channel or connection failed.
    #[error("publishing to queue '{queue}' failed: {source}")]
    Amqp {
        queue: String,
        #[source]
        source: lapin::Error,
    },
    /// The broker refused the message (nack).
    #[error("the broker refused the message for queue '{queue}' (publisher confirm nack)")]
    Nacked { queue: String },
    /// No queue is bound to the routing key.
    #[error("queue '{queue}' does not exist: the message was returned unroutable")]
    Unroutable { queue: String },
}

impl Classify for PublishError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

/// A confirm-mode channel; cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

impl Publisher {
    /// Open a channel on `conn` and put it in confirm mode.
    pub async fn open(conn: &Connection) -> Result<Publisher, lapin::Error> {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher { channel })
    }

    /// Publish `body` to `queue` (default exchange) and wait for the broker's confirm.
    pub async fn publish(
        &self,
        queue: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let amqp = |source| PublishError::Amqp {
            queue: queue.to_owned(),
            source,
        };
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await
            .map_err(amqp)?
            .await
            .map_err(amqp)?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(PublishError::Unroutable {
                queue: queue.to_owned(),
            }),
            Confirmation::Nack(_) | Confirmation::NotRequested => Err(PublishError::Nacked {
                queue: queue.to_owned(),
            }),
        }
    }

    /// Close the channel.
    pub async fn close(&self) {
        if let Err(e) = self.channel.close(200, "closing".into()).await {
            tracing::debug!(error = %e, "closing the publisher channel");
        }
    }
}

/// Properties of a new persistent JSON message.
pub fn json_properties() -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
}
