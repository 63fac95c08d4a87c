//! Recognising the Traffic Light Protocol in STIX markings, labels and Taranis attributes.
//!
//! The TLP 1.0 marking definitions of the STIX 2.1 specification (§7.2.1.4) and the TLP 2.0 ones of the
//! OASIS TLP 2.0 extension (`extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`) have fixed ids, so
//! they are recognised by id even when the marking object is not in the bundle. Other marking objects count
//! when they say TLP in any of the usual ways: `definition_type: "tlp"` with `definition.tlp`, the TLP 2.0
//! extension body (`tlp_2_0`), or a `name` such as `TLP:AMBER+STRICT`.

use crate::stix::{Bundle, Object};
use crate::story::Tlp;

/// The OASIS TLP 2.0 marking extension definition.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The fixed marking-definition ids: TLP 1.0 (STIX 2.1 spec) and TLP 2.0 (OASIS extension).
pub const FIXED_MARKINGS: [(&str, Tlp); 9] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
];

/// The TLP of a fixed marking-definition id.
pub fn fixed_marking(id: &str) -> Option<Tlp> {
    FIXED_MARKINGS
        .iter()
        .find(|(fixed, _)| fixed.eq_ignore_ascii_case(id))
        .map(|&(_, tlp)| tlp)
}

/// The TLP a marking-definition object states, if any.
pub fn marking_tlp(marking: &Object) -> Option<Tlp> {
    if let Some(tlp) = fixed_marking(&marking.id) {
        return Some(tlp);
    }
    if marking
        .str("definition_type")
        .is_some_and(|t| t.eq_ignore_ascii_case("tlp"))
        && let Some(tlp) = marking
            .get("definition")
            .and_then(|d| d.get("tlp"))
            .and_then(|v| v.as_str())
            .and_then(Tlp::parse)
    {
        return Some(tlp);
    }
    if let Some(tlp) = marking
        .extension(TLP2_EXTENSION)
        .and_then(|ext| ext.get("tlp_2_0"))
        .and_then(|v| v.as_str())
        .and_then(Tlp::parse)
    {
        return Some(tlp);
    }
    marking.str("name").and_then(label_tlp)
}

/// The TLP of a label or tag such as `tlp:red` / `TLP:AMBER+STRICT` (the `tlp:` prefix is required).
pub fn label_tlp(label: &str) -> Option<Tlp> {
    let trimmed = label.trim();
    let prefix = trimmed.get(..4)?;
    if prefix.eq_ignore_ascii_case("tlp:") {
        Tlp::parse(trimmed)
    } else {
        None
    }
}

/// The most restrictive TLP among an object's `object_marking_refs` and `granular_markings[].marking_ref`
/// (fixed ids, or marking objects in the bundle): a granular marking covers part of the object, and that part
/// reaches MISP too.
pub fn object_markings_tlp(object: &Object, bundle: &Bundle) -> Option<Tlp> {
    let granular = object
        .get("granular_markings")
        .and_then(|g| g.as_array())
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("marking_ref")?.as_str());
    object
        .strings("object_marking_refs")
        .chain(granular)
        .filter_map(|id| fixed_marking(id).or_else(|| bundle.get(id).and_then(marking_tlp)))
        .max()
}

/// The most restrictive TLP marked on any of `parts` (news items, indicators, observables … of a story), with
/// the id of the first object carrying it.
pub fn strictest_marking<'a>(
    parts: impl IntoIterator<Item = &'a Object>,
    bundle: &Bundle,
) -> Option<(Tlp, &'a str)> {
    let mut strictest: Option<(Tlp, &str)> = None;
    for o in parts {
        if let Some(t) = object_markings_tlp(o, bundle)
            && strictest.is_none_or(|(s, _)| t > s)
        {
            strictest = Some((t, o.id.as_str()));
        }
    }
    strictest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Object {
        Object::from_value(v).unwrap()
    }

    #[test]
    fn fixed_ids() {
        assert_eq!(
            fixed_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(Tlp::Clear)
        );
        assert_eq!(
            fixed_marking("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"),
            Some(Tlp::AmberStrict)
        );
        assert_eq!(
            fixed_marking("marking-definition--00000000-0000-4000-8000-000000000000"),
            None
        );
    }

    #[test]
    fn marking_objects() {
        let tlp1 = obj(
            json!({"type":"marking-definition","id":"marking-definition--a1b2c3d4-0000-4000-8000-000000000001",
            "definition_type":"tlp","definition":{"tlp":"red"}}),
        );
        assert_eq!(marking_tlp(&tlp1), Some(Tlp::Red));
        let tlp2 = obj(
            json!({"type":"marking-definition","id":"marking-definition--a1b2c3d4-0000-4000-8000-000000000002",
            "extensions":{TLP2_EXTENSION:{"extension_type":"property-extension","tlp_2_0":"amber+strict"}}}),
        );
        assert_eq!(marking_tlp(&tlp2), Some(Tlp::AmberStrict));
        let named = obj(
            json!({"type":"marking-definition","id":"marking-definition--a1b2c3d4-0000-4000-8000-000000000003",
            "name":"TLP:GREEN"}),
        );
        assert_eq!(marking_tlp(&named), Some(Tlp::Green));
        let statement = obj(
            json!({"type":"marking-definition","id":"marking-definition--a1b2c3d4-0000-4000-8000-000000000004",
            "definition_type":"statement","definition":{"statement":"Copyright"}}),
        );
        assert_eq!(marking_tlp(&statement), None);
    }

    #[test]
    fn labels() {
        assert_eq!(label_tlp("tlp:red"), Some(Tlp::Red));
        assert_eq!(label_tlp(" TLP:AMBER+STRICT "), Some(Tlp::AmberStrict));
        assert_eq!(label_tlp("red"), None);
        assert_eq!(label_tlp("tlp:purple"), None);
        assert_eq!(label_tlp("tl"), None);
        assert_eq!(label_tlp("tlé:red"), None);
    }
}
