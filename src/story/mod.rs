//! Stories: the dialect-independent model between STIX and MISP.
//!
//! A [`Story`] is one curated threat-intel write-up found in a bundle, whatever dialect carried it
//! (BRIEF §3.2): a native `report`/`grouping` with Taranis extensions, Taranis' STIX presenter form
//! (`x-misp-object` taranis-story / taranis-news-item) or a plain report from any producer.
//! Extraction ([`extract`]) only finds and normalises; turning a story into MISP is [`crate::mapping`]'s job.

pub mod extract;
pub mod native;
pub mod presenter;
pub mod tlp;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::stix::Object;

pub use extract::{ExtractError, extract_stories};

/// The STIX dialect a story was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// A. `report`/`grouping` with the Taranis property extension or `x_taranis_*` properties.
    Native,
    /// B. Taranis' STIX presenter: `x-misp-object` named `taranis-story` / `taranis-news-item`.
    Presenter,
    /// C. A plain `report`/`grouping` from any producer.
    Plain,
}

/// Traffic Light Protocol level (TLP 2.0 names; TLP 1 `white` maps to `clear`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Tlp {
    /// The MISP tag name, e.g. `tlp:amber+strict`.
    pub fn tag(self) -> &'static str {
        match self {
            Tlp::Clear => "tlp:clear",
            Tlp::Green => "tlp:green",
            Tlp::Amber => "tlp:amber",
            Tlp::AmberStrict => "tlp:amber+strict",
            Tlp::Red => "tlp:red",
        }
    }

    /// Parse `clear`, `white`, `TLP:AMBER+STRICT`, `amber+strict`, `tlp:red`, … (case-insensitive).
    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("tlp:").unwrap_or(&s).trim();
        Some(match s {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber_strict" | "amber-strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }
}

/// A Taranis story attribute (`{"key","value"}`); TLP travels here as `{"key":"TLP","value":"clear"}` too.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoryAttribute {
    pub key: String,
    pub value: String,
}

/// A Taranis story tag (`{"name","tag_type"}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoryTag {
    pub name: String,
    /// Taranis' tag type (`ORG`, `misc`, …); empty when unknown.
    pub tag_type: String,
}

/// A link of the story: an external reference with a URL, or a news item's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryLink {
    pub url: String,
    /// The news item the link belongs to (Taranis `links[].news_item_id`), when known.
    pub news_item_id: Option<String>,
    /// `source_name` / description of an external reference, when present.
    pub title: Option<String>,
}

/// A Taranis news item (the article a story was built from).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewsItem {
    /// News item id (uuid as text, lower case when it is a uuid).
    pub id: String,
    pub title: String,
    pub content: String,
    pub link: String,
    pub author: String,
    /// Feed URL or `manual`.
    pub source: String,
    pub language: String,
    pub published: Option<DateTime<Utc>>,
    pub collected: Option<DateTime<Utc>>,
    /// Taranis' SHA-256 of title+link (not an IDS indicator).
    pub hash: String,
    pub review: String,
    pub osint_source_id: String,
    /// The story this item belongs to, as written in the input (may be empty).
    pub story_id: String,
}

/// One story, normalised from any dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Story id = MISP event uuid.
    pub id: Uuid,
    /// STIX id of the container the story came from (`report--…`, `grouping--…`, `x-misp-object--…`).
    pub source_id: String,
    pub dialect: Dialect,
    /// Title (empty when the input has none; the mapping applies the fallbacks).
    pub title: String,
    pub description: String,
    pub summary: String,
    pub comments: String,
    pub published: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
    /// Last modification; with `created` this is the story's version (see [`Story::version`]).
    pub modified: Option<DateTime<Utc>>,
    pub relevance: Option<i64>,
    /// Story attributes, sorted by key, keys unique.
    pub attributes: Vec<StoryAttribute>,
    /// Story tags, sorted by name, names unique.
    pub tags: Vec<StoryTag>,
    /// STIX `labels`, in input order, unique.
    pub labels: Vec<String>,
    /// The most restrictive TLP found (markings, attributes, labels).
    pub tlp: Option<Tlp>,
    /// External references with a URL, then news-item links.
    pub links: Vec<StoryLink>,
    pub news_items: Vec<NewsItem>,
    /// Every other object the story refers to (indicators, SCOs, observed-data, SDOs, relationships …), resolved
    /// from `object_refs` (and one level of `observed-data` / relationship refs), in a deterministic order,
    /// without duplicates and without the news items. Objects that are referenced but absent are not here.
    pub objects: Vec<Object>,
}

impl Story {
    /// The story version used for ordering updates: `modified`, else `created`, else `published`.
    pub fn version(&self) -> Option<DateTime<Utc>> {
        self.modified.or(self.created).or(self.published)
    }
}
