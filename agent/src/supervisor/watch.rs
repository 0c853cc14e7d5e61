//! `--watch`: restart an app when files under its watched paths change.
//!
//! inotify through the notify crate; changes are coalesced into one signal
//! and debounced by the actor. The app's own log and pid files, anything
//! under `$PMR_HOME`, dotfiles and `node_modules` never count, so a watched
//! app that logs into its own directory does not restart itself in a loop.

use std::path::{Component, Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher};
use pmr_shared::app::AppSpec;
use tokio::sync::mpsc;

/// A live watch; dropping it stops watching.
pub(crate) struct Watch {
    /// The OS watcher; dropping it ends the watch.
    _watcher: notify::RecommendedWatcher,
    /// Fires (coalesced) when a relevant file changed.
    pub(crate) changed: mpsc::Receiver<()>,
}

/// Whether a changed path is one the app's restart should ignore.
pub(crate) fn ignored(path: &Path, patterns: &[String], own: &[PathBuf]) -> bool {
    if own.iter().any(|o| path.starts_with(o)) {
        return true;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts
        .iter()
        .any(|p| p.starts_with('.') || p == "node_modules")
    {
        return true;
    }
    patterns.iter().any(|pat| {
        if let Some(ext) = pat.strip_prefix('*') {
            name.ends_with(ext)
        } else if pat.contains('/') {
            path.starts_with(pat) || path.to_string_lossy().contains(pat.as_str())
        } else {
            parts.iter().any(|p| p == pat)
        }
    })
}

/// Starts watching the spec's paths; `own` lists paths that never count.
pub(crate) fn start(spec: &AppSpec, own: Vec<PathBuf>) -> notify::Result<Watch> {
    let (tx, rx) = mpsc::channel(1);
    let patterns = spec.ignore_watch.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if matches!(ev.kind, EventKind::Access(_)) {
            return;
        }
        if ev.paths.iter().any(|p| !ignored(p, &patterns, &own)) {
            // A full channel already holds a pending change: nothing lost.
            let _ = tx.try_send(());
        }
    })?;
    for p in &spec.watch {
        watcher.watch(Path::new(p), RecursiveMode::Recursive)?;
    }
    Ok(Watch {
        _watcher: watcher,
        changed: rx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_own_files_dotfiles_modules_and_patterns() {
        let own = vec![PathBuf::from("/app/out.log"), PathBuf::from("/home/.pmr")];
        let pats = vec!["tmp".to_string(), "*.swp".to_string()];
        assert!(ignored(Path::new("/app/out.log"), &pats, &own));
        assert!(ignored(Path::new("/home/.pmr/logs/x.log"), &pats, &own));
        assert!(ignored(Path::new("/app/.git/index"), &pats, &own));
        assert!(ignored(Path::new("/app/node_modules/x/y.js"), &pats, &own));
        assert!(ignored(Path::new("/app/tmp/cache"), &pats, &own));
        assert!(ignored(Path::new("/app/src/a.js.swp"), &pats, &own));
        assert!(!ignored(Path::new("/app/src/a.js"), &pats, &own));
    }
}
