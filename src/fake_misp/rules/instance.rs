//! `/servers/getVersion`, `/users/view/me` and `/sharing_groups`: who the key is and what it may use.

use super::*;

impl Store {
    /// `GET /servers/getVersion` (#1).
    pub fn get_version(&self, user: &User) -> Reply {
        Reply::ok(json!({
            "version": "2.5.1", "pymisp_recommended_version": "2.5.1", "perm_sync": user.site_admin,
            "perm_sighting": true, "perm_galaxy_editor": user.site_admin, "perm_analyst_data": true,
            "uuid": if user.site_admin { "bcfdcdb7-a2f3-4470-a76f-4ea6b14608f5" } else { "-" },
            "request_encoding": ["gzip"], "filter_sightings": true,
        }))
    }

    /// `GET /users/view/me` (`UsersController::view`): the user, its role and organisation.
    pub fn users_me(&self, user: &User) -> Reply {
        let org = self.org(user.org_id).cloned();
        let (name, uuid) = org.map(|o| (o.name, o.uuid)).unwrap_or_default();
        Reply::ok(json!({
            "User": {"id": user.id.to_string(), "org_id": user.org_id.to_string(), "email": user.email,
                     "role_id": if user.site_admin { "1" } else { "3" }, "disabled": false, "autoalert": false},
            "Role": {"id": if user.site_admin { "1" } else { "3" }, "name": if user.site_admin { "admin" } else { "User" },
                     "perm_add": true, "perm_modify": true, "perm_modify_org": user.site_admin,
                     "perm_publish": user.perm_publish, "perm_sync": user.site_admin, "perm_admin": user.site_admin,
                     "perm_site_admin": user.site_admin, "perm_tagger": true, "perm_tag_editor": user.site_admin,
                     "perm_sighting": true},
            "Organisation": {"id": user.org_id.to_string(), "name": name, "uuid": uuid, "local": true},
        }))
    }

    /// `GET /sharing_groups/view/{id}` (#84); unknown or not authorised → 404.
    pub fn sharing_group_view(&self, user: &User, id: &str, url: &str) -> Reply {
        match id.parse::<u64>() {
            Ok(id) if self.sharing_group_usable(user, id) => {
                match render::sharing_group(self, id) {
                    Some(v) => Reply::ok(v),
                    None => Reply::exception(404, "Invalid sharing group.", url),
                }
            }
            _ => Reply::exception(404, "Invalid sharing group.", url),
        }
    }

    /// `GET /sharing_groups` (notes/misp.md §1.6): `{"response": [...]}` of the groups the user may use.
    pub fn sharing_groups_index(&self, user: &User) -> Reply {
        let items: Vec<Value> = self
            .sharing_groups
            .iter()
            .filter(|g| self.sharing_group_usable(user, g.id))
            .filter_map(|g| render::sharing_group(self, g.id))
            .collect();
        Reply::ok(json!({ "response": items }))
    }

    /// `GET /tags/index` (#32): every tag by name with how many events and attributes carry it.
    pub fn tags_index(&self) -> Reply {
        let mut tags: Vec<&super::super::model::Tag> = self.tags.iter().collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        let items: Vec<Value> = tags
            .iter()
            .map(|t| {
                let count = self.events.values().filter(|e| e.tags.iter().any(|r| r.tag_id == t.id)).count();
                let attribute_count = self
                    .attrs
                    .values()
                    .filter(|a| a.tags.iter().any(|r| r.tag_id == t.id))
                    .count();
                json!({"id": t.id.to_string(), "name": t.name, "colour": t.colour, "exportable": true,
                       "org_id": "0", "user_id": "0", "hide_tag": false, "numerical_value": null,
                       "is_galaxy": false, "is_custom_galaxy": false, "local_only": false, "favourite": false,
                       "count": count, "attribute_count": attribute_count})
            })
            .collect();
        Reply::ok(json!({ "Tag": items }))
    }
}
