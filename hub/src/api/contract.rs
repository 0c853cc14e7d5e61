//! What the server enforces, written into the OpenAPI document: lengths,
//! patterns, e-mail addresses, bounds of every integer, and the exact
//! shape of each alert rule kind and receiver kind. A request valid by the
//! document is therefore not refused for its shape, and one the document
//! forbids is refused (schemathesis checks both, `hub/tests/schemathesis.rs`).
//! Types the API owns carry their own `#[schema(...)]`; the alert types
//! (`alerts/`) are described here, from their generated schemas.

use serde_json::{Map, Value, json};

/// No control character (Rust's `char::is_control`: Unicode `Cc`).
pub(crate) const NO_CONTROL: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// What [`crate::access::valid_email`] accepts: something, `@`, a domain
/// with a dot; no white space (Rust's `char::is_whitespace`) or control
/// character anywhere.
pub(crate) const EMAIL: &str = concat!(
    r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+",
    r"@[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*",
    r"\.[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
);

/// What [`crate::access::valid_bucket`] accepts.
pub(crate) const BUCKET: &str = "^[A-Za-z0-9._-]{1,64}$";

/// A port, 0 to 65535.
const PORT: &str =
    "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})";

/// Host, optional port, optional path and query: what
/// [`crate::alerts::url::receiver_url`] accepts.
fn url_pattern(schemes: &str) -> String {
    format!(r"^{schemes}://[A-Za-z0-9.-]+(:{PORT})?([/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$")
}

/// Rewrites the generated document with every constraint the server enforces.
pub(crate) fn tighten(doc: &mut Value) {
    // Parameters are all signed (ids, Unix ms); in bodies an integer with
    // `minimum: 0` is a Rust unsigned one.
    bound_integers(&mut doc["paths"], false);
    bound_integers(&mut doc["components"], true);
    let schemas = &mut doc["components"]["schemas"];
    let text = |max: u64| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": NO_CONTROL});
    // Not `format: email`: the server's rule is this pattern, and JSON
    // Schema's e-mail format is stricter than a pattern can say exactly.
    let email = json!({"type": "string", "maxLength": 254, "pattern": EMAIL});
    let bucket = json!({"type": "string", "pattern": BUCKET});
    for (schema, field, extra) in [
        ("NewKey", "bucket", bucket.clone()),
        ("NewToken", "name", text(64)),
        ("NewUser", "email", email.clone()),
        ("Credentials", "email", email.clone()),
        ("Setup", "email", email),
        ("Setup", "password", json!({"minLength": 12})),
    ] {
        merge(&mut schemas[schema]["properties"][field], &extra);
    }
    merge(
        &mut schemas["NewUser"]["properties"]["buckets"]["items"],
        &bucket,
    );
    let listed = listed_receiver(schemas);
    schemas["Receiver"] = listed;
    let rule = new_rule(schemas);
    let receiver = new_receiver(schemas);
    schemas["NewRule"] = rule;
    schemas["NewReceiver"] = receiver;
    for (path, name) in [
        ("/api/v1/alert-rules", "NewRule"),
        ("/api/v1/receivers", "NewReceiver"),
    ] {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"] =
            json!({"$ref": format!("#/components/schemas/{name}")});
    }
}

