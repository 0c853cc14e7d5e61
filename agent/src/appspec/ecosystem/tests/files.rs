//! Ecosystem files of every format, and the errors they give.

use super::super::*;

fn load_text(name: &str, text: &str, env: Option<&str>) -> anyhow::Result<Loaded> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.sh"), "sleep 1\n").unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    let shell = BTreeMap::from([
        ("SHELL_VAR".to_string(), "from-shell".to_string()),
        ("MODE".to_string(), "shell".to_string()),
    ]);
    load(&p, &[], env, &shell)
}

#[test]
fn env_layers_in_pm2_order() {
    let l = load_text(
        "e.json",
        r#"{"apps":[{"name":"a","script":"app.sh","env":{"MODE":"env","PORT":3000},"env_production":{"MODE":"prod"}}],
            "deploy":{"production":{"env":{"MODE":"deploy","FROM_DEPLOY":"yes","SHELL_VAR":"deploy"}},
                      "staging":{"env":{"STAGING":"no"}}}}"#,
        Some("production"),
    )
    .unwrap();
    let env = &l.apps[0].env;
    // deploy.production.env is above the shell, below env and env_production.
    assert_eq!(env["SHELL_VAR"], "deploy");
    assert_eq!(env["FROM_DEPLOY"], "yes");
    assert!(!env.contains_key("STAGING"));
    assert_eq!(env["MODE"], "prod");
    assert_eq!(env["PORT"], "3000");
    // Shown as the number it was written as (pm2's prettylist).
    assert_eq!(l.apps[0].typed_env, ["PORT".to_string()].into());
    let l = load_text(
        "e.json",
        r#"{"apps":[{"name":"a","script":"app.sh","env":{"MODE":"env"}}]}"#,
        None,
    )
    .unwrap();
    assert_eq!(l.apps[0].env["MODE"], "env");
}

#[test]
fn errors_name_file_line_column_and_option() {
    let e = load_text("e.json", "{\"apps\": [\n  {\"name\": \"a\",, }\n]}", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("e.json:2:"), "{e}");
    let e = load_text(
        "e.yaml",
        "apps:\n  - name: a\n    script: [unclosed\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("e.yaml:"), "{e}");
    let e = load_text("e.toml", "[[apps]]\nname = \"a\"\nscript = \n", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("e.toml:3:"), "{e}");
    // pm2 ignores unknown options: a warning that names it, not a refusal.
    let l = load_text(
        "e.json",
        r#"{"apps":[{"name":"a","script":"app.sh","max_restart":3}]}"#,
        None,
    )
    .unwrap();
    assert!(
        l.warnings[0].contains("unknown option \"max_restart\" ignored"),
        "{:?}",
        l.warnings
    );
    // pm2's habits in .json files: numbers as strings, a `pm2` list,
    // JavaScript object literals.
    let l = load_text(
        "e.json",
        "{pm2: [{name: 'a', script: 'app.sh', instances: \"3\", // three\n max_restarts: '4'}]}",
        None,
    )
    .unwrap();
    assert_eq!((l.apps[0].instances, l.apps[0].max_restarts), (3, 4));
    let e = load_text(
        "e.json",
        r#"{"apps":[{"name":"a","script":"app.sh","instances":true}]}"#,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("option instances") && e.contains("true"), "{e}");
}

#[test]
fn filter_env_and_not_yet_options() {
    let l = load_text(
        "e.yml",
        "apps:\n  - name: a\n    script: app.sh\n    filter_env: [SHELL]\n    watch_options: {}\n    watch: true\n",
        None,
    )
    .unwrap();
    assert!(!l.apps[0].env.contains_key("SHELL_VAR"));
    assert!(l.apps[0].env.contains_key("MODE"));
    assert!(l.warnings[0].contains("watch_options"), "{:?}", l.warnings);
    assert_eq!(
        l.apps[0].watch.len(),
        1,
        "watch: true watches the app's directory"
    );
}

#[test]
fn the_docs_say_an_unknown_option_is_a_warning() {
    // What the code does (above) is what the README and this module say.
    let readme = include_str!("../../../../../README.md");
    assert!(
        readme.contains("an unknown option in one is a warning"),
        "README.md must say an unknown ecosystem option is a warning"
    );
    let header = include_str!("../mod.rs");
    assert!(!header.contains("an unknown option is an error"), "mod.rs");
}
