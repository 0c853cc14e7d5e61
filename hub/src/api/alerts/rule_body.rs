//! The body of `POST /api/v1/alert-rules`, read so that a bad field is
//! named: serde loses the path under `#[serde(flatten)]` (a rule's kind
//! fields sit beside its common ones), so each field's type is checked
//! first on its own, then the rule is parsed and checked as a whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::super::ApiError;
use super::super::extract::body_value;
use crate::alerts::rule::{RuleSpec, Scope};

/// Every field a rule of any kind may have, with its type; a field that is
/// present must not be null unless the rule allows it (`above`, `below`).
#[derive(Deserialize)]
#[allow(dead_code)]
struct FieldTypes {
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "present")]
    scope: Option<Scope>,
    #[serde(default, deserialize_with = "present")]
    for_secs: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    severity: Option<String>,
    #[serde(default, deserialize_with = "present")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    receivers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    count: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    window_secs: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    above_bytes: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    metric: Option<String>,
    #[serde(default, deserialize_with = "present")]
    grace_secs: Option<u64>,
    above: Option<f64>,
    below: Option<f64>,
}

/// A field that is there must hold a `T` (null included in "not a `T`").
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Parses and checks a rule; every error names its field when one is at fault.
pub(crate) fn parse(v: Value) -> Result<RuleSpec, ApiError> {
    if !v.is_object() {
        return Err(ApiError::invalid_checked("a rule is a JSON object"));
    }
    body_value::<FieldTypes>(v.clone())?;
    RuleSpec::parse(v).map_err(|e| {
        if e.starts_with("unknown variant") {
            ApiError::invalid("kind", e)
        } else {
            ApiError::invalid_checked(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn field(v: serde_json::Value) -> Option<String> {
        let e = super::parse(v).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        e.field().map(String::from)
    }

    #[test]
    fn bad_fields_are_named_even_beside_the_kind() {
        let base = |k: &str, v: serde_json::Value| {
            let mut r = json!({"name": "r", "kind": "restarts", "count": 3, "window_secs": 60});
            r[k] = v;
            r
        };
        assert_eq!(field(base("count", json!(-1))).as_deref(), Some("count"));
        assert_eq!(
            field(base("for_secs", json!("5m"))).as_deref(),
            Some("for_secs")
        );
        assert_eq!(
            field(base("for_secs", json!(null))).as_deref(),
            Some("for_secs")
        );
        assert_eq!(field(base("kind", json!("nope"))).as_deref(), Some("kind"));
        assert_eq!(field(base("bogus", json!(1))).as_deref(), Some("bogus"));
        assert_eq!(
            field(base("scope", json!({"app": 3}))).as_deref(),
            Some("scope.app")
        );
        let cpu = json!({"name": "c", "kind": "cpu", "above": "high"});
        assert_eq!(field(cpu).as_deref(), Some("above"));
    }
}
