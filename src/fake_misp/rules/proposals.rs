//! Proposals (shadow attributes): propose add/edit/delete, index, accept/discard.

use super::*;

impl Store {
    /// `POST /shadow_attributes/add/{event id|uuid}` (#44 wrapped, #45 flat, #46 unknown type → 500, #112).
    pub fn proposals_add(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(eid) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid Event.", url);
        };
        let Some(m) = input::unwrap(body, &["ShadowAttribute", "Attribute", "Proposal"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let type_ = string(m, "type").unwrap_or_default();
        let Some(entry) = types::lookup(&type_) else {
            // InvalidArgumentException "Unknown attribute type" escapes as a 500 (#46).
            return Reply::internal(url);
        };
        let category = string(m, "category").unwrap_or_else(|| entry.1.to_owned());
        let value = match validate_value(&type_, &string(m, "value").unwrap_or_default()) {
            Ok(v) if types::category_allowed(&type_, &category) => v,
            Ok(_) => {
                return Reply::exception(
                    404,
                    "Could not save the proposal. Errors: [category]: Options depend on the selected type.",
                    url,
                );
            }
            Err(e) => {
                return Reply::exception(
                    404,
                    &format!("Could not save the proposal. Errors: [value]: {e}"),
                    url,
                );
            }
        };
        let uuid = string(m, "uuid")
            .filter(|u| valid_uuid(u))
            .map_or_else(random_uuid, |u| u.to_ascii_lowercase());
        let p = Proposal {
            id: self.next_proposal,
            old_id: 0,
            event_id: eid,
            type_,
            category,
            value,
            comment: string(m, "comment").unwrap_or_default(),
            to_ids: flag(m, "to_ids").unwrap_or(entry.2),
            uuid,
            org_id: user.org_id,
            email: user.email.clone(),
            deleted: false,
            proposal_to_delete: false,
            timestamp: now,
            first_seen: nullable(m, "first_seen").flatten(),
            last_seen: nullable(m, "last_seen").flatten(),
        };
        self.next_proposal += 1;
        let reply = Reply::ok(render::proposal_saved(self, &p));
        self.proposals.insert(p.id, p);
        reply
    }

    fn proposal_base(&self, user: &User, target: &str, url: &str) -> Result<Attr, Reply> {
        let aid = self
            .find_attr(target)
            .ok_or_else(|| Reply::exception(404, "Invalid Attribute", url))?;
        let a = self
            .attrs
            .get(&aid)
            .ok_or_else(|| Reply::exception(404, "Invalid Attribute", url))?;
        let visible = self
            .events
            .get(&a.event_id)
            .is_some_and(|e| self.can_see(user, e));
        if !visible || a.deleted {
            return Err(Reply::exception(404, "Invalid Attribute", url));
        }
        Ok(a.clone())
    }

    /// `POST /shadow_attributes/edit/{attribute id|uuid}` (#48): a proposal with `old_id` and the
    /// attribute's uuid; nothing changed → 405 "Invalid input.".
    pub fn proposals_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let a = match self.proposal_base(user, target, url) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let Some(m) = input::unwrap(body, &["ShadowAttribute", "Attribute", "Proposal"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let mut p = Proposal {
            id: self.next_proposal,
            old_id: a.id,
            event_id: a.event_id,
            type_: a.type_.clone(),
            category: a.category.clone(),
            value: a.value.clone(),
            comment: a.comment.clone(),
            to_ids: a.to_ids,
            uuid: a.uuid.clone(),
            org_id: user.org_id,
            email: user.email.clone(),
            deleted: false,
            proposal_to_delete: false,
            timestamp: now,
            first_seen: a.first_seen.clone(),
            last_seen: a.last_seen.clone(),
        };
        let mut changed = false;
        if let Some(t) = string(m, "type")
            && t != p.type_
        {
            if a.object_id != 0 || types::lookup(&t).is_none() {
                return Reply::internal(url);
            }
            p.type_ = t;
            changed = true;
        }
        if let Some(c) = string(m, "category")
            && c != p.category
        {
            p.category = c;
            changed = true;
        }
        if let Some(v) = string(m, "value")
            && v != p.value
        {
            p.value = v;
            changed = true;
        }
        if let Some(c) = string(m, "comment")
            && c != p.comment
        {
            p.comment = c;
            changed = true;
        }
        if let Some(t) = flag(m, "to_ids")
            && t != p.to_ids
        {
            p.to_ids = t;
            changed = true;
        }
        for (key, field) in [
            ("first_seen", &mut p.first_seen),
            ("last_seen", &mut p.last_seen),
        ] {
            if let Some(v) = nullable(m, key)
                && v != *field
            {
                *field = v;
                changed = true;
            }
        }
        if !changed {
            return Reply::exception(405, "Invalid input.", url);
        }
        // Validation failure on a proposed edit is an InternalErrorException (notes/misp.md §1.5).
        match validate_value(&p.type_, &p.value) {
            Ok(v) if types::category_allowed(&p.type_, &p.category) => p.value = v,
            _ => return Reply::internal(url),
        }
        self.next_proposal += 1;
        let reply = Reply::ok(render::proposal_saved(self, &p));
        self.proposals.insert(p.id, p);
        reply
    }

    /// `POST /shadow_attributes/delete/{attribute id}` (#49): a proposal to delete; always 200.
    pub fn proposals_delete(&mut self, user: &User, target: &str, url: &str, now: i64) -> Reply {
        let a = match self.proposal_base(user, target, url) {
            Ok(a) => a,
            Err(_) => return Reply::ok(json!({"false": true, "errors": "Invalid Attribute."})),
        };
        let p = Proposal {
            id: self.next_proposal,
            old_id: a.id,
            event_id: a.event_id,
            type_: a.type_,
            category: a.category,
            value: a.value,
            comment: String::new(),
            to_ids: a.to_ids,
            uuid: a.uuid,
            org_id: user.org_id,
            email: user.email.clone(),
            deleted: false,
            proposal_to_delete: true,
            timestamp: now,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
        };
        self.next_proposal += 1;
        self.proposals.insert(p.id, p);
        Reply::ok(
            json!({"saved": true, "success": "The proposal to delete the attribute has been saved but sending out the alert e-mails has failed for at least one recipient."}),
        )
    }

    /// `GET /shadow_attributes/index[/{event}][/deleted:0]` (#54, #55, #113): proposals on the user's
    /// organisation's events and the user's own proposals; accepted/discarded ones are included unless
    /// `deleted:0`.
    pub fn proposals_index(
        &self,
        user: &User,
        event: Option<&str>,
        include_deleted: bool,
    ) -> Reply {
        let filter = match event {
            Some(e) => match self.find_event(e) {
                Some(id) => Some(id),
                None => return Reply::ok(json!([])),
            },
            None => None,
        };
        let items: Vec<Value> = self
            .proposals
            .values()
            .filter(|p| filter.is_none_or(|f| p.event_id == f))
            .filter(|p| include_deleted || !p.deleted)
            .filter(|p| {
                user.site_admin
                    || p.org_id == user.org_id
                    || self
                        .events
                        .get(&p.event_id)
                        .is_some_and(|e| e.orgc_id == user.org_id)
            })
            .map(|p| render::proposal_index_entry(self, p))
            .collect();
        Reply::ok(Value::Array(items))
    }

    /// `POST /shadow_attributes/accept/{id}` (#57) and `/discard/{id}`: event owner only.
    pub fn proposals_resolve(
        &mut self,
        user: &User,
        target: &str,
        accept: bool,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(p) = target
            .parse::<u64>()
            .ok()
            .and_then(|id| self.proposals.get(&id))
            .cloned()
        else {
            return Reply::exception(404, "Invalid proposal.", url);
        };
        if p.deleted {
            return Reply::exception(404, "Invalid proposal.", url);
        }
        if !self
            .events
            .get(&p.event_id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url);
        }
        if accept {
            if p.proposal_to_delete {
                if let Some(a) = self.attrs.get_mut(&p.old_id) {
                    a.deleted = true;
                    a.timestamp = now;
                }
            } else if p.old_id != 0 {
                if let Some(a) = self.attrs.get_mut(&p.old_id) {
                    a.type_ = p.type_.clone();
                    a.category = p.category.clone();
                    a.value = p.value.clone();
                    a.comment = p.comment.clone();
                    a.to_ids = p.to_ids;
                    a.timestamp = now;
                }
            } else if !self.attr_by_uuid.contains_key(&p.uuid) {
                let a = Attr {
                    id: 0,
                    event_id: p.event_id,
                    object_id: 0,
                    object_relation: None,
                    category: p.category.clone(),
                    type_: p.type_.clone(),
                    value: p.value.clone(),
                    to_ids: p.to_ids,
                    uuid: p.uuid.clone(),
                    timestamp: now,
                    distribution: 5,
                    sharing_group_id: 0,
                    comment: p.comment.clone(),
                    deleted: false,
                    disable_correlation: false,
                    first_seen: p.first_seen.clone(),
                    last_seen: p.last_seen.clone(),
                    tags: Vec::new(),
                };
                let aid = self.insert_attr(a, Vec::new());
                if let Some(e) = self.events.get_mut(&p.event_id) {
                    e.attributes.push(aid);
                }
            }
            self.touch(p.event_id, now);
        }
        if let Some(stored) = self.proposals.get_mut(&p.id) {
            stored.deleted = true;
        }
        let msg = if accept {
            "Proposal accepted."
        } else {
            "Proposal discarded."
        };
        Reply::exception(200, msg, url)
    }
}
