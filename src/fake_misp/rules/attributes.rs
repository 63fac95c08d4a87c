//! Direct attribute and object endpoints (`/attributes/add|edit`, `/objects/add`) and the object templates
//! the fake knows.

use super::*;

impl Store {
    /// `POST /attributes/add/{event}` (#22–#24, #43, #71, #72): one attribute (flat or `{"Attribute":…}`)
    /// or a list.
    pub fn attributes_add(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let id = match self.event_to_modify(user, target, url) {
            Ok(id) => id,
            Err(refused) => return refused, // #43
        };
        let items: Vec<&Map<String, Value>> = match body {
            Value::Array(v) => v.iter().filter_map(Value::as_object).collect(),
            other => input::unwrap(other, &["Attribute"]).into_iter().collect(),
        };
        if items.is_empty() {
            return Reply::exception(405, "You must specify a value for each attribute.", url);
        }
        let mut saved = Vec::new();
        let mut errors = Map::new();
        for (i, m) in items.iter().enumerate() {
            let result = self.new_attr(m, id, 0, now).and_then(|a| {
                let dup = self
                    .events
                    .get(&id)
                    .is_some_and(|e| !a.deleted && self.duplicate_value(e, &a, 0));
                if dup {
                    Err(AttrError::Invalid(
                        "value",
                        "A similar attribute already exists for this event.".to_owned(),
                    ))
                } else {
                    Ok(a)
                }
            });
            match result {
                Ok(mut a) => {
                    a.timestamp = now;
                    let aid = self.insert_attr(a, tags_in(m));
                    if let Some(e) = self.events.get_mut(&id) {
                        e.attributes.push(aid);
                    }
                    saved.push(aid);
                }
                Err(err) => {
                    errors.insert(format!("attribute_{i}"), err.errors());
                }
            }
        }
        if saved.is_empty() {
            let errs = if items.len() == 1 {
                errors
                    .into_iter()
                    .next()
                    .map(|(_, v)| v)
                    .unwrap_or(Value::Null)
            } else {
                Value::Object(errors)
            };
            return Reply::save_fail("Could not add Attribute", "/attributes/add", errs, None); // #23, #24, #71, #72
        }
        self.touch(id, now);
        let rendered: Vec<Value> = saved
            .iter()
            .filter_map(|a| self.attrs.get(a))
            .map(|a| render::attribute_flat(a, true))
            .collect();
        let mut reply = if items.len() == 1 {
            Reply::ok(json!({"Attribute": rendered.into_iter().next(), "AttributeTag": []}))
        } else {
            let mut body = json!({ "Attribute": rendered });
            if !errors.is_empty()
                && let Value::Object(m) = &mut body
            {
                m.insert("errors".to_owned(), Value::Object(errors));
            }
            Reply::ok(body)
        };
        reply.items = items.len();
        reply
    }

