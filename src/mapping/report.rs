//! The Event Report: the story as readable markdown inside MISP.
//!
//! Sections (empty ones skipped): `# Story description`, `# Story summary`, `# Story comment` (Taranis' own
//! headings for description and comment), then `# News items` (one `- [title](link)` per news item) and
//! `# External links` (the story's external references). Story text is untrusted web content: it is written
//! with [`md_text`] (no live HTML, no injected links or images) and only http(s)/ftp URLs become links.

use std::collections::HashSet;

use uuid::Uuid;

use crate::misp::event::{DISTRIBUTION_INHERIT, EventReport};
use crate::story::Story;

use super::ids::uuid_for;
use super::text::{md_link_item, md_text};

/// The uuid name of the (single) Event Report.
pub const REPORT_KEY: &str = "event-report";

/// The report markdown for a cleaned story.
pub fn content(story: &Story) -> String {
    let mut sections: Vec<String> = Vec::new();
    for (heading, text) in [
        ("Story description", &story.description),
        ("Story summary", &story.summary),
        ("Story comment", &story.comments),
    ] {
        let body = md_text(text);
        if !body.trim().is_empty() {
            sections.push(format!("# {heading}\n{body}"));
        }
    }
    let news: Vec<String> = story
        .news_items
        .iter()
        .filter(|n| !n.title.trim().is_empty() || !n.link.trim().is_empty())
        .map(|n| md_link_item(&n.title, &n.link))
        .collect();
    if !news.is_empty() {
        sections.push(format!("# News items\n{}", news.join("\n")));
    }
    let news_links: HashSet<&str> = story.news_items.iter().map(|n| n.link.trim()).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut external: Vec<String> = Vec::new();
    for link in &story.links {
        let url = link.url.trim();
        if url.is_empty() || link.news_item_id.is_some() || news_links.contains(&url) {
            continue;
        }
        if !seen.insert(url) {
            continue;
        }
        external.push(md_link_item(link.title.as_deref().unwrap_or(""), url));
    }
    if !external.is_empty() {
        sections.push(format!("# External links\n{}", external.join("\n")));
    }
    sections.join("\n\n")
}

/// The Event Report for the event `event` named `name` (the event's info).
pub fn event_report(event: Uuid, name: &str, story: &Story) -> EventReport {
    EventReport {
        uuid: uuid_for(event, REPORT_KEY),
        name: name.to_owned(),
        content: content(story),
        distribution: DISTRIBUTION_INHERIT,
        deleted: false,
    }
}
