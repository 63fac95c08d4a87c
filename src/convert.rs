//! Bytes → MISP events: parse the bundle, extract the stories, map each one. Pure and synchronous.

use crate::error::{Classify, ErrorClass, Warning};
use crate::limits::Limits;
use crate::mapping::{self, MappingError, MappingOptions};
use crate::misp::event::Event;
use crate::stix::{self, ParseError};
use crate::story::{self, ExtractError, Story};

/// Options for a conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    pub limits: Limits,
    pub mapping: MappingOptions,
}

/// One story and the event it became.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub story: Story,
    pub event: Event,
}

/// The result of converting one bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// One entry per story, in bundle order.
    pub stories: Vec<Converted>,
    /// Everything skipped along the way.
    pub warnings: Vec<Warning>,
}

/// Why a bundle could not be converted. Always permanent: the same bytes will fail the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

impl Classify for ConvertError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// Convert a STIX bundle (bytes) into one MISP event per story.
pub fn convert(bytes: &[u8], opts: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let bundle = stix::bundle::parse(bytes, &opts.limits)?;
    let mut warnings = bundle.warnings.clone();
    let (stories, extract_warnings) = story::extract_stories(&bundle)?;
    warnings.extend(extract_warnings);
    let mut out = Vec::with_capacity(stories.len());
    for story in stories {
        let (event, w) = mapping::story_to_event(&story, &opts.mapping)?;
        warnings.extend(w);
        out.push(Converted { story, event });
    }
    Ok(Conversion {
        stories: out,
        warnings,
    })
}
