//! Property and unit tests of the MISP rules (instance invariants under arbitrary add/edit sequences).

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::fake_misp::model::Store;

fn store() -> Store {
    Store::new("a", "b", Vec::new())
}

fn admin(s: &Store) -> User {
    s.users[0].clone()
}

/// The instance-wide invariants MISP's schema enforces (unique uuids, consistent ownership).
fn check_invariants(s: &Store) -> Result<(), String> {
    if s.attr_by_uuid.len() != s.attrs.len() {
        return Err("attribute uuid index out of sync".into());
    }
    for (uuid, id) in &s.attr_by_uuid {
        if s.attrs.get(id).map(|a| &a.uuid) != Some(uuid) {
            return Err(format!("uuid {uuid} points to the wrong attribute"));
        }
    }
    for e in s.events.values() {
        let mut seen = HashSet::new();
        for id in &e.attributes {
            let a = s.attrs.get(id).ok_or("dangling attribute id")?;
            if a.event_id != e.id || a.object_id != 0 {
                return Err(format!("attribute {id} misfiled"));
            }
            if !a.deleted && !seen.insert((a.type_.clone(), a.category.clone(), a.value.clone())) {
                return Err(format!("duplicate live value in event {}", e.id));
            }
            if types::lookup(&a.type_).is_none() {
                return Err(format!("unknown type {} stored", a.type_));
            }
        }
        for oid in &e.objects {
            let o = s.objects.get(oid).ok_or("dangling object id")?;
            for id in &o.attributes {
                let a = s.attrs.get(id).ok_or("dangling object attribute")?;
                if a.object_id != o.id || a.event_id != e.id {
                    return Err(format!("object attribute {id} misfiled"));
                }
            }
        }
        for rid in &e.reports {
            if s.reports.get(rid).map(|r| r.event_id) != Some(e.id) {
                return Err(format!("report {rid} misfiled"));
            }
        }
    }
    Ok(())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..2_000).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "ip-dst",
            "domain",
            "md5",
            "url",
            "text",
            "not-a-type",
            "Network activity",
            "Other",
            "Person",
            "192.0.2.1",
            "192.0.2.1",
            "evil.example",
            "d41d8cd98f00b204e9800998ecf8427e",
            "",
            "x",
            "22222222-0000-4000-8000-000000000001",
            "22222222-0000-4000-8000-000000000002",
            "11111111-0000-4000-8000-000000000001",
            "not-a-uuid",
            "1",
            "0",
            "1500",
            "tlp:green",
        ])
        .prop_map(|s| json!(s)),
    ]
}

const KEYS: &[&str] = &[
    "uuid",
    "info",
    "type",
    "category",
    "value",
    "timestamp",
    "deleted",
    "to_ids",
    "distribution",
    "name",
    "content",
    "published",
    "Attribute",
    "Object",
    "EventReport",
    "Tag",
    "object_relation",
    "sharing_group_id",
    "threat_level_id",
    "analysis",
];

fn body() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..7).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop::option::of(s).boxed()
}

fn attr() -> impl Strategy<Value = Value> {
    (
        opt(prop::sample::select(vec![
            "22222222-0000-4000-8000-000000000001",
            "22222222-0000-4000-8000-000000000002",
            "22222222-0000-4000-8000-000000000003",
        ])),
        prop::sample::select(vec!["ip-dst", "domain", "not-a-type"]),
        prop::sample::select(vec!["192.0.2.1", "192.0.2.2", "evil.example"]),
        opt(any::<bool>()),
        opt(prop::sample::select(vec![500i64, 1500, 5000])),
    )
        .prop_map(|(uuid, t, v, deleted, ts)| {
            let mut m = json!({"type": t, "value": v, "object_relation": "r"});
            if let Some(u) = uuid {
                m["uuid"] = json!(u);
            }
            if let Some(d) = deleted {
                m["deleted"] = json!(d);
            }
            if let Some(ts) = ts {
                m["timestamp"] = json!(ts);
            }
            m
        })
}

