//! The AMQP worker.
