//! Executing the plan against MISP: read, plan, write, and re-plan when another writer got there first.
//!
//! A story this process has not synced before is assumed new: its first request is `POST /events/add`
//! ([`super::known`] explains why). Every other write is preceded by a fresh `GET /events/view/{uuid}`; a conflict (duplicate uuid on add, racing
//! insert, or MISP's "not newer than the local copy" on edit) makes us re-read and plan again, at most
//! [`SyncSettings::max_conflict_retries`] times. Because the plan is computed from what MISP holds and
//! every uuid is deterministic, redeliveries and racing workers converge on the same event.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::known::{KNOWN_EVENTS_CAPACITY, KnownEvents};
use super::plan::{self, Plan, ProposalPlan};
use super::{Action, SyncError, SyncOutcome};
use crate::convert::Converted;
use crate::error::{Classify, ErrorClass};
use crate::misp::client::{MispClient, MispError, MispErrorKind, RemoteEvent};
use crate::misp::event::Event;

/// Settings of the sync (from `misp.*` configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// Our organisation (numeric MISP id or organisation uuid): events whose creator org is this are ours.
    pub organisation_id: String,
    /// How often to re-read and re-plan after a conflicting writer (default 5).
    pub max_conflict_retries: u32,
    /// Whether the key may publish (from the start-up checks, default true). When false, events are sent
    /// unpublished: MISP would silently store them unpublished anyway, and comparing against a `published`
    /// that can never hold would rewrite the event on every replay.
    pub can_publish: bool,
}

impl SyncSettings {
    pub fn new(organisation_id: impl Into<String>) -> Self {
        SyncSettings {
            organisation_id: organisation_id.into(),
            max_conflict_retries: 5,
            can_publish: true,
        }
    }
}

/// Syncs converted stories to one MISP. Cheap to clone; share it across tasks.
#[derive(Debug, Clone)]
pub struct Syncer {
    client: MispClient,
    settings: SyncSettings,
    /// Events this process knows to exist (shared by clones).
    known: Arc<KnownEvents>,
}

/// The result of one owned-event attempt.
enum Step {
    Done(Action, Option<String>),
    /// Another writer changed the event between our read and our write: read again.
    Retry,
    /// The event turned out to belong to another organisation.
    Foreign(Box<RemoteEvent>),
}

impl Syncer {
    pub fn new(client: MispClient, settings: SyncSettings) -> Self {
        Syncer {
            client,
            settings,
            known: Arc::new(KnownEvents::with_capacity(KNOWN_EVENTS_CAPACITY)),
        }
    }

    /// The client this syncer writes through.
    pub fn client(&self) -> &MispClient {
        &self.client
    }

    /// Sync one converted story: create, update, propose, or nothing (unchanged / stale).
    pub async fn sync(&self, converted: &Converted) -> Result<SyncOutcome, SyncError> {
        let story_id = converted.story.id;
        let version = converted.story.version();
        let mut new = plan::stamp(&converted.event, version);
        if !self.settings.can_publish {
            new.published = false;
        }
        let fail = |e: MispError| sync_error(story_id, &new, e);
        let (action, id) = match self.sync_owned(&new, version).await.map_err(&fail)? {
            Step::Done(a, id) => (a, id),
            Step::Foreign(held) => self.propose(&new, version, &held).await.map_err(&fail)?,
            Step::Retry => return Err(gave_up(story_id, self.settings.max_conflict_retries)),
        };
        tracing::info!(story_id = %story_id, event_uuid = %new.uuid, action = action.as_str(), "story synced");
        Ok(SyncOutcome {
            story_id,
            misp_event_uuid: new.uuid,
            misp_event_id: id.filter(|s| !s.is_empty()),
            action,
        })
    }

    /// Create or update an event we own (or find out it is foreign), retrying on conflicts.
    async fn sync_owned(
        &self,
        new: &Event,
        version: Option<DateTime<Utc>>,
    ) -> Result<Step, MispError> {
        let org = &self.settings.organisation_id;
        let mut add_said_exists = false;
        if !self.known.contains(new.uuid) {
            // Most likely a new story: one request instead of view + add.
            match self.create(new).await? {
                Step::Retry => add_said_exists = true,
                step => {
                    self.known.insert(new.uuid);
                    return Ok(step);
                }
            }
        }
        for attempt in 0..=self.settings.max_conflict_retries {
            if attempt > 0 || add_said_exists {
                tracing::debug!(event_uuid = %new.uuid, attempt, "conflict: re-reading the event");
            }
            let held = self.client.view_event(new.uuid).await?;
            let step = match held {
                Some(h) if !h.is_owned_by(org) => {
                    self.known.insert(new.uuid);
                    return Ok(Step::Foreign(Box::new(h)));
                }
                // `/events/add` said the uuid exists, yet view says 404: the event is there but not visible
                // to our key (another organisation's, with a restricted distribution). Retrying cannot help.
                None if add_said_exists => {
                    return Err(MispError {
                        endpoint: format!("GET /events/view/{}", new.uuid),
                        status: Some(404),
                        kind: MispErrorKind::Status,
                        message: "the event exists in MISP (POST /events/add answered 404 \"already exists\") but \
                                  is not visible to this API key: another organisation owns it with a distribution \
                                  that excludes us"
                            .into(),
                        retry_after: None,
                        location_id: None,
                    });
                }
                None => {
                    let step = self.create(new).await?;
                    add_said_exists = matches!(step, Step::Retry);
                    step
                }
                Some(h) => self.update(new, version, &h).await?,
            };
            if !matches!(step, Step::Retry) {
                self.known.insert(new.uuid);
                return Ok(step);
            }
        }
        Ok(Step::Retry)
    }

