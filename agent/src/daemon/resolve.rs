//! Which instances a request's targets name: names, namespaces, ids,
//! script paths, `/regex/` and `all`, tried in pm2's order. Kept apart from
//! the registry it reads because its failures are what the CLI branches on
//! (a name that is not known is started as a script).

use std::collections::BTreeMap;
use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};

use super::reply::Failure;
use super::state::Daemon;
use crate::supervisor::Handle;

/// Why targets could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The target names no instance; the CLI may start it as a script.
    #[error("Process or Namespace {0} not found")]
    NotFound(String),
    /// A `/regex/` target that does not compile.
    #[error("invalid regular expression {target}: {reason}")]
    BadPattern {
        /// The target as given, slashes included.
        target: String,
        /// What the regex parser said.
        reason: String,
    },
}

impl ResolveError {
    /// The kind the socket protocol reports for it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ResolveError::NotFound(_) => ErrorKind::NotFound,
            ResolveError::BadPattern { .. } => ErrorKind::Invalid,
        }
    }
}

impl From<ResolveError> for Failure {
    fn from(e: ResolveError) -> Self {
        Failure::new(e.kind(), e.to_string())
    }
}

impl From<ResolveError> for Response {
    fn from(e: ResolveError) -> Self {
        Failure::from(e).into()
    }
}

impl Daemon {
    /// Resolves names, namespaces, ids, script paths, `/regex/` and `all`
    /// to instances;
    /// fails, naming the target, if any matches nothing.
    pub fn resolve(&self, targets: &[String]) -> Result<Vec<Arc<Handle>>, ResolveError> {
        let reg = self.registry();
        let mut found: BTreeMap<u32, Arc<Handle>> = BTreeMap::new();
        for target in targets {
            let before = found.len();
            let mut any = false;
            // As pm2 tries them: a name, a namespace, an id (a number is a
            // name first: an app may be called `455`), then a script path.
            let named = |f: &dyn Fn(&Handle) -> bool| reg.apps.values().any(|h| f(h));
            let matches: Box<dyn Fn(&Handle) -> bool> = if target == "all" {
                Box::new(|_| true)
            } else if let Some(re) = target.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
                let re = regex_lite::Regex::new(re).map_err(|e| ResolveError::BadPattern {
                    target: target.clone(),
                    reason: e.to_string(),
                })?;
                Box::new(move |h| re.is_match(&h.spec().name))
            } else if named(&|h| &h.spec().name == target) {
                Box::new(move |h| &h.spec().name == target)
            } else if named(&|h| &h.spec().namespace == target) {
                Box::new(move |h| &h.spec().namespace == target)
            } else if let Ok(id) = target.parse::<u32>() {
                Box::new(move |h| h.id == id)
            } else {
                // A script: its path as given (absolute), or a path ending in it
                // (`echo.js`, `app/echo.js` from the directory above).
                Box::new(move |h| script_is(&h.spec().script, target))
            };
            for h in reg.apps.values().filter(|h| matches(h)) {
                any = true;
                found.insert(h.id, h.clone());
            }
            if !any && found.len() == before {
                return Err(ResolveError::NotFound(target.clone()));
            }
        }
        Ok(found.into_values().collect())
    }
}

/// Whether an app's script is the file `target` names: the same path, or
/// one ending in it at a directory boundary (`echo.js`, `./echo.js`).
fn script_is(script: &str, target: &str) -> bool {
    let target = target.strip_prefix("./").unwrap_or(target);
    script == target
        || script
            .strip_suffix(target)
            .is_some_and(|head| head.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_matches_at_a_directory_boundary() {
        assert!(script_is("/srv/app/echo.js", "echo.js"));
        assert!(script_is("/srv/app/echo.js", "./echo.js"));
        assert!(script_is("/srv/app/echo.js", "app/echo.js"));
        assert!(!script_is("/srv/app/myecho.js", "echo.js"));
    }

    #[test]
    fn kinds_follow_the_cause() {
        assert_eq!(
            ResolveError::NotFound("x".into()).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            ResolveError::NotFound("x".into()).to_string(),
            "Process or Namespace x not found"
        );
    }
}
