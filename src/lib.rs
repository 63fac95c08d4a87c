//! misp-connector: turn STIX 2.1 threat-intel stories into MISP events and keep MISP in sync.
//!
//! The data flow (BRIEF §2) is mirrored by the module tree:
//!
//! ```text
//! AMQP delivery ─▶ envelope ─▶ stix (bundle) ─▶ story ─▶ mapping (MISP event, pure)
//!      ─▶ sync (plan from the event MISP holds) ─▶ misp::client ─▶ worker (ack/nack/DLQ + result)
//! ```
//!
//! * [`limits`], [`stix`], [`story`], [`mapping`], [`convert`] are the pure, synchronous conversion core.
//! * [`misp`] holds the MISP event model ([`misp::event`]), the attribute type table and the HTTP client.
//! * [`sync`] decides and performs create / update / propose against MISP.
//! * [`envelope`] and [`worker`] are the AMQP edge; [`worker`] never talks HTTP itself.
//! * [`telemetry`] holds logging, Prometheus metrics and the `/metrics` `/healthz` `/readyz` server.
//! * [`config`] reads `config.yml` + environment; the command line lives in the binary (`src/cli/`).
//! * [`fake_misp`] is a stateful fake of MISP 2.5.1 used by tests and benchmarks (`fake-misp` binary).

pub mod config;
pub mod convert;
pub mod envelope;
pub mod error;
pub mod fake_misp;
pub mod limits;
pub mod mapping;
pub mod misp;
pub mod stix;
pub mod story;
pub mod sync;
pub mod telemetry;
pub mod worker;
