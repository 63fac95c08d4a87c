//! Queue topology: the main queue, its dead-letter queue, the delayed-retry queue and the results queue.
//!
//! Declared only when `amqp.declare` is on, for operators who do not manage topology elsewhere:
//! * main queue (`quorum` by default): dead-letters to the DLQ (used by RabbitMQ itself when a quorum queue's
//!   `x-delivery-limit` is reached, e.g. a message that keeps crashing workers);
//! * `<queue>.dlq`: same type, holds messages that can never succeed;
//! * `<queue>.retry`: classic durable queue without consumers; each message carries its own TTL
//!   (`expiration`) and is dead-lettered back to the main queue when it expires;
//! * the results queue, when configured.

use lapin::Channel;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};

use super::settings::{QueueType, WorkerSettings};

fn string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Arguments of the main queue.
pub fn main_queue_arguments(s: &WorkerSettings) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), string(s.queue_type.as_str()));
    args.insert("x-dead-letter-exchange".into(), string(""));
    args.insert("x-dead-letter-routing-key".into(), string(&s.dlq));
    if s.queue_type == QueueType::Quorum && s.delivery_limit > 0 {
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(i64::from(s.delivery_limit)),
        );
    }
    args
}

/// Arguments of the retry queue: expired messages go back to the main queue.
pub fn retry_queue_arguments(s: &WorkerSettings) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), string("classic"));
    args.insert("x-dead-letter-exchange".into(), string(""));
    args.insert("x-dead-letter-routing-key".into(), string(&s.queue));
    args
}

fn plain_arguments(t: QueueType) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), string(t.as_str()));
    args
}

/// Declare every queue (idempotent; fails if a queue exists with other arguments).
pub async fn declare(channel: &Channel, s: &WorkerSettings) -> Result<(), TopologyError> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let queues = [
        (s.dlq.as_str(), plain_arguments(s.queue_type)),
        (s.queue.as_str(), main_queue_arguments(s)),
        (s.retry_queue.as_str(), retry_queue_arguments(s)),
    ];
    for (name, args) in queues {
        channel
            .queue_declare(name.into(), durable, args)
            .await
            .map_err(|source| TopologyError {
                queue: name.to_owned(),
                source,
            })?;
    }
    if let Some(results) = &s.results_queue {
        channel
            .queue_declare(
                results.as_str().into(),
                durable,
                plain_arguments(s.queue_type),
            )
            .await
            .map_err(|source| TopologyError {
                queue: results.clone(),
                source,
            })?;
    }
    Ok(())
}

/// A queue could not be declared.
#[derive(Debug, thiserror::Error)]
#[error(
    "declaring queue '{queue}' failed: {source} (if it already exists with other arguments, delete it or set amqp.declare: false)"
)]
pub struct TopologyError {
    pub queue: String,
    #[source]
    pub source: lapin::Error,
}

impl TopologyError {
    /// Whether the broker refused the declaration (arguments differ, access refused): retrying cannot help.
    pub fn is_refused(&self) -> bool {
        matches!(self.source.kind(), lapin::ErrorKind::ProtocolError(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::retry::{as_string, as_u64};

    #[test]
    fn main_queue_dead_letters_to_the_dlq_with_a_delivery_limit() {
        let s = WorkerSettings::new("amqp://localhost", "stories");
        let args = main_queue_arguments(&s);
        let m = args.inner();
        assert_eq!(as_string(&m["x-queue-type"]).as_deref(), Some("quorum"));
        assert_eq!(as_string(&m["x-dead-letter-exchange"]).as_deref(), Some(""));
        assert_eq!(
            as_string(&m["x-dead-letter-routing-key"]).as_deref(),
            Some("stories.dlq")
        );
        assert_eq!(as_u64(&m["x-delivery-limit"]), Some(50));
    }

    #[test]
    fn classic_queues_have_no_delivery_limit() {
        let mut s = WorkerSettings::new("amqp://localhost", "stories");
        s.queue_type = QueueType::Classic;
        assert!(!main_queue_arguments(&s).contains_key("x-delivery-limit"));
        s.queue_type = QueueType::Quorum;
        s.delivery_limit = 0;
        assert!(!main_queue_arguments(&s).contains_key("x-delivery-limit"));
    }

    #[test]
    fn retry_queue_returns_messages_to_the_main_queue() {
        let s = WorkerSettings::new("amqp://localhost", "stories");
        let args = retry_queue_arguments(&s);
        let m = args.inner();
        assert_eq!(as_string(&m["x-queue-type"]).as_deref(), Some("classic"));
        assert_eq!(
            as_string(&m["x-dead-letter-routing-key"]).as_deref(),
            Some("stories")
        );
    }
}
