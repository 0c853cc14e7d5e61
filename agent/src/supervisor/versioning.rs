//! Git metadata of each app (pm2's `versioning`), read with libgit2: no
//! `git` process is forked, and a directory outside any repository simply
//! has none. Also `pull`, `backward` and `forward`, which move the checkout.
//! Their failures are words for the user (`Result<_, String>`): the daemon
//! reports them as they are, and no caller branches on them.

use std::path::{Path, PathBuf};
use std::process::Command;

use git2::{BranchType, Oid, Repository, StatusOptions};
use serde_json::{Value, json};

/// Commits walked at most to find the next revision towards the upstream.
const MAX_WALK: usize = 10_000;
/// Tags listed at most (pm2 keeps 10).
const MAX_TAGS: usize = 10;

/// Where an app's repository is looked for: the script's directory when the
/// script is a file (`pmr start ~/repo/app.js` from anywhere), else its cwd.
pub fn versioning_dir(spec: &pmr_shared::app::AppSpec) -> std::path::PathBuf {
    let script = std::path::Path::new(&spec.script);
    match script.parent() {
        Some(dir) if script.is_absolute() && script.is_file() => dir.to_path_buf(),
        _ => std::path::PathBuf::from(&spec.cwd),
    }
}

/// pm2's `versioning` object for the repository holding `cwd`, or `None`
/// when `cwd` is in no repository.
pub fn read(cwd: &Path) -> Option<Value> {
    let repo = Repository::discover(cwd).ok()?;
    describe(&repo).ok()
}

/// pm2's `versioning` fields for the checkout: remote, branch, revision,
/// comment, ahead/behind counts, unstaged changes, tags.
fn describe(repo: &Repository) -> Result<Value, git2::Error> {
    let head = repo.head()?;
    let commit = head.peel_to_commit()?;
    let branch = if head.is_branch() {
        head.shorthand().unwrap_or("HEAD").to_string()
    } else {
        "HEAD".to_string()
    };
    let remotes: Vec<String> = repo.remotes()?.iter().flatten().map(String::from).collect();
    let remote = if remotes.iter().any(|r| r == "origin") {
        Some("origin".to_string())
    } else {
        remotes.first().cloned()
    };
    let url = remote
        .as_deref()
        .and_then(|r| repo.find_remote(r).ok())
        .and_then(|r| r.url().map(without_credentials));
    // The upstream of the branch, else <remote>/<branch>.
    let upstream = repo
        .find_branch(&branch, BranchType::Local)
        .ok()
        .and_then(|b| b.upstream().ok())
        .and_then(|u| u.get().target())
        .or_else(|| {
            let r = remote.as_deref()?;
            repo.refname_to_id(&format!("refs/remotes/{r}/{branch}"))
                .ok()
        });
    let (ahead, behind) = match upstream {
        Some(up) => repo.graph_ahead_behind(commit.id(), up)?,
        None => (0, 0),
    };
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(false)
        .exclude_submodules(true)
        .include_ignored(false);
    let unstaged = !repo.statuses(Some(&mut opts))?.is_empty();
    let prev_rev = commit.parent_id(0).ok().map(|p| p.to_string());
    let next_rev = upstream.and_then(|up| next_towards(repo, commit.id(), up));
    let mut tags = Vec::new();
    repo.tag_foreach(|oid, name| {
        let points_here = repo
            .find_object(oid, None)
            .and_then(|o| o.peel_to_commit())
            .is_ok_and(|c| c.id() == commit.id());
        if points_here {
            let name = String::from_utf8_lossy(name);
            tags.push(name.trim_start_matches("refs/tags/").to_string());
        }
        tags.len() < MAX_TAGS
    })?;
    Ok(json!({
        "type": "git",
        "url": url,
        "revision": commit.id().to_string(),
        "comment": commit.message().unwrap_or("").trim_end(),
        "branch": branch,
        "remote": remote,
        "remotes": remotes,
        "branch_exists_on_remote": upstream.is_some(),
        "ahead": ahead > 0,
        "behind": behind > 0,
        "ahead_count": ahead,
        "behind_count": behind,
        "unstaged": unstaged,
        "prev_rev": prev_rev,
        "next_rev": next_rev,
        "tags": tags,
        "update_time": chrono::Utc::now().to_rfc3339(),
        "repo_path": repo.workdir().map(|p| p.to_string_lossy().trim_end_matches('/').to_string()),
    }))
}

/// A remote URL without its `user:token@` part: it is shown in `jlist` and
/// sent to the hub.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The commit after `from` on the way to `to` (the child of `from` that
/// `to` descends from), if `to` is ahead.
fn next_towards(repo: &Repository, from: Oid, to: Oid) -> Option<String> {
    if from == to {
        return None;
    }
    let mut walk = repo.revwalk().ok()?;
    walk.push(to).ok()?;
    walk.hide(from).ok()?;
    for oid in walk.take(MAX_WALK).flatten() {
        let c = repo.find_commit(oid).ok()?;
        if c.parent_ids().any(|p| p == from) {
            return Some(oid.to_string());
        }
    }
    None
}

