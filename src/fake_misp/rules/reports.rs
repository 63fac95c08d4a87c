//! Event Reports: add (numeric event id only), edit (client timestamp ignored), view, soft/hard delete, index.

use super::*;

impl Store {
    /// `POST /event_reports/add/{event_id}` (#33–#35, #50, #98–#102): numeric event id only.
    pub fn event_reports_add(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let fail = |errors: &str| {
            Reply::save_fail(
                "Could not add EventReport",
                "/event_reports/add",
                json!(errors),
                None,
            )
        };
        if target.parse::<u64>().is_err() {
            return fail("numeric"); // #35, #98
        }
        let id = match self.event_to_modify(user, target, url) {
            Ok(id) => id,
            Err(refused) => return refused, // #50
        };
        let Some(m) = input::unwrap(body, &["EventReport"]) else {
            return fail("This field cannot be left blank");
        };
        let name = string(m, "name").unwrap_or_default();
        if name.is_empty() {
            return fail("This field cannot be left blank"); // #101
        }
        let uuid = string(m, "uuid").map(|u| u.to_ascii_lowercase());
        if let Some(u) = &uuid {
            if !valid_uuid(u) {
                return fail("Please provide a valid RFC 4122 UUID");
            }
            if self.report_by_uuid.contains_key(u) {
                return fail("The UUID provided is not unique"); // #34
            }
        }
        let mut m = m.clone();
        m.remove("timestamp");
        let rid = self.create_report(id, uuid, name, &m, now);
        self.touch(id, now);
        match self.reports.get(&rid) {
            Some(r) => Reply::ok(render::report_response(self, r, false)),
            None => Reply::internal(url),
        }
    }

    fn report_for(&self, user: &User, target: &str, url: &str, modify: bool) -> Result<u64, Reply> {
        let rid = self
            .find_report(target)
            .ok_or_else(|| Reply::exception(404, "Invalid Event Report", url))?;
        let eid = self.reports.get(&rid).map_or(0, |r| r.event_id);
        let event = self
            .events
            .get(&eid)
            .filter(|e| self.can_see(user, e))
            .ok_or_else(|| Reply::exception(404, "Invalid Event Report", url))?;
        if modify && !self.can_modify(user, event) {
            return Err(Reply::exception(401, "Unauthorized", url)); // #51, #104, #105
        }
        Ok(rid)
    }

    /// `POST /event_reports/edit/{id|uuid}` (#36, #37, #51, #104, #106): a client timestamp is ignored.
    pub fn event_reports_edit(
        &mut self,
        user: &User,
        target: &str,
        body: &Value,
        url: &str,
        now: i64,
    ) -> Reply {
        let rid = match self.report_for(user, target, url, true) {
            Ok(r) => r,
            Err(r) => return r,
        };
        let Some(m) = input::unwrap(body, &["EventReport"]) else {
            return Reply::exception(405, "Invalid input.", url);
        };
        let mut eid = 0;
        if let Some(r) = self.reports.get_mut(&rid) {
            if let Some(n) = string(m, "name")
                && !n.is_empty()
            {
                r.name = n;
            }
            if let Some(c) = string(m, "content") {
                r.content = c;
            }
            if let Ok(Some(d)) = distribution(m, 5) {
                r.distribution = d;
            }
            r.timestamp = now; // #106
            eid = r.event_id;
        }
        self.touch(eid, now);
        match self.reports.get(&rid) {
            Some(r) => Reply::ok(render::report_response(self, r, false)),
            None => Reply::internal(url),
        }
    }

    /// `GET /event_reports/view/{id|uuid}` (#38, #103, #108).
    pub fn event_reports_view(&self, user: &User, target: &str, url: &str) -> Reply {
        match self.report_for(user, target, url, false) {
            Ok(rid) => match self.reports.get(&rid) {
                Some(r) => Reply::ok(render::report_response(self, r, true)),
                None => Reply::internal(url),
            },
            Err(r) => r,
        }
    }

    /// `POST /event_reports/delete/{id}[/1]` (#105, #107): soft by default, hard with `/1` or `{"hard":1}`.
    pub fn event_reports_delete(
        &mut self,
        user: &User,
        target: &str,
        hard: bool,
        url: &str,
        now: i64,
    ) -> Reply {
        let rid = match self.report_for(user, target, url, true) {
            Ok(r) => r,
            Err(r) => return r,
        };
        let eid = self.reports.get(&rid).map_or(0, |r| r.event_id);
        if hard {
            if let Some(r) = self.reports.remove(&rid) {
                self.report_by_uuid.remove(&r.uuid);
            }
            if let Some(e) = self.events.get_mut(&eid) {
                e.reports.retain(|r| *r != rid);
            }
        } else if let Some(r) = self.reports.get_mut(&rid) {
            r.deleted = true;
        }
        self.touch(eid, now);
        let how = if hard { "hard" } else { "soft" };
        Reply::save_success(
            &format!("Event Report {rid} {how} deleted"),
            url,
            Some(rid.to_string()),
        )
    }

    /// `GET /event_reports/index/event_id:{id}` (#39).
    pub fn event_reports_index(&self, user: &User, event: Option<&str>) -> Reply {
        let filter = event.and_then(|e| self.find_event(e));
        let items: Vec<Value> = self
            .reports
            .values()
            .filter(|r| filter.is_none_or(|f| r.event_id == f))
            .filter(|r| {
                self.events
                    .get(&r.event_id)
                    .is_some_and(|e| self.can_see(user, e))
            })
            .map(|r| render::report_response(self, r, true))
            .collect();
        Reply::ok(Value::Array(items))
    }
}
