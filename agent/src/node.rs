//! The Node scripts pmr ships inside its binary, written into
//! `$PMR_HOME/node/` by the daemon: the preload every Node app gets (port
//! sharing, exceptions, readiness), the static file server `pmr serve`
//! runs, and the import resolver the preload gives ES-module apps.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pmr_shared::app::AppSpec;

/// Where the preload was installed; unset until [`install`] succeeds.
static PRELOAD: OnceLock<PathBuf> = OnceLock::new();

/// The scripts, by file name.
const ASSETS: [(&str, &str); 3] = [
    ("pmr-preload.js", include_str!("../assets/node-preload.js")),
    ("pmr-serve.js", include_str!("../assets/serve.js")),
    (
        "pmr-esm-resolve.mjs",
        include_str!("../assets/esm-resolve.mjs"),
    ),
];

/// Writes the scripts into `$PMR_HOME/node` (once per daemon, only where
/// they changed) so that Node apps can `--require` the preload.
pub fn install(home: &Path) -> io::Result<()> {
    let dir = home.join("node");
    std::fs::create_dir_all(&dir)?;
    for (name, body) in ASSETS {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(body) {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, body)?;
            std::fs::rename(&tmp, &path)?;
        }
    }
    let _ = PRELOAD.set(dir.join(ASSETS[0].0));
    Ok(())
}

/// The preload's path, once installed.
pub fn preload() -> Option<&'static Path> {
    PRELOAD.get().map(PathBuf::as_path)
}

/// Where the static file server is (installed by the daemon at its start).
pub fn serve_script(home: &Path) -> PathBuf {
    home.join("node").join(ASSETS[1].0)
}

/// Whether the app runs under node (or bun), which the preload serves.
pub fn is_node(spec: &AppSpec) -> bool {
    let program = if spec.interpreter == "none" {
        &spec.script
    } else {
        &spec.interpreter
    };
    let base = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    base == "node" || base.starts_with("node") && base[4..].chars().all(|c| c.is_ascii_digit())
}
