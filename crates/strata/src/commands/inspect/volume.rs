//! Docker's volume inspect document (docker-behaviour.md §2.4): `CreatedAt`
//! (RFC 3339, seconds, UTC), `Driver`, `Labels` and `Options` (`null` when
//! empty), `Mountpoint`, `Name`, `Scope`, in that order.

use serde_json::{Map, Value, json};
use strata_store::volume::Volume;

use crate::output::time;

pub fn volume_document(v: &Volume) -> Value {
    let map_or_null =
        |m: &std::collections::BTreeMap<String, String>| if m.is_empty() { Value::Null } else { json!(m) };
    let mut o = Map::new();
    o.insert("CreatedAt".into(), json!(created_at(&v.created)));
    o.insert("Driver".into(), json!(v.driver));
    o.insert("Labels".into(), map_or_null(&v.labels));
    o.insert("Mountpoint".into(), json!(v.mountpoint.display().to_string()));
    o.insert("Name".into(), json!(v.name));
    o.insert("Options".into(), map_or_null(&v.options));
    o.insert("Scope".into(), json!("local"));
    Value::Object(o)
}

/// Go's `time.RFC3339` of the creation time, in UTC.
pub fn created_at(created: &str) -> String {
    match time::parse(created) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => created.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_like_docker() {
        let v = Volume {
            name: "anc_lab".into(),
            driver: "local".into(),
            labels: [("k".to_string(), "v".to_string())].into(),
            options: Default::default(),
            anonymous: false,
            created: "2026-11-29T05:49:20.123456789+00:00".into(),
            mountpoint: "/var/lib/strata/volumes/anc_lab/_data".into(),
        };
        assert_eq!(
            serde_json::to_string(&volume_document(&v)).unwrap(),
            r#"{"CreatedAt":"2026-11-29T05:49:20Z","Driver":"local","Labels":{"k":"v"},"Mountpoint":"/var/lib/strata/volumes/anc_lab/_data","Name":"anc_lab","Options":null,"Scope":"local"}"#
        );
    }
}
