//! `pmr serve`: pm2's static file server as an app, from the command line
//! and from an ecosystem file (`static`, `script: "serve"`).

use std::net::TcpStream;

use crate::cluster::free_port;
use crate::helper::{Pmr, http, wait_until};

fn get(port: u16, path: &str) -> (u16, String) {
    http(port, "GET", path, None).expect("no answer")
}

/// A site: index, another page, a sub-directory, a 404 page, and a secret
/// beside the site linked from inside it.
fn site(t: &Pmr) {
    std::fs::create_dir_all(t.work().join("site/docs")).unwrap();
    t.write("site/index.html", "the homepage\n");
    t.write("site/other.html", "another page\n");
    t.write("site/docs/index.html", "the docs\n");
    t.write("site/404.html", "nothing here\n");
    t.write("secret.txt", "do not serve\n");
    std::os::unix::fs::symlink(t.work().join("secret.txt"), t.work().join("site/link.txt"))
        .unwrap();
}

#[test]
fn serves_a_directory_and_nothing_outside_it() {
    let t = Pmr::new();
    site(&t);
    let port = free_port();
    let out = t.ok(&["serve", "site", &port.to_string()]);
    assert!(out.contains(&format!("on port {port}")), "{out}");
    let name = format!("static-page-server-{port}");
    assert_eq!(t.jlist()[0]["name"], name.as_str());
    wait_until("the server answering", || http(port, "GET", "/", None));
    assert_eq!(get(port, "/"), (200, "the homepage\n".into()));
    assert_eq!(get(port, "/other.html"), (200, "another page\n".into()));
    assert_eq!(get(port, "/docs/"), (200, "the docs\n".into()));
    assert_eq!(get(port, "/nope.html"), (404, "nothing here\n".into()));
    for escape in [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/link.txt",
    ] {
        let (status, body) = get(port, escape);
        assert!(!body.contains("do not serve"), "{escape} served the secret");
        assert_eq!(status, 404, "{escape}");
    }
    let (status, body) = http(port, "HEAD", "/", None).unwrap();
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(http(port, "POST", "/", None).unwrap().0, 405);
    t.ok(&["delete", &name]);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still serving"
    );
    let err = t.fails(&["serve", "site", "http"]);
    assert!(err.contains("not a port number"), "{err}");
    let err = t.fails(&["serve", "missing-dir", &port.to_string()]);
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn single_page_apps_and_basic_auth() {
    let t = Pmr::new();
    site(&t);
    let port = free_port();
    t.ok(&[
        "serve",
        "site",
        &port.to_string(),
        "--spa",
        "--name",
        "front",
    ]);
    wait_until("the server answering", || http(port, "GET", "/", None));
    assert_eq!(get(port, "/some/route"), (200, "the homepage\n".into()));
    assert_eq!(
        get(port, "/some/route/other.html"),
        (200, "another page\n".into())
    );
    t.ok(&["delete", "front"]);

    let port = free_port();
    t.ok(&[
        "serve",
        "site",
        "--port",
        &port.to_string(),
        "--basic-auth-username",
        "user",
        "--basic-auth-password",
        "pass",
    ]);
    wait_until("the server answering", || http(port, "GET", "/", None));
    assert_eq!(get(port, "/").0, 401);
    // user:pass and user:wrong, base64.
    assert_eq!(
        http(port, "GET", "/", Some("dXNlcjp3cm9uZw==")).unwrap().0,
        401
    );
    let ok = http(port, "GET", "/", Some("dXNlcjpwYXNz")).unwrap();
    assert_eq!(ok, (200, "the homepage\n".into()));
    let err = t.fails(&["serve", "site", "--basic-auth-username", "user"]);
    assert!(err.contains("--basic-auth-password"), "{err}");
}

#[test]
fn ecosystem_files_serve_with_static_and_script_serve() {
    let t = Pmr::new();
    site(&t);
    let (a, b) = (free_port(), free_port());
    t.write(
        "static.json",
        &format!(r#"{{"static": [{{"path": "site", "port": {a}, "spa": true}}]}}"#),
    );
    t.write(
        "apps.json",
        &format!(
            r#"[{{"name": "front", "script": "serve", "env": {{"PM2_SERVE_PORT": {b}, "PM2_SERVE_PATH": "site"}}}}]"#
        ),
    );
    t.ok(&["start", "static.json"]);
    t.ok(&["start", "apps.json"]);
    for port in [a, b] {
        wait_until("the server answering", || http(port, "GET", "/", None));
        assert_eq!(get(port, "/"), (200, "the homepage\n".into()));
    }
    assert_eq!(get(a, "/deep/route"), (200, "the homepage\n".into()), "spa");
    let names: Vec<String> = t
        .jlist()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, [format!("static-page-server-{a}"), "front".into()]);
    t.ok(&["stop", "apps.json"]);
    assert!(
        TcpStream::connect(("127.0.0.1", b)).is_err(),
        "still serving"
    );
}
