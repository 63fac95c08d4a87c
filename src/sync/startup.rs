//! Start-up checks and the MISP metadata cache (version, our organisation, the sharing group).
//!
//! Run once before any story is synced (`push`, `check`, the worker's start), then refreshed every
//! `REFRESH_INTERVAL` by the long-running worker through [`MetadataCache::refresh`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::error::{Classify, ErrorClass};
use crate::misp::client::{Me, MispClient, MispError, MispErrorKind, SharingGroup};

/// What the start-up checks need from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupSettings {
    /// ORGANISATION_ID: numeric id or organisation uuid.
    pub organisation_id: String,
    /// Event distribution 0–4.
    pub distribution: u8,
    /// Required when distribution is 4.
    pub sharing_group_id: Option<u64>,
    /// `misp.publish`: warn when the key's role may not publish.
    pub publish: bool,
}

/// What MISP told us about itself and our key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MispMetadata {
    /// MISP version (`2.5.1`).
    pub version: String,
    /// The key's user and organisation.
    pub me: Me,
    /// The configured sharing group, resolved (distribution 4 only).
    pub sharing_group: Option<SharingGroup>,
    /// Non-fatal findings (e.g. ORGANISATION_ID is not the key's organisation).
    pub warnings: Vec<String>,
    pub checked_at: SystemTime,
}

/// Why the start-up checks failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartupError {
    /// MISP could not be reached or refused the key.
    #[error("{}", describe(.0))]
    Misp(#[from] MispError),
    /// distribution is 4 but no sharing group is configured.
    #[error("misp.distribution is 4 (sharing group) but misp.sharing_group_id is not set")]
    MissingSharingGroup,
    /// The configured sharing group is unknown or not usable by the key.
    #[error(
        "misp.sharing_group_id {0}: no such sharing group, or the API key may not use it (GET /sharing_groups/view/{0})"
    )]
    UnknownSharingGroup(u64),
    /// The sharing group exists but is not active.
    #[error("misp.sharing_group_id {0}: the sharing group is not active")]
    InactiveSharingGroup(u64),
}

fn describe(e: &MispError) -> String {
    match e.kind {
        MispErrorKind::Auth => format!(
            "MISP refused the API key (check misp.api_key and that the user is API-enabled): {e}"
        ),
        MispErrorKind::Connect | MispErrorKind::Timeout => {
            format!(
                "cannot reach MISP (check misp.url, misp.ssl_check, misp.ca_file, misp.proxy_server): {e}"
            )
        }
        _ => e.to_string(),
    }
}

impl Classify for StartupError {
    fn class(&self) -> ErrorClass {
        match self {
            StartupError::Misp(e) => e.class(),
            _ => ErrorClass::Permanent,
        }
    }
}

impl StartupError {
    /// True when the configuration (not MISP's availability) is at fault.
    pub fn is_config(&self) -> bool {
        match self {
            StartupError::Misp(e) => matches!(e.kind, MispErrorKind::Config | MispErrorKind::Auth),
            _ => true,
        }
    }
}

/// getVersion, users/view/me and (distribution 4) the sharing group.
pub async fn check(
    client: &MispClient,
    settings: &StartupSettings,
) -> Result<MispMetadata, StartupError> {
    let version = client.get_version().await?;
    let me = client.whoami().await?;
    let mut warnings = Vec::new();
    let want = settings.organisation_id.trim();
    if want != me.org_id && !want.eq_ignore_ascii_case(&me.org_uuid) {
        let w = format!(
            "misp.organisation_id is {want:?} but the API key belongs to organisation {} ({:?}): events created \
             with this key will be owned by {} and treated as another organisation's",
            me.org_id, me.org_name, me.org_id
        );
        tracing::warn!("{w}");
        warnings.push(w);
    }
    if settings.publish && me.perm_publish == Some(false) {
        let w = "misp.publish is true but the API key's role may not publish: events are saved unpublished \
                 (use a key with the publish permission, or set misp.publish to false)"
            .to_owned();
        tracing::warn!("{w}");
        warnings.push(w);
    }
    let sharing_group = if settings.distribution == 4 {
        let id = settings
            .sharing_group_id
            .ok_or(StartupError::MissingSharingGroup)?;
        let sg = client
            .sharing_group(id)
            .await?
            .ok_or(StartupError::UnknownSharingGroup(id))?;
        if !sg.active {
            return Err(StartupError::InactiveSharingGroup(id));
        }
        Some(sg)
    } else {
        None
    };
    tracing::info!(misp_version = %version.version, org_id = %me.org_id, "MISP start-up checks passed");
    Ok(MispMetadata {
        version: version.version,
        me,
        sharing_group,
        warnings,
        checked_at: SystemTime::now(),
    })
}

/// The latest [`MispMetadata`], refreshed periodically by the worker.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    client: MispClient,
    settings: StartupSettings,
    current: Arc<RwLock<MispMetadata>>,
}

impl MetadataCache {
    /// Run the start-up checks and keep the result.
    pub async fn start(
        client: MispClient,
        settings: StartupSettings,
    ) -> Result<Self, StartupError> {
        let meta = check(&client, &settings).await?;
        Ok(MetadataCache {
            client,
            settings,
            current: Arc::new(RwLock::new(meta)),
        })
    }

    /// The latest metadata.
    pub fn current(&self) -> MispMetadata {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-run the checks; on success replace the cached metadata, on failure keep the old one and return the error.
    pub async fn refresh(&self) -> Result<MispMetadata, StartupError> {
        let meta = check(&self.client, &self.settings).await?;
        match self.current.write() {
            Ok(mut g) => *g = meta.clone(),
            Err(poisoned) => *poisoned.into_inner() = meta.clone(),
        }
        Ok(meta)
    }

    /// Refresh every `interval` until `cancel` fires (errors are logged, the old metadata stays).
    pub async fn run_refresh(
        &self,
        interval: Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        let interval = interval.max(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "MISP metadata refresh failed; keeping the previous metadata");
            }
        }
    }
}
