//! Finding stories in a bundle, for all three dialects.

use crate::error::Warning;
use crate::stix::Bundle;
use crate::story::Story;

/// Why a bundle holds no usable story.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The bundle has no report or grouping that is a story.
    #[error("no story in bundle")]
    NoStory,
}

/// Every story in the bundle (one per report/grouping or per presenter `taranis-story`), plus warnings.
pub fn extract_stories(_bundle: &Bundle) -> Result<(Vec<Story>, Vec<Warning>), ExtractError> {
    Err(ExtractError::NoStory)
}
