//! Sync with MISP: decide and perform create / update / propose for one converted story.
//!
//! The contract the worker and the `push` command rely on is [`SyncOutcome`] and [`SyncError`];
//! the pure plan lives in [`plan`], its execution in [`execute`] ([`Syncer`]) and the start-up checks
//! and metadata cache in [`startup`]. `docs/sync.md` describes the whole design.

pub mod execute;
pub mod known;
pub mod plan;
pub mod startup;

pub use execute::{SyncSettings, Syncer};
pub use plan::{Plan, plan};
pub use startup::{MetadataCache, MispMetadata, StartupError, StartupSettings};

use std::time::Duration;

use uuid::Uuid;

use crate::error::{Classify, ErrorClass};

/// What the sync did for one story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The event did not exist and was created.
    Created,
    /// Our own event was updated.
    Updated,
    /// Another organisation owns the event: proposals (and/or our extension event) were written.
    Proposed,
    /// MISP already holds exactly this version: nothing written.
    Unchanged,
    /// MISP holds a newer version of the story: nothing written.
    Stale,
}

impl Action {
    /// Lower-case name used in results, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Proposed => "proposed",
            Action::Unchanged => "unchanged",
            Action::Stale => "stale",
        }
    }
}

/// The result of syncing one story.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncOutcome {
    pub story_id: Uuid,
    pub misp_event_uuid: Uuid,
    /// MISP's numeric event id, when known.
    pub misp_event_id: Option<String>,
    pub action: Action,
}

/// Why a story could not be synced.
#[derive(Debug, Clone, thiserror::Error)]
#[error("story {story_id}: {message}")]
pub struct SyncError {
    pub story_id: Uuid,
    pub class: ErrorClass,
    /// What failed, including the MISP endpoint and status when there is one.
    pub message: String,
    /// Wait at least this long before retrying (MISP's 429 `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Classify for SyncError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}
