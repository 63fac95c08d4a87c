//! Event tags: the story's TLP, STIX labels, Taranis story tags, configured extra tags and the tags the STIX
//! content produced, as one sorted, de-duplicated list.
//!
//! Rules (see `docs/mapping.md`):
//! * A tag is named verbatim by its source (label text, Taranis tag `name`): names that already carry a
//!   namespace (`misp-galaxy:…`, `admiralty-scale:…`) keep it, plain names stay plain. Taranis' `tag_type` is
//!   kept in the `taranis-story` object, not in the tag name.
//! * Anything starting with `tlp:` is a TLP statement: exactly one TLP tag is sent, the most restrictive of the
//!   story's TLP and every `tlp:` tag from any source (unknown `tlp:` values such as `tlp:ex:chr` stay as
//!   ordinary tags).
//! * STIX labels starting with `misp:` are misp-stix bookkeeping (`misp:tool="…"`, `misp:name="…"`) and dropped.
//! * Whitespace runs become one space, names are bounded to 255 characters (`tags.name`), empty names are
//!   dropped, and names equal ignoring ASCII case are sent once (MISP tag names are case-insensitive).

use crate::error::Warning;
use crate::story::{Story, Tlp};

use super::text::{MAX_NAME_CHARS, one_line, truncate_chars};

/// The TLP named by a `tlp:`-prefixed tag, `None` for anything else.
fn tlp_of(name: &str) -> Option<Tlp> {
    let lower = name.trim().to_ascii_lowercase();
    if lower.starts_with("tlp:") {
        Tlp::parse(&lower)
    } else {
        None
    }
}

/// The event's tags and its effective TLP. `story` must already be cleaned; `extra` and `content` are cleaned
/// by the caller as well.
pub fn event_tags(
    story: &Story,
    extra: &[String],
    content: &[String],
    warnings: &mut Vec<Warning>,
) -> (Vec<String>, Option<Tlp>) {
    let mut tlp = story.tlp;
    let mut names: Vec<String> = Vec::new();
    let labels = story
        .labels
        .iter()
        .filter(|l| !l.trim().to_ascii_lowercase().starts_with("misp:"));
    let story_tags = story.tags.iter().map(|t| &t.name);
    for raw in labels.chain(story_tags).chain(extra).chain(content) {
        if let Some(level) = tlp_of(raw) {
            tlp = tlp.max(Some(level));
            continue;
        }
        let mut name = one_line(raw);
        if truncate_chars(&mut name, MAX_NAME_CHARS) {
            warnings.push(Warning::about(
                story.source_id.clone(),
                format!("tag name longer than {MAX_NAME_CHARS} characters truncated"),
            ));
        }
        if !name.is_empty() {
            names.push(name);
        }
    }
    if let Some(level) = tlp {
        names.push(level.tag().to_owned());
    }
    names.sort();
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.to_lowercase()));
    (names, tlp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::StoryTag;

    fn story() -> Story {
        crate::mapping::tests::empty_story()
    }

    #[test]
    fn one_tlp_tag_the_most_restrictive() {
        let mut s = story();
        s.tlp = Some(Tlp::Green);
        s.labels = vec!["TLP:AMBER".into(), "malware".into()];
        let (tags, tlp) = event_tags(&s, &[], &["tlp:clear".into()], &mut vec![]);
        assert_eq!(tlp, Some(Tlp::Amber));
        assert_eq!(tags, vec!["malware", "tlp:amber"]);
    }

    #[test]
    fn plain_words_are_not_tlp() {
        let mut s = story();
        s.tags = vec![StoryTag {
            name: "Green".into(),
            tag_type: "ORG".into(),
        }];
        let (tags, tlp) = event_tags(&s, &[], &[], &mut vec![]);
        assert_eq!(tlp, None);
        assert_eq!(tags, vec!["Green"]);
    }

    #[test]
    fn sorted_deduplicated_case_insensitively_and_cleaned() {
        let mut s = story();
        s.labels = vec![
            "b".into(),
            "misp:tool=\"MISP-STIX-Converter\"".into(),
            "  ".into(),
        ];
        s.tags = vec![StoryTag {
            name: "A\n tag".into(),
            tag_type: String::new(),
        }];
        let (tags, _) = event_tags(
            &s,
            &["B".into(), "tlp:ex:chr".into()],
            &["a tag".into()],
            &mut vec![],
        );
        assert_eq!(tags, vec!["A tag", "B", "tlp:ex:chr"]);
    }

    #[test]
    fn long_names_are_truncated_with_a_warning() {
        let mut s = story();
        s.labels = vec!["x".repeat(300)];
        let mut w = vec![];
        let (tags, _) = event_tags(&s, &[], &[], &mut w);
        assert_eq!(tags[0].chars().count(), 255);
        assert_eq!(w.len(), 1);
    }
}
