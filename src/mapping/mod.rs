//! Story → MISP event: the pure mapping of BRIEF §4.
//!
//! Deterministic: the same story and options always give byte-identical JSON; every uuid is
//! UUIDv5(event uuid, stable key).

pub mod content;

use serde::Deserialize;

use crate::error::Warning;
use crate::misp::event::Event;
use crate::story::Story;

/// What to do with 4-byte UTF-8 characters (emoji, …): MISP's default utf8mb3 schema answers 500 on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FourBytePolicy {
    /// Replace each with U+FFFD (default).
    #[default]
    Replace,
    /// Remove them.
    Strip,
    /// Refuse the story (permanent error).
    Reject,
    /// Send them unchanged (for MISP instances on utf8mb4).
    Keep,
}

/// Event-level settings that come from configuration, not from the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingOptions {
    /// 0–4; 0 is really sent.
    pub distribution: u8,
    /// Required when distribution is 4.
    pub sharing_group_id: Option<u64>,
    /// 1–4 (default 4, undefined).
    pub threat_level_id: u8,
    /// 0–2 (default 0, initial).
    pub analysis: u8,
    /// Publish the event (default false).
    pub published: bool,
    /// Tags added to every event.
    pub extra_tags: Vec<String>,
    pub four_byte: FourBytePolicy,
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions {
            distribution: 0,
            sharing_group_id: None,
            threat_level_id: 4,
            analysis: 0,
            published: false,
            extra_tags: Vec::new(),
            four_byte: FourBytePolicy::Replace,
        }
    }
}

/// Why a story cannot become a MISP event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The 4-byte policy is `reject` and the story holds such a character.
    #[error(
        "story {story_id}: {field} contains a 4-byte UTF-8 character (four_byte_chars policy is reject)"
    )]
    FourByteChar { story_id: String, field: String },
}

/// Map one story to its MISP event.
pub fn story_to_event(
    _story: &Story,
    _opts: &MappingOptions,
) -> Result<(Event, Vec<Warning>), MappingError> {
    unimplemented!("mapping lands with issue 2")
}
