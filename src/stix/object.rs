//! One STIX object, kept generic: `type`, `id` and every other property as JSON.
//!
//! Keeping objects generic is what makes the parser tolerant of custom types (`x-taranis-news-item`,
//! `x-misp-object`, producers' own SDOs/SCOs). Typed views are built by the accessors below.

use serde_json::{Map, Value};
use uuid::Uuid;

/// A STIX 2.1 object (SDO, SCO, SRO, marking definition, extension definition or custom object).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The `type` property, e.g. `report`, `indicator`, `ipv4-addr`, `x-taranis-news-item`.
    pub type_: String,
    /// The `id` property, `<type>--<uuid>`.
    pub id: String,
    /// All properties (including `type` and `id`), as found in the bundle.
    pub props: Map<String, Value>,
}

impl Object {
    /// Build an object from a JSON value; `None` when it is not an object with string `type` and `id`.
    pub fn from_value(value: Value) -> Option<Object> {
        match value {
            Value::Object(props) => {
                let type_ = props.get("type")?.as_str()?.to_owned();
                let id = props.get("id")?.as_str()?.to_owned();
                Some(Object { type_, id, props })
            }
            _ => None,
        }
    }

    /// A property by name.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.props.get(key)
    }

    /// A string property; `None` when absent or not a string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(Value::as_str)
    }

    /// A non-empty, trimmed string property.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.str(key).map(str::trim).filter(|s| !s.is_empty())
    }

    /// The string items of an array property (non-strings are skipped); empty when absent.
    pub fn strings<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.props
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// The UUID part of the id (`report--<uuid>` → `<uuid>`), when it parses.
    pub fn uuid(&self) -> Option<Uuid> {
        let (_, tail) = self.id.split_once("--")?;
        Uuid::parse_str(tail).ok()
    }

    /// A property extension's body: `extensions[<definition id>]` as an object.
    pub fn extension(&self, definition_id: &str) -> Option<&Map<String, Value>> {
        self.props
            .get("extensions")?
            .as_object()?
            .get(definition_id)?
            .as_object()
    }
}
