//! Events: view, add, edit (merge + timestamp guard), publish, delete (+ blocklist), restSearch and event tags.

use super::*;

impl Store {
    /// `GET /events/view/{id|uuid}` (#4, #5); unknown or invisible → 404 "Invalid event" (#6, #88).
    pub fn events_view(&self, user: &User, id: &str, opts: ViewOpts, url: &str) -> Reply {
        match self
            .user_event(user, id)
            .and_then(|id| self.events.get(&id))
        {
            Some(e) => Reply::ok(render::event(self, e, user, opts)),
            None => Reply::exception(404, "Invalid event", url),
        }
    }

    /// First half of `/events/add` (`Event::_add` order, notes §2.1): blocklist (#89), then the
    /// existence check on the raw uuid → 404 with `Location` (#3, #42 cross-org).
    pub fn events_add_precheck(
        &self,
        body: &Map<String, Value>,
        base_url: &str,
    ) -> Result<(), Reply> {
        let Some(raw) = string(body, "uuid") else {
            return Ok(());
        };
        if self.blocklist.contains(&raw.to_ascii_lowercase()) {
            return Err(Reply::exception(
                403,
                "Event blocked by event blocklist.",
                "/events/add",
            ));
        }
        if flag(body, "published").unwrap_or(false)
            && list(body, "Attribute").is_empty()
            && list(body, "Object").is_empty()
            && list(body, "EventReport").is_empty()
        {
            return Err(Reply::save_fail(
                "Could not add Event",
                "/events/add",
                json!("Received a published event that was empty. Event add process blocked."),
                None,
            ));
        }
        // The raw (case-sensitive) uuid is compared: an upper-case uuid passes here and fails later.
        if let Some(id) = self.event_by_uuid.get(&raw) {
            let msg = "Event already exists, if you would like to edit it, use the url in the location header.";
            let mut r = Reply::exception(404, msg, "/events/add");
            r.location = Some(format!("{base_url}/events/{id}"));
            return Err(r);
        }
        Ok(())
    }

    /// `POST /events/add` (#2, #20, #70, #73, #75–#77, #83, #90). With `race_lost`, an event that appeared
    /// since the precheck surfaces as MISP's duplicate-key 500 instead of the 404.
    pub fn events_add(
        &mut self,
        user: &User,
        body: &Map<String, Value>,
        opts: ViewOpts,
        base_url: &str,
        race_mode: bool,
        now: i64,
    ) -> Reply {
        if let Err(r) = self.events_add_precheck(body, base_url) {
            if race_mode && r.status == 404 {
                return Reply::internal("/events/add");
            }
            return r;
        }
        let fail = |errors: Value| {
            Reply::save_fail(
                "Could not add Event",
                "/events/add",
                json!({ "Event": errors }),
                None,
            )
        };
        let info = string(body, "info").unwrap_or_default();
        if info.trim().is_empty() {
            return fail(json!({"info": ["valueNotEmpty"]})); // #73
        }
        let uuid = match string(body, "uuid") {
            Some(u) if !valid_uuid(&u) => {
                return fail(json!({"uuid": ["Please provide a valid RFC 4122 UUID"]}));
            } // #77
            Some(u) => u.to_ascii_lowercase(),
            None => random_uuid(), // #75
        };
        if self.event_by_uuid.contains_key(&uuid) {
            // Upper-case duplicate: passes the raw existence check, fails `isUnique` (notes §2.1).
            return fail(json!({"uuid": ["The UUID provided is not unique"]}));
        }
        let Ok(dist) = distribution(body, 4) else {
            return fail(
                json!({"distribution": ["Options: Your organisation only, This community only, Connected communities, All communities, Sharing group"]}),
            );
        };
        let dist = dist.unwrap_or(0);
        let mut sg = 0;
        if dist == 4 {
            let wanted = int(body, "sharing_group_id").unwrap_or(0).max(0) as u64;
            if !self.sharing_group_usable(user, wanted) {
                return Reply::exception(
                    405,
                    "Invalid Sharing Group or not authorised.",
                    "/events/add",
                );
            }
            sg = wanted;
        }
        let threat = int(body, "threat_level_id").unwrap_or(4);
        if !(1..=4).contains(&threat) {
            return fail(json!({"threat_level_id": ["Options : 1, 2, 3, 4"]}));
        }
        let analysis = int(body, "analysis").unwrap_or(0);
        if !(0..=2).contains(&analysis) {
            return fail(json!({"analysis": ["Options : 0, 1, 2"]}));
        }
        let published = flag(body, "published").unwrap_or(false) && user.perm_publish;
        let id = self.next_event;
        self.next_event += 1;
        let event = Event {
            id,
            uuid: uuid.clone(),
            orgc_id: user.org_id,
            org_id: user.org_id,
            creator_email: user.email.clone(),
            date: string(body, "date").unwrap_or_else(today),
            threat_level_id: threat as u8,
            info,
            published,
            analysis: analysis as u8,
            timestamp: int(body, "timestamp").unwrap_or(now), // #2: a client timestamp is kept
            distribution: dist,
            sharing_group_id: sg,
            publish_timestamp: if published { now } else { 0 },
            disable_correlation: flag(body, "disable_correlation").unwrap_or(false),
            extends_uuid: string(body, "extends_uuid").unwrap_or_default(),
            attributes: Vec::new(),
            objects: Vec::new(),
            reports: Vec::new(),
            tags: Vec::new(),
        };
        self.events.insert(id, event);
        self.event_by_uuid.insert(uuid, id);
        let mut refs = Vec::new();
        merge_tags(self, &mut refs, tags_in(body));
        if let Some(e) = self.events.get_mut(&id) {
            e.tags = refs;
        }
        let attrs = list(body, "Attribute");
        let mut items = attrs.len();
        for a in attrs {
            // #20 (uuid used elsewhere) and #70 (unknown type): dropped, the event is still created.
            self.merge_attr(id, 0, a, now);
        }
        for o in list(body, "Object") {
            items += list(o, "Attribute").len();
            self.merge_object(id, o, now);
        }
        for r in list(body, "EventReport") {
            self.merge_report(id, r, now);
        }
        let mut reply = match self.events.get(&id) {
            Some(e) => Reply::ok(render::event(self, e, user, opts)),
            None => Reply::internal("/events/add"),
        };
        reply.items = items;
        reply
    }