fn event() -> impl Strategy<Value = Value> {
    (
        opt(prop::sample::select(vec![
            "11111111-0000-4000-8000-000000000001",
            "11111111-0000-4000-8000-000000000002",
        ])),
        opt(prop::sample::select(vec![500i64, 1500, 5000])),
        prop::collection::vec(attr(), 0..4),
        prop::collection::vec(
            (
                opt(prop::sample::select(vec![
                    "33333333-0000-4000-8000-000000000001",
                    "33333333-0000-4000-8000-000000000002",
                ])),
                opt(any::<bool>()),
                prop::collection::vec(attr(), 0..3),
            ),
            0..2,
        ),
        prop::collection::vec(
            (
                opt(prop::sample::select(vec![
                    "44444444-0000-4000-8000-000000000001",
                ])),
                opt(any::<bool>()),
            ),
            0..2,
        ),
        prop::collection::vec(
            (
                prop::sample::select(vec!["tlp:green", "x:y"]),
                any::<bool>(),
            ),
            0..3,
        ),
    )
        .prop_map(|(uuid, ts, attrs, objects, reports, tags)| {
            let mut e = json!({"info": "story", "Attribute": attrs});
            if let Some(u) = uuid {
                e["uuid"] = json!(u);
            }
            if let Some(ts) = ts {
                e["timestamp"] = json!(ts);
            }
            e["Object"] = Value::Array(
                objects
                    .into_iter()
                    .map(|(u, d, a)| {
                        let mut o = json!({"name": "domain-ip", "Attribute": a});
                        if let Some(u) = u {
                            o["uuid"] = json!(u);
                        }
                        if let Some(d) = d {
                            o["deleted"] = json!(d);
                        }
                        o
                    })
                    .collect(),
            );
            e["EventReport"] = Value::Array(
                reports
                    .into_iter()
                    .map(|(u, d)| {
                        let mut r = json!({"name": "r", "content": "c"});
                        if let Some(u) = u {
                            r["uuid"] = json!(u);
                        }
                        if let Some(d) = d {
                            r["deleted"] = json!(d);
                        }
                        r
                    })
                    .collect(),
            );
            e["Tag"] = Value::Array(
                tags.into_iter()
                    .map(|(n, d)| json!({"name": n, "deleted": d}))
                    .collect(),
            );
            json!({ "Event": e })
        })
}

fn run_ops(ops: &[(u8, Value)]) -> Result<(), TestCaseError> {
    let mut s = store();
    let user = admin(&s);
    for (i, (op, body)) in ops.iter().enumerate() {
        let Some(m) = input::unwrap(body, &["Event"]) else {
            continue;
        };
        let now = 1_000 + i as i64;
        let reply = match op % 3 {
            0 => s.events_add(&user, m, ViewOpts::default(), "http://x", false, now),
            1 => s.events_edit(&user, "1", m, ViewOpts::default(), "/events/edit/1", now),
            _ => s.events_edit(&user, "2", m, ViewOpts::default(), "/events/edit/2", now),
        };
        prop_assert!(
            [200, 403, 404, 405].contains(&reply.status),
            "status {}",
            reply.status
        );
        prop_assert_eq!(check_invariants(&s), Ok(()));
    }
    Ok(())
}

proptest! {
    /// Realistic add/edit sequences (shared uuids and values, deletes, timestamps) keep the invariants.
    #[test]
    fn add_edit_sequences_keep_invariants(ops in prop::collection::vec((any::<u8>(), event()), 1..10)) {
        run_ops(&ops)?;
    }

    /// Arbitrary JSON payloads never panic and never break the invariants.
    #[test]
    fn arbitrary_payloads_keep_invariants(ops in prop::collection::vec((any::<u8>(), body()), 1..8)) {
        run_ops(&ops)?;
    }
}

#[test]
fn value_validation() {
    assert!(validate_value("ip-dst", "198.51.100.0/24").is_ok());
    assert!(validate_value("ip-dst", "2001:db8::1").is_ok());
    assert!(validate_value("ip-src", "10.0.0.1/33").is_err());
    assert_eq!(
        validate_value("ip-dst", "not-an-ip"),
        Err("IP address has an invalid format.".to_owned())
    );
    assert!(validate_value("sha256", "abc").is_err());
    assert_eq!(
        validate_value("md5", " D41D8CD98F00B204E9800998ECF8427E "),
        Ok("d41d8cd98f00b204e9800998ecf8427e".to_owned())
    );
    assert_eq!(
        validate_value("text", "   "),
        Err("valueNotEmpty".to_owned())
    );
}