/// Adds `extra`'s members to `target` (an object schema).
fn merge(target: &mut Value, extra: &Value) {
    if let (Some(t), Some(e)) = (target.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// Every integer gets the bounds of its Rust type (utoipa writes only
/// `minimum: 0` for unsigned ones): the JSON numbers serde can read.
fn bound_integers(v: &mut Value, unsigned_at_zero: bool) {
    match v {
        Value::Object(o) => {
            if o.get("type") == Some(&json!("integer")) && !o.contains_key("maximum") {
                let unsigned =
                    unsigned_at_zero && o.get("minimum").and_then(Value::as_i64) == Some(0);
                let (min, max): (Value, Value) =
                    match (o.get("format").and_then(Value::as_str), unsigned) {
                        (Some("int32"), true) => (json!(0), json!(u32::MAX)),
                        (Some("int32"), false) => (json!(i32::MIN), json!(i32::MAX)),
                        (_, true) => (json!(0), json!(u64::MAX)),
                        (_, false) => (json!(i64::MIN), json!(i64::MAX)),
                    };
                o.entry("minimum").or_insert(min);
                o.insert("maximum".into(), max);
                // `int64` would cap an unsigned field at 2^63 - 1.
                if unsigned && o.get("format") == Some(&json!("int64")) {
                    o.remove("format");
                }
            }
            o.values_mut()
                .for_each(|v| bound_integers(v, unsigned_at_zero));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| bound_integers(v, unsigned_at_zero)),
        _ => {}
    }
}

/// The body of `POST /api/v1/alert-rules`: one object schema per kind,
/// the common fields and the kind's own, nothing else.
fn new_rule(schemas: &Value) -> Value {
    let spec = &schemas["RuleSpec"]["allOf"];
    let common = spec
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == "object"))
        .cloned()
        .unwrap_or_default();
    let mut common_props = common["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let no_control = |max: u64| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": NO_CONTROL});
    merge(&mut common_props["name"], &no_control(128));
    merge(
        &mut common_props["severity"],
        &json!({"enum": ["critical", "warning", "info"]}),
    );
    merge(
        &mut common_props["for_secs"],
        &json!({"maximum": 7 * 86400}),
    );
    merge(
        &mut common_props["labels"],
        &json!({"propertyNames": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": no_control(256)}),
    );
    merge(
        &mut common_props["annotations"],
        &json!({"additionalProperties": {"type": "string", "maxLength": 4096}}),
    );
    // Scope values and receiver names are text like the rest.
    if let Some(scope) = common_props["scope"]["properties"].as_object_mut() {
        for v in scope.values_mut() {
            merge(
                v,
                &json!({"minLength": 1, "maxLength": 256, "pattern": NO_CONTROL}),
            );
        }
    }
    merge(
        &mut common_props["scope"],
        &json!({"additionalProperties": false}),
    );
    merge(&mut common_props["receivers"]["items"], &no_control(128));
    // A metric rule's `above` and `below` may be null (absent).
    let loose = json!({"type": ["number", "null"]});
    let kinds = schemas["RuleKind"]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let variants: Vec<Value> = kinds
        .into_iter()
        .map(|k| {
            let mut props: Map<String, Value> = common_props.clone();
            let own = k["properties"].as_object().cloned().unwrap_or_default();
            let kind = own["kind"]["enum"][0]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for (name, mut schema) in own {
                match name.as_str() {
                    "count" | "window_secs" | "grace_secs" => {
                        merge(&mut schema, &json!({"minimum": 1}))
                    }
                    "metric" => merge(&mut schema, &no_control(256)),
                    "above" | "below" if kind == "metric" => schema = loose.clone(),
                    "above" if kind == "cpu" => merge(&mut schema, &json!({"minimum": 0})),
                    "above" => merge(&mut schema, &json!({"minimum": 0, "maximum": 100})),
                    _ => {}
                }
                props.insert(name, schema);
            }
            let mut required = vec![json!("name")];
            required.extend(k["required"].as_array().cloned().unwrap_or_default());
            required.retain(|r| kind != "metric" || (r != "above" && r != "below"));
            let mut v = json!({
                "type": "object",
                "description": k["description"],
                "required": required,
                "properties": props,
                "additionalProperties": false,
            });
            if kind == "metric" {
                v["anyOf"] = json!([
                    {"required": ["above"], "properties": {"above": {"type": "number"}}},
                    {"required": ["below"], "properties": {"below": {"type": "number"}}},
                ]);
            }
            v
        })
        .collect();
    json!({
        "description": "An alert rule: its name, kind and the kind's fields, scope, timing and labels. Unknown fields are refused.",
        "oneOf": variants,
    })
}

/// A receiver as listed: its settings (flattened, so their schema's
/// `additionalProperties: false` cannot stand) plus `id`, `host`, `created_at`.
fn listed_receiver(schemas: &Value) -> Value {
    let mut r = schemas["ReceiverSpec"].clone();
    let extra = schemas["Receiver"]["allOf"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == "object"))
        .cloned()
        .unwrap_or_default();
    if let (Some(props), Some(more)) = (
        r["properties"].as_object_mut(),
        extra["properties"].as_object(),
    ) {
        props.extend(more.clone());
    }
    if let (Some(req), Some(more)) = (r["required"].as_array_mut(), extra["required"].as_array()) {
        req.extend(more.iter().cloned());
    }
    if let Some(o) = r.as_object_mut() {
        o.remove("additionalProperties");
    }
    r["description"] =
        json!("A receiver as listed: its settings and host, never its URL's path or secret.");
    r
}

/// The body of `POST /api/v1/receivers`: the settings plus `url`, whose
/// scheme depends on the kind.
fn new_receiver(schemas: &Value) -> Value {
    let mut r = schemas["ReceiverSpec"].clone();
    let no_control =
        json!({"type": "string", "minLength": 1, "maxLength": 128, "pattern": NO_CONTROL});
    let props = &mut r["properties"];
    merge(&mut props["name"], &no_control);
    merge(&mut props["group_by"]["items"], &no_control);
    for (field, bounds) in [
        ("group_wait_secs", json!({"maximum": 7 * 86400})),
        (
            "group_interval_secs",
            json!({"minimum": 1, "maximum": 7 * 86400}),
        ),
        (
            "repeat_interval_secs",
            json!({"minimum": 1, "maximum": 7 * 86400}),
        ),
        ("timeout_secs", json!({"minimum": 1, "maximum": 60})),
        ("max_attempts", json!({"minimum": 1, "maximum": 10})),
    ] {
        merge(&mut props[field], &bounds);
    }
    props["url"] = json!({
        "type": "string",
        "description": "Where to POST: `https://` (also `http://` for a webhook), a host of letters, digits, `.` and `-`, an optional port, path and query. Stored sealed; listed as its scheme and host only.",
    });
    if let Some(req) = r["required"].as_array_mut() {
        req.push(json!("url"));
    }
    r["description"] = json!(
        "A receiver's settings plus `url`. A webhook may post to `http://` or `https://`; Slack and Discord only to `https://`."
    );
    r["oneOf"] = json!([
        {"properties": {"kind": {"const": "webhook"}, "url": {"pattern": url_pattern("https?")}}},
        {"properties": {"kind": {"enum": ["slack", "discord"]}, "url": {"pattern": url_pattern("https")}}},
    ]);
    r
}
