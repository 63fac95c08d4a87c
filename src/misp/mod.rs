//! Everything about MISP itself: the event model we send, MISP's attribute type table, the REST client.
//!
//! * [`event`]: the outgoing event JSON (`{"Event": {…}}`), built by [`crate::mapping`], sent by [`crate::sync`].
//! * [`types`]: `describeTypes` (valid attribute types and categories).
//! * [`client`]: the HTTP client for the few endpoints of BRIEF §5.

pub mod client;
pub mod event;
pub mod types;
