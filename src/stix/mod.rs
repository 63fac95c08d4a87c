//! STIX 2.1 input model: our own tolerant serde types.
//!
//! A bundle is read as a list of JSON values and each object is turned into an [`Object`] on its own, so one
//! malformed object is skipped with a [`Warning`](crate::error::Warning) and never drops the others.
//! Unknown types and properties are kept (in [`Object::props`]) and simply ignored by the mapping.
//!
//! * [`object`]: the generic STIX object with typed accessors.
//! * [`bundle`]: parsing bytes into a [`Bundle`] under [`Limits`](crate::limits::Limits).
//! * [`pattern`]: STIX patterning language → the comparisons the mapping can turn into MISP attributes.

pub mod bundle;
pub mod object;
pub mod pattern;

pub use bundle::{Bundle, ParseError};
pub use object::Object;