    /// `POST /attributes/edit/{id|uuid}` (#109–#111).
    pub fn attributes_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(aid) = self.find_attr(target) else {
            return Reply::exception(404, "Invalid attribute", url);
        };
        let Some(eid) = self.attrs.get(&aid).map(|a| a.event_id) else {
            return Reply::exception(404, "Invalid attribute", url);
        };
        let visible = self.events.get(&eid).is_some_and(|e| self.can_see(user, e));
        if !visible {
            return Reply::exception(404, "Invalid attribute", url);
        }
        if !self
            .events
            .get(&eid)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url); // #111
        }
        let Some(m) = input::unwrap(body, &["Attribute"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let standalone = self.attrs.get(&aid).is_some_and(|a| a.object_id == 0);
        if !self.edit_attr(aid, m, standalone.then_some(eid), now) {
            let stored_ts = self.attrs.get(&aid).map_or(0, |a| a.timestamp);
            if int(m, "timestamp").is_some_and(|ts| ts <= stored_ts) {
                return Reply::exception(
                    405,
                    "Attribute could not be saved: Attribute in the request not newer than the local copy.",
                    url,
                ); // #110
            }
            return Reply::save_fail(
                "Could not edit Attribute",
                "/attributes/edit",
                json!("Validation failed"),
                None,
            );
        }
        self.touch(eid, now);
        match self.attrs.get(&aid) {
            Some(a) => Reply::ok(json!({ "Attribute": render::attribute_flat(a, false) })),
            None => Reply::internal(url),
        }
    }

    /// `POST /objects/add/{event}[/{template}]` (#25, #52, #91–#94). Templates are not modelled: without a
    /// template in the URL the body must carry the template metadata (#25), with one any name is accepted.
    pub fn objects_add(
        &mut self,
        user: &User,
        target: &str,
        template: Option<&str>,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let id = match self.event_to_modify(user, target, url) {
            Ok(id) => id,
            Err(refused) => return refused, // #52
        };
        let Some(m) = input::unwrap(body, &["Object"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let mut m = m.clone();
        let known = template.map(|t| TEMPLATES.iter().find(|tpl| tpl.0 == t || tpl.1 == t));
        if let Some(Some(tpl)) = known {
            m.insert("name".to_owned(), json!(tpl.2));
            m.insert("meta-category".to_owned(), json!(tpl.3));
            m.insert("description".to_owned(), json!(tpl.4));
            m.insert("template_uuid".to_owned(), json!(tpl.1));
            m.insert("template_version".to_owned(), json!(tpl.5));
            let relations: Vec<String> = list(&m, "Attribute")
                .into_iter()
                .filter_map(|a| string(a, "object_relation"))
                .collect();
            if !tpl.6.iter().any(|r| relations.iter().any(|x| x == r)) {
                return Reply::save_fail(
                    "Could not add Object",
                    "/objects/add",
                    json!(format!(
                        "Could not save the object as it requires at least one of the following attributes to be set: {}",
                        tpl.6.join(", ")
                    )),
                    None,
                ); // #95
            }
        } else if let Some(None) = known {
            return Reply::save_fail(
                "Could not add Object",
                "/objects/add",
                json!("Object could not be saved.\ntemplate: No valid template found."),
                None,
            );
        }
        if template.is_none() {
            for field in [
                "name",
                "meta-category",
                "description",
                "template_uuid",
                "template_version",
            ] {
                if string(&m, field).is_none_or(|v| v.is_empty()) {
                    return Reply::save_fail(
                        "Could not add Object",
                        "/objects/add",
                        json!(format!(
                            "Object could not be saved.\ntemplate: No valid template found and object lacking template information. ({field})"
                        )),
                        None,
                    );
                }
            }
        }
        if let Some(u) = string(&m, "uuid")
            && self.object_by_uuid.contains_key(&u.to_ascii_lowercase())
        {
            return Reply::save_fail(
                "Could not add Object",
                "/objects/add",
                json!("Object could not be saved.\nuuid: The UUID provided is not unique"),
                None,
            ); // #94
        }
        m.remove("timestamp");
        let before = self.next_object;
        self.merge_object(id, &m, now);
        if self.next_object == before {
            return Reply::save_fail(
                "Could not add Object",
                "/objects/add",
                json!("Object could not be saved."),
                None,
            );
        }
        self.touch(id, now);
        match self.objects.get(&before) {
            Some(o) => Reply::ok(json!({ "Object": render::object_flat(self, o) })),
            None => Reply::internal(url),
        }
    }

    /// `POST /attributes/restSearch` with `uuid` (string or list) (#62): `{"response":{"Attribute":[…]}}`.
    pub fn attributes_rest_search(&self, user: &User, body: &Map<String, Value>) -> Reply {
        let uuids: Vec<String> = match body.get("uuid") {
            Some(Value::Array(v)) => v
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(u)) => vec![u.clone()],
            _ => Vec::new(),
        };
        let mut ids: Vec<u64> = if uuids.is_empty() {
            self.attrs.keys().copied().collect()
        } else {
            uuids
                .iter()
                .filter_map(|u| self.attr_by_uuid.get(u).copied())
                .collect()
        };
        ids.sort_unstable();
        let items: Vec<Value> = ids
            .iter()
            .filter_map(|id| self.attrs.get(id))
            .filter(|a| !a.deleted)
            .filter_map(|a| {
                let e = self.events.get(&a.event_id).filter(|e| self.can_see(user, e))?;
                let mut v = render::attribute_flat(a, false);
                if let Value::Object(m) = &mut v {
                    m.insert(
                        "Event".to_owned(),
                        json!({"org_id": e.org_id.to_string(), "distribution": e.distribution.to_string(),
                               "publish_timestamp": e.publish_timestamp.to_string(), "id": e.id.to_string(),
                               "info": e.info, "orgc_id": e.orgc_id.to_string(), "uuid": e.uuid}),
                    );
                }
                Some(v)
            })
            .collect();
        let n = items.len();
        let mut r = Reply::ok(json!({"response": {"Attribute": items}}));
        r.result_count = Some(n);
        r
    }
}

/// The object templates the fake knows for `/objects/add/{event}/{template}`:
/// `(local id, uuid, name, meta-category, description, version, requiredOneOf)` as installed in the
/// recorded MISP (#91, #92, #95).
type Template = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const TEMPLATES: &[Template] = &[
    (
        "70",
        "43b3b146-77eb-4931-b4cc-b66c60f28734",
        "domain-ip",
        "network",
        "A domain/hostname and IP address seen as a tuple in a specific time frame.",
        "11",
        &["ip", "domain", "hostname"],
    ),
    (
        "89",
        "688c46fb-5edb-40a3-8273-1af7923e2215",
        "file",
        "file",
        "File object describing a file with meta-information",
        "25",
        &[
            "filename",
            "size-in-bytes",
            "authentihash",
            "ssdeep",
            "md5",
            "sha1",
            "sha224",
            "sha256",
            "sha384",
            "sha512",
            "sha512/224",
            "sha512/256",
            "sha3-224",
            "sha3-256",
            "sha3-384",
            "sha3-512",
            "tlsh",
            "telfhash",
            "imphash",
            "pattern-in-file",
            "certificate",
            "malware-sample",
            "attachment",
            "path",
            "fullpath",
        ],
    ),
];
