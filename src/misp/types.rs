//! MISP attribute types and categories (from `describeTypes.json`).
//!
//! MISP refuses an attribute whose type is unknown or whose category does not allow that type
//! (`validateTypeValue`). The table is a copy of MISP 2.5.1's `/attributes/describeTypes.json`
//! (`shared/reference/misp/describeTypes.json`), embedded in the binary and parsed once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde::Deserialize;

/// The embedded copy of MISP's `describeTypes.json`.
const DESCRIBE_TYPES_JSON: &str = include_str!("describeTypes.json");

#[derive(Deserialize)]
struct Root {
    result: Raw,
}

#[derive(Deserialize)]
struct Raw {
    sane_defaults: BTreeMap<String, SaneDefault>,
    types: Vec<String>,
    categories: Vec<String>,
    category_type_mappings: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct SaneDefault {
    default_category: String,
    to_ids: u8,
}

/// The parsed table.
struct Table {
    /// type → (default category, default to_ids).
    defaults: BTreeMap<String, (String, bool)>,
    /// (category, type) pairs MISP accepts.
    allowed: BTreeSet<(String, String)>,
    categories: Vec<String>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    // The JSON is a compile-time constant checked by the unit tests below; an empty table is the safe
    // fallback (every type would be reported invalid) should it ever fail to parse.
    let raw = serde_json::from_str::<Root>(DESCRIBE_TYPES_JSON)
        .map(|r| r.result)
        .unwrap_or(Raw {
            sane_defaults: BTreeMap::new(),
            types: Vec::new(),
            categories: Vec::new(),
            category_type_mappings: BTreeMap::new(),
        });
    let known: BTreeSet<&String> = raw.types.iter().collect();
    let defaults = raw
        .sane_defaults
        .into_iter()
        .filter(|(t, _)| known.contains(t))
        .map(|(t, d)| (t, (d.default_category, d.to_ids != 0)))
        .collect();
    let allowed = raw
        .category_type_mappings
        .into_iter()
        .flat_map(|(c, ts)| ts.into_iter().map(move |t| (c.clone(), t)))
        .collect();
    Table {
        defaults,
        allowed,
        categories: raw.categories,
    }
});

/// Is `type_` a MISP attribute type?
pub fn is_valid_type(type_: &str) -> bool {
    TABLE.defaults.contains_key(type_)
}

/// The category MISP uses when none is given, `None` for an unknown type.
pub fn default_category(type_: &str) -> Option<&'static str> {
    TABLE.defaults.get(type_).map(|(c, _)| c.as_str())
}

/// MISP's default `to_ids` for the type (`false` for an unknown type).
pub fn default_to_ids(type_: &str) -> bool {
    TABLE.defaults.get(type_).is_some_and(|(_, ids)| *ids)
}

/// May an attribute of type `type_` have category `category`?
pub fn is_valid_category(type_: &str, category: &str) -> bool {
    TABLE
        .allowed
        .contains(&(category.to_owned(), type_.to_owned()))
}

/// All MISP categories, in MISP's order.
pub fn categories() -> &'static [String] {
    &TABLE.categories
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_fully() {
        assert_eq!(TABLE.defaults.len(), 194);
        assert_eq!(categories().len(), 16);
    }

    #[test]
    fn known_types_and_defaults() {
        assert!(is_valid_type("ip-dst"));
        assert!(is_valid_type("text"));
        assert!(!is_valid_type("no-such-type"));
        assert!(!is_valid_type(""));
        assert_eq!(default_category("sha256"), Some("Payload delivery"));
        assert_eq!(default_category("link"), Some("External analysis"));
        assert_eq!(default_category("text"), Some("Other"));
        assert_eq!(default_category("nope"), None);
        assert!(default_to_ids("sha256"));
        assert!(!default_to_ids("text"));
    }

    #[test]
    fn category_type_pairs() {
        assert!(is_valid_category("text", "Other"));
        assert!(is_valid_category("link", "External analysis"));
        assert!(is_valid_category("ip-dst", "Network activity"));
        assert!(!is_valid_category("ip-dst", "Person"));
        assert!(!is_valid_category("nope", "Other"));
        assert!(!is_valid_category("text", "No such category"));
    }

    #[test]
    fn every_default_category_allows_its_type() {
        for (t, (c, _)) in &TABLE.defaults {
            assert!(is_valid_category(t, c), "{t} / {c}");
        }
    }
}
