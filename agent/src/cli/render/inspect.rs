//! Node's `util.inspect` layout of a JSON value, which `pm2 prettylist`
//! prints and scripts written for pm2 may parse.

use serde_json::Value;

/// Node's `util.inspect` layout of a JSON value, as `pm2 prettylist` prints it.
pub(crate) fn inspect(v: &Value) -> String {
    let mut out = String::new();
    inspect_into(v, 0, &mut out);
    out
}

/// A key bare when it is an identifier, else quoted, as Node shows it.
fn inspect_key(k: &str) -> String {
    let ident = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident { k.to_string() } else { quote(k) }
}

/// A string in single quotes, with `\\`, `'` and newlines escaped. Node
/// itself switches to double quotes for a string holding `'`, and escapes
/// other control characters too; pm2's own values rarely hold either.
fn quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('\n', "\\n");
    format!("'{escaped}'")
}

/// Writes `v` at `depth`: short lists of scalars on one line (Node's
/// 72-column rule for them), everything else one entry per line, indented
/// two spaces a level.
fn inspect_into(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&quote(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            let simple = items.iter().all(|i| !i.is_object() && !i.is_array());
            let parts: Vec<String> = items.iter().map(inspect).collect();
            let one_line = format!("[ {} ]", parts.join(", "));
            if simple && one_line.len() + depth * 2 <= 72 {
                out.push_str(&one_line);
            } else {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad);
                    inspect_into(item, depth + 1, out);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&"  ".repeat(depth));
                out.push(']');
            }
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            let n = map.len();
            for (i, (k, val)) in map.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&inspect_key(k));
                out.push_str(": ");
                inspect_into(val, depth + 1, out);
                out.push_str(if i + 1 < n { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inspect_looks_like_node() {
        let v = json!([{ "name": "api", "pm2_env": { "status": "online", "restart_time": 0, "my-key": null, "args": ["a", "b"] } }]);
        let s = inspect(&v);
        assert!(s.contains("    name: 'api',\n"), "{s}");
        assert!(s.contains("status: 'online'"), "{s}");
        assert!(s.contains("restart_time: 0"), "{s}");
        assert!(s.contains("'my-key': null"), "{s}");
        assert!(s.contains("args: [ 'a', 'b' ]"), "{s}");
    }
}
