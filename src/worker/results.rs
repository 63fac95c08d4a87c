//! Result messages: one per story, to the message's `reply_to` or the configured results queue (BRIEF §6).

use serde::Serialize;

use crate::sync::SyncOutcome;

/// `{story_id, misp_event_uuid, misp_event_id, action, work_id?, error?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoryResult {
    pub story_id: String,
    /// The MISP event uuid (the story id, lower case), when known.
    pub misp_event_uuid: Option<String>,
    /// MISP's numeric event id, when known.
    pub misp_event_id: Option<String>,
    /// `created`, `updated`, `proposed`, `unchanged`, `stale` or `failed`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StoryResult {
    /// The result of a story MISP now holds.
    pub fn synced(outcome: &SyncOutcome, work_id: Option<&str>) -> StoryResult {
        StoryResult {
            story_id: outcome.story_id.to_string(),
            misp_event_uuid: Some(outcome.misp_event_uuid.to_string()),
            misp_event_id: outcome.misp_event_id.clone(),
            action: outcome.action.as_str(),
            work_id: work_id.map(str::to_owned),
            error: None,
        }
    }

    /// The result of a story that was dead-lettered.
    pub fn failed(story_id: &str, error: &str, work_id: Option<&str>) -> StoryResult {
        StoryResult {
            story_id: story_id.to_owned(),
            misp_event_uuid: uuid::Uuid::parse_str(story_id).ok().map(|u| u.to_string()),
            misp_event_id: None,
            action: "failed",
            work_id: work_id.map(str::to_owned),
            error: Some(error.to_owned()),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings cannot fail; fall back to an empty object rather than panic.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Action;
    use uuid::Uuid;

    #[test]
    fn synced_json_shape() {
        let id = Uuid::parse_str("8f3a0b0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b").unwrap();
        let r = StoryResult::synced(
            &SyncOutcome {
                story_id: id,
                misp_event_uuid: id,
                misp_event_id: Some("12".into()),
                action: Action::Created,
            },
            Some("w-1"),
        );
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"story_id": id.to_string(), "misp_event_uuid": id.to_string(),
                "misp_event_id": "12", "action": "created", "work_id": "w-1"})
        );
    }

    #[test]
    fn failed_json_shape() {
        let r = StoryResult::failed("not-a-uuid", "MISP validation: 403", None);
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"story_id": "not-a-uuid", "misp_event_uuid": null,
                "misp_event_id": null, "action": "failed", "error": "MISP validation: 403"})
        );
    }
}