/// Where a checkout move leaves the repository.
#[derive(Debug)]
pub struct Moved {
    /// The repository's working directory.
    pub repo_path: PathBuf,
    /// Revision before.
    pub from: String,
    /// Revision after.
    pub to: String,
}

/// `pmr backward`: the checkout moves to the previous commit of its branch.
pub fn backward(cwd: &Path) -> Result<Moved, String> {
    let repo = open(cwd)?;
    let head = head_commit(&repo)?;
    let prev = head
        .parent_id(0)
        .map_err(|_| format!("{} is at the first commit: nothing before it", head.id()))?;
    reset_to(&repo, head.id(), prev)
}

/// `pmr forward`: the checkout moves one commit towards its upstream.
pub fn forward(cwd: &Path) -> Result<Moved, String> {
    let repo = open(cwd)?;
    let head = head_commit(&repo)?;
    let v = describe(&repo).map_err(|e| e.to_string())?;
    let next = v["next_rev"]
        .as_str()
        .ok_or_else(|| "already at the newest commit of the upstream branch".to_string())?;
    let next = Oid::from_str(next).map_err(|e| e.to_string())?;
    reset_to(&repo, head.id(), next)
}

/// `pmr pull`: fetches with the user's `git` (so their credentials and SSH
/// agent work), then fast-forwards the branch to its upstream, or to
/// `commit` when given.
pub fn pull(cwd: &Path, commit: Option<&str>) -> Result<Moved, String> {
    let repo = open(cwd)?;
    let workdir = repo
        .workdir()
        .ok_or("a bare repository has no checkout to update")?
        .to_path_buf();
    let head = head_commit(&repo)?;
    let out = Command::new("git")
        .args(["fetch", "--quiet"])
        .current_dir(&workdir)
        .output()
        .map_err(|e| format!("cannot run git fetch: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git fetch failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let repo = open(cwd)?;
    let target = match commit {
        Some(c) => repo
            .revparse_single(c)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| format!("unknown commit {c}: {e}"))?
            .id(),
        None => {
            let branch = repo
                .head()
                .ok()
                .filter(|h| h.is_branch())
                .and_then(|h| h.shorthand().map(String::from))
                .ok_or("HEAD is detached: give a commit to pull")?;
            let up = repo
                .find_branch(&branch, BranchType::Local)
                .and_then(|b| b.upstream())
                .map_err(|_| format!("branch {branch} has no upstream to pull from"))?;
            up.get().target().ok_or("the upstream has no commit")?
        }
    };
    if target == head.id() {
        return Err(format!("already up to date at {}", short(head.id())));
    }
    if commit.is_none() && !repo.graph_descendant_of(target, head.id()).unwrap_or(false) {
        return Err(
            "the branch has diverged from its upstream; pmr pull only fast-forwards".into(),
        );
    }
    reset_to(&repo, head.id(), target)
}

/// The repository holding `cwd`, or an error naming the directory.
fn open(cwd: &Path) -> Result<Repository, String> {
    Repository::discover(cwd).map_err(|_| format!("{} is not in a git repository", cwd.display()))
}

/// The commit checked out.
fn head_commit(repo: &Repository) -> Result<git2::Commit<'_>, String> {
    repo.head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| format!("no commit checked out: {e}"))
}

/// Moves the branch (and the files) to `to`; refuses when the checkout has
/// local changes, or an untracked file the target would overwrite, which a
/// hard reset would destroy.
fn reset_to(repo: &Repository, from: Oid, to: Oid) -> Result<Moved, String> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(|e| format!("cannot read the checkout's status: {e}"))?;
    let target_tree = repo
        .find_commit(to)
        .and_then(|c| c.tree())
        .map_err(|e| e.to_string())?;
    for s in statuses.iter() {
        let path = s.path().unwrap_or("");
        if s.status() == git2::Status::WT_NEW {
            if target_tree.get_path(Path::new(path)).is_ok() {
                return Err(format!(
                    "the untracked file {path} would be overwritten; move it away first"
                ));
            }
        } else {
            return Err(format!(
                "the checkout has uncommitted changes ({path}); commit or stash them first"
            ));
        }
    }
    let target = repo.find_object(to, None).map_err(|e| e.to_string())?;
    repo.reset(&target, git2::ResetType::Hard, None)
        .map_err(|e| format!("cannot move the checkout to {}: {e}", short(to)))?;
    Ok(Moved {
        repo_path: repo.workdir().unwrap_or(Path::new(".")).to_path_buf(),
        from: from.to_string(),
        to: to.to_string(),
    })
}

/// A revision as pm2 prints it: its first 8 hex digits.
fn short(oid: Oid) -> String {
    oid.to_string()[..8].to_string()
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_are_stripped_from_remote_urls() {
        assert_eq!(
            without_credentials("https://user:tok@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(
            without_credentials("https://github.com/a/b@v1"),
            "https://github.com/a/b@v1"
        );
        assert_eq!(
            without_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(without_credentials("/srv/git/b.git"), "/srv/git/b.git");
    }
}
