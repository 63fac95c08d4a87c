//! Parsing bytes into a [`Bundle`] under [`Limits`].

use std::collections::HashMap;

use crate::error::Warning;
use crate::limits::Limits;
use crate::stix::Object;

/// A parsed STIX bundle: the objects that could be read, and warnings for those that could not.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// The bundle's `id`, when present.
    pub id: Option<String>,
    /// Objects in input order.
    pub objects: Vec<Object>,
    /// What was skipped and why.
    pub warnings: Vec<Warning>,
    index: HashMap<String, usize>,
}

impl Bundle {
    /// Build a bundle from already parsed objects (indexes them by id; the first of duplicate ids wins).
    pub fn from_objects(
        id: Option<String>,
        objects: Vec<Object>,
        warnings: Vec<Warning>,
    ) -> Bundle {
        let mut index = HashMap::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            index.entry(o.id.clone()).or_insert(i);
        }
        Bundle {
            id,
            objects,
            warnings,
            index,
        }
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&Object> {
        self.index.get(id).map(|&i| &self.objects[i])
    }
}

/// Why input is not a usable bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Placeholder until the parser lands.
    #[error("bundle parsing is not implemented yet")]
    NotImplemented,
}

/// Parse a STIX bundle from bytes.
pub fn parse(_bytes: &[u8], _limits: &Limits) -> Result<Bundle, ParseError> {
    Err(ParseError::NotImplemented)
}
