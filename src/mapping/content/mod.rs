//! STIX content (indicators, observables, SDOs) → MISP attributes, objects and tags.
//!
//! Placeholder owned by the `content` helper, who replaces this file: until then no STIX content is mapped and
//! [`map_content`] returns an empty [`ContentOutput`].

use uuid::Uuid;

use crate::error::Warning;
use crate::misp::event::{Attribute, MispObject};
use crate::stix::Object;

/// What the STIX content of one story becomes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentOutput {
    /// Standalone attributes.
    pub attributes: Vec<Attribute>,
    /// MISP objects.
    pub objects: Vec<MispObject>,
    /// Event tags (TLP from markings, SDO names, …).
    pub tags: Vec<String>,
    /// Objects that could not be mapped.
    pub warnings: Vec<Warning>,
}

/// Map the story's STIX objects for the event `event_uuid`.
pub fn map_content(event_uuid: Uuid, objects: &[Object]) -> ContentOutput {
    let _ = (event_uuid, objects);
    ContentOutput::default()
}