    /// `POST /events/edit/{id|uuid}` (#7, #9, #11, #12, #14, #16–#19, #31, #41, #78, #97).
    pub fn events_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Map<String, Value>,
        opts: ViewOpts,
        url: &str,
        now: i64,
    ) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event", url); // #78
        };
        let Some(existing) = self.events.get(&id) else {
            return Reply::exception(404, "Invalid event", url);
        };
        if !self.can_modify(user, existing) {
            return Reply::exception(403, NOT_AUTHORISED, url); // #41
        }
        let fail = |errors: Value| {
            Reply::save_fail(
                "Could not edit Event",
                &format!("/events/edit/{id}"),
                errors,
                Some(id.to_string()),
            )
        };
        let ts = int(body, "timestamp");
        if let Some(ts) = ts
            && ts <= existing.timestamp
        {
            return fail(json!(NOT_NEWER)); // #9 (older), #11 (equal)
        }
        let mut e = existing.clone();
        if let Some(info) = string(body, "info") {
            if info.trim().is_empty() {
                return fail(json!({"Event": {"info": ["valueNotEmpty"]}}));
            }
            e.info = info;
        }
        match distribution(body, 4) {
            Ok(Some(d)) => e.distribution = d,
            Ok(None) => {}
            Err(()) => return fail(json!({"Event": {"distribution": ["Options: 0, 1, 2, 3, 4"]}})),
        }
        if let Some(sg) = int(body, "sharing_group_id") {
            e.sharing_group_id = sg.max(0) as u64;
        }
        if e.distribution == 4 {
            if e.sharing_group_id == 0 {
                return fail(json!(
                    "Sharing group chosen as the distribution level, but no sharing group specified. Make sure that the event includes a valid sharing_group_id field."
                ));
            }
            if !self.sharing_group_usable(user, e.sharing_group_id) {
                return fail(json!(
                    "Invalid sharing group or you don't have access to that sharing group."
                ));
            }
        } else {
            e.sharing_group_id = 0;
        }
        if let Some(t) = int(body, "threat_level_id") {
            if !(1..=4).contains(&t) {
                return fail(json!({"Event": {"threat_level_id": ["Options : 1, 2, 3, 4"]}}));
            }
            e.threat_level_id = t as u8;
        }
        if let Some(a) = int(body, "analysis") {
            if !(0..=2).contains(&a) {
                return fail(json!({"Event": {"analysis": ["Options : 0, 1, 2"]}}));
            }
            e.analysis = a as u8;
        }
        if let Some(d) = string(body, "date") {
            e.date = d;
        }
        if let Some(x) = string(body, "extends_uuid") {
            e.extends_uuid = x;
        }
        if let Some(dc) = flag(body, "disable_correlation") {
            e.disable_correlation = dc;
        }
        // `published` absent ⇒ unpublished (Event::_edit l.4173; BRIEF §5).
        let published = flag(body, "published").unwrap_or(false) && user.perm_publish;
        if published && !e.published {
            e.publish_timestamp = now;
        }
        e.published = published;
        e.timestamp = ts.unwrap_or(now); // #7 keeps the request ts, #12 sets now
        let mut refs = std::mem::take(&mut e.tags);
        merge_tags(self, &mut refs, tags_in(body)); // #31: listed tags are added, others stay
        e.tags = refs;
        self.events.insert(id, e);
        let attrs = list(body, "Attribute");
        let mut items = attrs.len();
        for a in attrs {
            self.merge_attr(id, 0, a, now);
        }
        for o in list(body, "Object") {
            items += list(o, "Attribute").len();
            self.merge_object(id, o, now);
        }
        for r in list(body, "EventReport") {
            self.merge_report(id, r, now);
        }
        let mut reply = match self.events.get(&id) {
            Some(e) => Reply::ok(render::event(self, e, user, opts)),
            None => Reply::internal(url),
        };
        reply.items = items;
        reply
    }

    /// `POST /events/publish/{id|uuid}` (#85).
    pub fn events_publish(&mut self, user: &User, target: &str, url: &str, now: i64) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event.", url);
        };
        let allowed = self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
            && user.perm_publish;
        if !allowed {
            return Reply::exception(405, "You do not have the permission to do that.", url);
        }
        if let Some(e) = self.events.get_mut(&id) {
            e.published = true;
            e.publish_timestamp = now;
        }
        Reply::save_success("Job queued", url, Some(id.to_string()))
    }

    /// `POST /events/delete/{id|uuid}` (#87): removes the event with everything in it and blocklists its
    /// uuid (#89).
    pub fn events_delete(&mut self, user: &User, target: &str, url: &str) -> Reply {
        let Some(id) = self.user_event(user, target) else {
            return Reply::exception(404, "Invalid event", url);
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NOT_AUTHORISED, url);
        }
        let Some(e) = self.events.remove(&id) else {
            return Reply::exception(404, "Invalid event", url);
        };
        self.event_by_uuid.remove(&e.uuid);
        self.blocklist.insert(e.uuid.clone());
        let mut attr_ids = e.attributes.clone();
        for oid in &e.objects {
            if let Some(o) = self.objects.remove(oid) {
                self.object_by_uuid.remove(&o.uuid);
                attr_ids.extend(o.attributes);
            }
        }
        for aid in attr_ids {
            if let Some(a) = self.attrs.remove(&aid) {
                self.attr_by_uuid.remove(&a.uuid);
            }
        }
        for rid in &e.reports {
            if let Some(r) = self.reports.remove(rid) {
                self.report_by_uuid.remove(&r.uuid);
            }
        }
        self.proposals.retain(|_, p| p.event_id != id);
        Reply::save_success("Event deleted.", url, Some(target.to_owned()))
    }

    /// `POST /events/restSearch` with `uuid` / `eventid` (#58–#61, #118): matches the event uuid or any
    /// attribute uuid inside it; unknown → `{"response": []}` (#60).
    pub fn events_rest_search(&self, user: &User, body: &Map<String, Value>) -> Reply {
        let wanted = |key: &str| -> Vec<String> {
            match body.get(key) {
                Some(Value::Array(v)) => v
                    .iter()
                    .filter_map(|x| match x {
                        Value::String(s) => Some(s.to_ascii_lowercase()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
                Some(Value::String(s)) => vec![s.to_ascii_lowercase()],
                Some(Value::Number(n)) => vec![n.to_string()],
                _ => Vec::new(),
            }
        };
        let uuids = wanted("uuid");
        let ids = wanted("eventid");
        let metadata = flag(body, "metadata").unwrap_or(false);
        let mut hits: Vec<u64> = Vec::new();
        for u in &uuids {
            if let Some(id) = self.event_by_uuid.get(u) {
                hits.push(*id);
            } else if let Some(a) = self.attr_by_uuid.get(u).and_then(|a| self.attrs.get(a)) {
                hits.push(a.event_id);
            }
        }
        for i in &ids {
            if let Some(id) = self.find_event(i) {
                hits.push(id);
            }
        }
        if uuids.is_empty() && ids.is_empty() {
            hits.extend(self.events.keys().copied());
        }
        hits.sort_unstable();
        hits.dedup();
        let opts = ViewOpts {
            include_deleted: false,
            metadata,
        };
        let items: Vec<Value> = hits
            .iter()
            .filter_map(|id| self.events.get(id))
            .filter(|e| self.can_see(user, e))
            .map(|e| render::event(self, e, user, opts))
            .collect();
        let mut r = Reply::ok(json!({ "response": items }));
        r.result_count = Some(hits.len().min(items_len(&r.body)));
        r
    }

    fn resolve_tag(&self, tag: &str) -> Option<u64> {
        match tag.parse::<u64>() {
            Ok(id) => self.tag(id).map(|t| t.id),
            Err(_) => self.tag_by_name.get(tag).copied(),
        }
    }

    /// `POST /events/addTag/{event}/{tag id}` or body `{"request":{"Event":{"id","tag"}}}` (#26–#28, #53):
    /// always 200, errors in `{"saved":false}`. A tag *name* in the URL is a CakePHP named parameter, so it
    /// never reaches the action: "Invalid Tag." exactly like the recorded MISP (#26).
    pub fn events_add_tag(&mut self, user: &User, target: &str, tag: &str) -> Reply {
        let fail = |msg: &str| Reply::ok(json!({"saved": false, "errors": msg}));
        let Some(id) = self.user_event(user, target) else {
            return fail("Invalid event.");
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return fail("You don't have permission to do that."); // #53
        }
        let Some(tag_id) = self.resolve_tag(tag) else {
            return fail("Invalid Tag."); // #26, #28
        };
        let name = self.tag(tag_id).map(|t| t.name.clone()).unwrap_or_default();
        let Some(e) = self.events.get(&id) else {
            return fail("Invalid event.");
        };
        if e.tags.iter().any(|r| r.tag_id == tag_id) {
            return fail("Tag is already attached to this event.");
        }
        // The tlp taxonomy is exclusive: a second tlp:* tag is refused on this path (#27).
        let exclusive_clash = name.starts_with("tlp:")
            && e.tags.iter().any(|r| {
                self.tag(r.tag_id)
                    .is_some_and(|t| t.name.starts_with("tlp:"))
            });
        if exclusive_clash {
            return fail("Tag is not allowed due to taxonomy exclusivity settings");
        }
        if let Some(e) = self.events.get_mut(&id) {
            e.tags.push(TagRef {
                tag_id,
                local: false,
            });
        }
        Reply::ok(json!({"saved": true, "success": "Tag added.", "check_publish": true}))
    }

    /// `POST /events/removeTag/{event}/{tag id}` (#29).
    pub fn events_remove_tag(&mut self, user: &User, target: &str, tag: &str) -> Reply {
        let fail = |msg: &str| Reply::ok(json!({"saved": false, "errors": msg}));
        let Some(id) = self.user_event(user, target) else {
            return fail("Invalid event.");
        };
        if !self
            .events
            .get(&id)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return fail("You don't have permission to do that.");
        }
        let tag_id = self.resolve_tag(tag);
        let Some(e) = self.events.get_mut(&id) else {
            return fail("Invalid event.");
        };
        match tag_id.and_then(|t| e.tags.iter().position(|r| r.tag_id == t)) {
            Some(pos) => {
                e.tags.remove(pos);
                Reply::ok(json!({"saved": true, "success": "Tag removed.", "check_publish": true}))
            }
            None => fail("Invalid event - tag combination."), // #29
        }
    }

    /// `POST /attributes/addTag/{attribute}/{tag id}[/local:1]` (#116).
    pub fn attributes_add_tag(
        &mut self,
        user: &User,
        target: &str,
        tag: &str,
        local: bool,
    ) -> Reply {
        let fail = |msg: &str| Reply::ok(json!({"saved": false, "errors": msg}));
        let Some(aid) = self.find_attr(target) else {
            return fail("Invalid attribute.");
        };
        let eid = self.attrs.get(&aid).map_or(0, |a| a.event_id);
        if !self
            .events
            .get(&eid)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return fail("You don't have permission to do that.");
        }
        let Some(tag_id) = self.resolve_tag(tag) else {
            return fail("Invalid Tag.");
        };
        if let Some(a) = self.attrs.get_mut(&aid) {
            if a.tags.iter().any(|r| r.tag_id == tag_id) {
                return fail("Tag is already attached to this attribute.");
            }
            a.tags.push(TagRef { tag_id, local });
        }
        Reply::ok(json!({"saved": true, "success": "Tag added.", "check_publish": true}))
    }

    /// `POST /tags/attachTagToObject` and `/tags/removeTagFromObject` with `{"uuid", "tag", "local"?}`
    /// on an event or attribute uuid (#30, #114, #115).
    pub fn tags_attach(
        &mut self,
        user: &User,
        body: &Map<String, Value>,
        attach: bool,
        url: &str,
    ) -> Reply {
        let action = if attach {
            "attachTagToObject"
        } else {
            "removeTagFromObject"
        };
        let short_url = format!("/tags/{action}");
        let uuid = string(body, "uuid")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let tag = string(body, "tag").unwrap_or_default();
        let local = flag(body, "local").unwrap_or(false);
        let Some(tag_id) = self.resolve_tag(&tag) else {
            return Reply::exception(404, "Invalid tag.", url);
        };
        let tag_name = self.tag(tag_id).map(|t| t.name.clone()).unwrap_or_default();
        let scope = if local { "Local" } else { "Global" };
        let (kind, owner_event, object_id) =
            if let Some(eid) = self.event_by_uuid.get(&uuid).copied() {
                ("Event", eid, eid)
            } else if let Some(aid) = self.attr_by_uuid.get(&uuid).copied() {
                (
                    "Attribute",
                    self.attrs.get(&aid).map_or(0, |a| a.event_id),
                    aid,
                )
            } else {
                return Reply::exception(404, "Invalid object.", url);
            };
        if !self
            .events
            .get(&owner_event)
            .is_some_and(|e| self.can_modify(user, e))
        {
            return Reply::exception(403, NO_PERMISSION, url);
        }
        let refs = if kind == "Event" {
            self.events.get_mut(&object_id).map(|e| &mut e.tags)
        } else {
            self.attrs.get_mut(&object_id).map(|a| &mut a.tags)
        };
        let Some(refs) = refs else {
            return Reply::internal(url);
        };
        let present = refs.iter().position(|r| r.tag_id == tag_id);
        let msg = match (attach, present) {
            (true, Some(_)) => return Reply::exception(405, "Tag is already attached.", url),
            (true, None) => {
                refs.push(TagRef { tag_id, local });
                format!(
                    "{scope} tag {tag_name}({tag_id}) successfully attached to {kind}({object_id})."
                )
            }
            (false, Some(pos)) => {
                refs.remove(pos);
                format!(
                    "{scope} tag {tag_name} ({tag_id}) successfully removed from {kind}({object_id})."
                )
            }
            (false, None) => return Reply::exception(404, "Tag is not attached.", url),
        };
        Reply::save_success(&msg, &short_url, None)
    }

    /// `GET /events/index` (#63): event metadata with `EventTag`, newest change first, `X-Result-Count`.
    pub fn events_index(&self, user: &User) -> Reply {
        let mut events: Vec<&Event> = self
            .events
            .values()
            .filter(|e| self.can_see(user, e))
            .collect();
        events.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.id.cmp(&a.id)));
        let org = |id: u64| {
            let (name, uuid) = self
                .org(id)
                .map(|o| (o.name.clone(), o.uuid.clone()))
                .unwrap_or_default();
            json!({"id": id.to_string(), "name": name, "uuid": uuid})
        };
        let items: Vec<Value> = events
            .iter()
            .map(|e| {
                let tags: Vec<Value> = e
                    .tags
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        let t = self.tag(r.tag_id)?;
                        Some(json!({"id": (i + 1).to_string(), "event_id": e.id.to_string(),
                            "tag_id": t.id.to_string(), "local": r.local, "relationship_type": null,
                            "Tag": {"id": t.id.to_string(), "name": t.name, "colour": t.colour, "is_galaxy": false}}))
                    })
                    .collect();
                json!({
                    "id": e.id.to_string(), "org_id": e.org_id.to_string(), "date": e.date, "info": e.info,
                    "uuid": e.uuid, "published": e.published, "analysis": e.analysis.to_string(),
                    "attribute_count": self.attribute_count(e).to_string(), "orgc_id": e.orgc_id.to_string(),
                    "timestamp": e.timestamp.to_string(), "distribution": e.distribution.to_string(),
                    "sharing_group_id": e.sharing_group_id.to_string(), "proposal_email_lock": false,
                    "locked": false, "threat_level_id": e.threat_level_id.to_string(),
                    "publish_timestamp": e.publish_timestamp.to_string(), "sighting_timestamp": "0",
                    "disable_correlation": e.disable_correlation, "extends_uuid": e.extends_uuid,
                    "protected": null, "Org": org(e.org_id), "Orgc": org(e.orgc_id), "EventTag": tags,
                })
            })
            .collect();
        let mut r = Reply::ok(Value::Array(items));
        r.result_count = Some(events.len());
        r
    }
}

fn items_len(v: &Value) -> usize {
    v.get("response")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}