    async fn create(&self, new: &Event) -> Result<Step, MispError> {
        let body = serde_json::json!({ "Event": new });
        match self.client.add_event(&body).await {
            Ok(ev) => Ok(Step::Done(Action::Created, Some(ev.id))),
            // Another worker created it first (404 + Location): re-read and continue as an update.
            Err(e) if e.kind == MispErrorKind::AlreadyExists => {
                tracing::debug!(event_uuid = %new.uuid, "event already exists: continuing as update");
                Ok(Step::Retry)
            }
            // A truly concurrent insert surfaces as a 500 (duplicate key): re-check before failing.
            Err(e) if e.is_internal_error() => match self.client.view_event(new.uuid).await? {
                Some(_) => Ok(Step::Retry),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        new: &Event,
        version: Option<DateTime<Utc>>,
        held: &RemoteEvent,
    ) -> Result<Step, MispError> {
        match plan::plan_owned(new, version, held) {
            Plan::Unchanged => Ok(Step::Done(Action::Unchanged, Some(held.id.clone()))),
            Plan::Stale { held: h } => {
                tracing::info!(event_uuid = %new.uuid, held_version = %h, "MISP holds a newer story version");
                Ok(Step::Done(Action::Stale, Some(held.id.clone())))
            }
            Plan::Update {
                body,
                remove_tags,
                changes,
            } => {
                tracing::debug!(event_uuid = %new.uuid, changes = ?changes, "updating event");
                let after = match self.client.edit_event(new.uuid, &body).await {
                    Ok(ev) => ev,
                    // Someone wrote since we read (or a newer version is there): read again and decide.
                    Err(e) if e.kind == MispErrorKind::NotNewer => return Ok(Step::Retry),
                    Err(e) => return Err(e),
                };
                for tag in remove_tags
                    .iter()
                    .filter(|t| after.tags.iter().any(|h| !h.local && &h.name == *t))
                {
                    tracing::debug!(event_uuid = %new.uuid, tag = %tag, "tag still attached after edit: detaching");
                    self.client.remove_tag(new.uuid, tag).await?;
                }
                Ok(Step::Done(Action::Updated, Some(held.id.clone())))
            }
            Plan::Create { .. } | Plan::Propose(_) => Ok(Step::Retry),
        }
    }

    /// The event belongs to another organisation: proposals + our extension event.
    async fn propose(
        &self,
        new: &Event,
        version: Option<DateTime<Utc>>,
        held: &RemoteEvent,
    ) -> Result<(Action, Option<String>), MispError> {
        let org = &self.settings.organisation_id;
        if plan::newer_than(plan::held_version(held), version) {
            tracing::info!(event_uuid = %new.uuid, "the owner's event holds a newer story version");
            return Ok((Action::Stale, Some(held.id.clone())));
        }
        let proposals = self.client.proposals(&held.id).await?;
        let ProposalPlan {
            adds,
            edits,
            deletes,
            extension,
        } = plan::plan_proposals(new, version, held, &proposals, org);
        // The extension carries our version marker: a newer version there means this story is stale.
        if let Some(ext_held) = self.client.view_event(extension.uuid).await?
            && let Plan::Stale { held: h } = plan::plan_owned(&extension, version, &ext_held)
        {
            tracing::info!(event_uuid = %new.uuid, held_version = %h, "extension holds a newer story version");
            return Ok((Action::Stale, Some(held.id.clone())));
        }
        let wrote = adds.len() + edits.len() + deletes.len();
        for body in &adds {
            self.client.propose_add(&held.id, body).await?;
        }
        for (attr_id, fields) in &edits {
            self.client.propose_edit(attr_id, fields).await?;
        }
        for attr_id in &deletes {
            self.client.propose_delete(attr_id).await?;
        }
        let ext_action = match self.sync_owned(&extension, version).await? {
            Step::Done(a, _) => a,
            Step::Retry => {
                return Err(MispError {
                    endpoint: format!("POST /events/edit/{}", extension.uuid),
                    status: None,
                    kind: MispErrorKind::NotNewer,
                    message: "extension event kept changing under us".into(),
                    retry_after: None,
                    location_id: None,
                });
            }
            Step::Foreign(_) => {
                return Err(MispError {
                    endpoint: format!("GET /events/view/{}", extension.uuid),
                    status: None,
                    kind: MispErrorKind::Status,
                    message: "our extension event uuid belongs to another organisation".into(),
                    retry_after: None,
                    location_id: None,
                });
            }
        };
        let action = match (wrote, ext_action) {
            (_, Action::Stale) => Action::Stale,
            (0, Action::Unchanged) => Action::Unchanged,
            _ => Action::Proposed,
        };
        Ok((action, Some(held.id.clone())))
    }
}

fn gave_up(story_id: Uuid, n: u32) -> SyncError {
    SyncError {
        story_id,
        class: ErrorClass::Conflict,
        message: format!(
            "MISP event kept changing under concurrent writers ({n} re-reads); try again"
        ),
        retry_after: None,
    }
}

/// Does the payload contain 4-byte UTF-8 characters (which a utf8mb3 MISP answers with HTTP 500)?
fn has_four_byte_chars(event: &Event) -> bool {
    serde_json::to_string(event).is_ok_and(|s| s.chars().any(|c| c.len_utf8() == 4))
}

fn sync_error(story_id: Uuid, event: &Event, e: MispError) -> SyncError {
    let mut message = e.to_string();
    if e.is_internal_error() && has_four_byte_chars(event) {
        message.push_str(
            " (the event contains 4-byte UTF-8 characters, which MISP's default utf8mb3 schema rejects: \
             set the four_byte_chars policy to replace)",
        );
    }
    SyncError {
        story_id,
        class: e.class(),
        message,
        retry_after: e.retry_after,
    }
}
