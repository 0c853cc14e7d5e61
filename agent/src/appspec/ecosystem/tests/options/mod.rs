//! Every option of an app entry, with the values pm2 accepts (numbers as
//! strings, `10M` sizes, a string or a list…) and the exact error a wrong
//! value gives: what the file reader must keep however it is written.

mod env_logs;
mod policy;
mod rest;
mod runs;

use super::super::*;

/// The fields of the spec `app` gives that differ from a bare app's, as
/// compact JSON (the temporary directory shown as `<dir>`), or the error.
fn outcome(app: &str, env_name: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.sh"), "sleep 1\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let shell = BTreeMap::from([("SHELL_VAR".to_string(), "from-shell".to_string())]);
    let load = |app: &str| {
        let p = dir.path().join("e.json");
        std::fs::write(&p, format!(r#"{{"apps":[{app}]}}"#)).unwrap();
        load(&p, &[], env_name, &shell)
    };
    let base =
        serde_json::to_value(&load(r#"{"name":"a","script":"app.sh"}"#).unwrap().apps[0]).unwrap();
    let shown = match load(app) {
        Ok(l) => {
            let spec = serde_json::to_value(&l.apps[0]).unwrap();
            let changed: serde_json::Map<String, Value> = spec
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| base.get(k.as_str()) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            format!("{} {:?}", Value::Object(changed), l.warnings)
        }
        Err(e) => format!("error: {e}"),
    };
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    shown.replace(&dir.display().to_string(), "<dir>")
}

/// Asserts each `(app entry, outcome)` case, `--env production` given.
#[track_caller]
fn check(cases: &[(&str, &str)]) {
    for (app, want) in cases {
        let got = outcome(app, Some("production"));
        assert_eq!(&got, want, "for {app}");
    }
}
