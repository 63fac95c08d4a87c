//! `indicator` → MISP attributes / objects (`to_ids: true`), or the raw pattern.
//!
//! STIX patterns are read through [`crate::stix::pattern`]. A pattern whose comparisons are all equalities,
//! joined by `OR` (one attribute per value) or by `AND` on one object type (one MISP object, or one attribute
//! when a single value remains), is mapped with the observable table of [`super::observable`]. Anything else —
//! `LIKE`, `MATCHES`, `!=`, ranges, qualifiers, `FOLLOWEDBY`, nested AND/OR, object types or properties we
//! cannot map, invalid patterns — is kept as one `stix2-pattern` attribute holding the raw pattern, as
//! misp-stix does. Non-STIX pattern types (snort, suricata, yara, sigma) become attributes of those types.

use crate::stix::Object;
use crate::stix::pattern::{self, FlatPattern, Join, PatternError};

use super::observable::{self, Source};
use super::{Builder, Timing, bounded_comment, misp_label};

/// Map one indicator.
pub(crate) fn map_indicator(b: &mut Builder, o: &Object) {
    let comment = indicator_comment(o);
    let timing = Timing::from_range(o.str("valid_from"), o.str("valid_until"));
    let labels = b.object_tags(&o.props);
    let Some(pattern) = o.text("pattern") else {
        b.warn(&o.id, "indicator has no pattern; skipped");
        return;
    };
    let pattern_type = o
        .text("pattern_type")
        .unwrap_or("stix")
        .to_ascii_lowercase();
    let ctx = Ctx {
        id: &o.id,
        pattern,
        comment: &comment,
        timing: &timing,
        labels: &labels,
        hint: misp_label(&o.props, "type"),
    };
    match pattern_type.as_str() {
        "stix" => map_stix(b, &ctx),
        "snort" | "suricata" | "yara" | "sigma" => {
            // misp-stix wraps rules in `[…]` like STIX patterns.
            let rule = pattern
                .strip_prefix('[')
                .and_then(|p| p.strip_suffix(']'))
                .map(str::trim)
                .filter(|_| pattern_type != "yara")
                .unwrap_or(pattern);
            b.attribute(
                ctx.id,
                &pattern_type,
                None,
                rule,
                true,
                &comment,
                &timing,
                &labels,
            );
        }
        other => {
            // No MISP type for it: keep the rule text, not as an IDS signature MISP cannot evaluate.
            let comment = bounded_comment(&format!("{other} pattern. {comment}"));
            b.attribute(
                ctx.id, "other", None, pattern, false, &comment, &timing, &labels,
            );
        }
    }
}

struct Ctx<'a> {
    id: &'a str,
    pattern: &'a str,
    comment: &'a str,
    timing: &'a Timing,
    labels: &'a [String],
    /// misp-stix's `misp:type` label, when the indicator came from MISP.
    hint: Option<&'a str>,
}

/// `name: description`, whichever exist.
fn indicator_comment(o: &Object) -> String {
    match (o.text("name"), o.text("description")) {
        (Some(n), Some(d)) if n != d => bounded_comment(&format!("{n}: {d}")),
        (Some(n), _) => bounded_comment(n),
        (None, Some(d)) => bounded_comment(d),
        (None, None) => String::new(),
    }
}

/// Keep the raw pattern as a `stix2-pattern` attribute.
fn raw(b: &mut Builder, ctx: &Ctx<'_>) {
    b.attribute(
        ctx.id,
        "stix2-pattern",
        Some("Payload installation"),
        ctx.pattern,
        true,
        ctx.comment,
        ctx.timing,
        ctx.labels,
    );
}

/// One object's worth of a pattern: the object type and its `(path, value)` equalities.
pub type Group = (String, Vec<(String, String)>);

/// The groups a simple pattern consists of; `None` when it is not simple.
pub fn groups(flat: &FlatPattern) -> Option<Vec<Group>> {
    if flat.temporal || flat.join == Join::Mixed {
        return None;
    }
    let mut out: Vec<Group> = Vec::new();
    for obs in &flat.observations {
        if !obs.comparisons.iter().all(|c| c.is_equality()) {
            return None;
        }
        match obs.join {
            Join::Mixed => return None,
            Join::Or => {
                for c in &obs.comparisons {
                    for v in &c.values {
                        out.push((c.object_type.clone(), vec![(c.path.clone(), v.clone())]));
                    }
                }
            }
            Join::Single if obs.comparisons.len() == 1 => {
                let c = &obs.comparisons[0];
                for v in &c.values {
                    out.push((c.object_type.clone(), vec![(c.path.clone(), v.clone())]));
                }
            }
            Join::Single | Join::And => {
                let first = obs.comparisons.first()?;
                let mut props = Vec::new();
                for c in &obs.comparisons {
                    // One object per AND group; a set inside it has no single object meaning.
                    if c.object_type != first.object_type || c.values.len() != 1 {
                        return None;
                    }
                    props.push((c.path.clone(), c.values[0].clone()));
                }
                out.push((first.object_type.clone(), props));
            }
        }
    }
    if flat.join == Join::And {
        // `[file:name = 'a'] AND [file:hashes.MD5 = 'b']` describes one file.
        let mut merged: Vec<Group> = Vec::new();
        for (t, props) in out {
            match merged.iter_mut().find(|(mt, _)| *mt == t) {
                Some((_, mp)) => mp.extend(props),
                None => merged.push((t, props)),
            }
        }
        out = merged;
    }
    Some(out)
}

fn map_stix(b: &mut Builder, ctx: &Ctx<'_>) {
    let flat = match pattern::parse(ctx.pattern) {
        Ok(f) => f,
        Err(e @ (PatternError::TooLong { .. } | PatternError::TooManyComparisons { .. })) => {
            b.warn(ctx.id, format!("{e}; kept as stix2-pattern"));
            return raw(b, ctx);
        }
        Err(e) => {
            b.warn(ctx.id, format!("{e}; kept as stix2-pattern"));
            return raw(b, ctx);
        }
    };
    let Some(groups) = groups(&flat) else {
        return raw(b, ctx);
    };
    let mut mapped = Vec::with_capacity(groups.len());
    for (object_type, props) in &groups {
        let all = observable::map_observable_all(object_type, props, Source::Pattern);
        if all.is_empty() {
            return raw(b, ctx);
        }
        mapped.extend(all);
    }
    for m in &mapped {
        if !m.unmapped.is_empty() {
            b.warn(
                ctx.id,
                format!(
                    "pattern properties not mapped to MISP: {}",
                    m.unmapped
                        .iter()
                        .take(8)
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        b.emit(
            ctx.id,
            m,
            ctx.hint,
            true,
            ctx.comment,
            ctx.timing,
            ctx.labels,
        );
    }
}
