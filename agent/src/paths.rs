//! Every on-disk location of one daemon, derived from `$PMR_HOME`.
//!
//! Tests and several daemons isolate by changing that one root.

use std::path::{Path, PathBuf};

/// The files of one `$PMR_HOME`, with pm2's names where habits rely on them.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The root, `~/.pmr` unless `PMR_HOME` says otherwise.
    pub home: PathBuf,
}

impl Paths {
    /// Resolves `$PMR_HOME`, falling back to `~/.pmr`.
    pub fn from_env() -> anyhow::Result<Self> {
        if let Some(home) = std::env::var_os("PMR_HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            let home = if home.is_absolute() {
                home
            } else {
                std::env::current_dir()?.join(home)
            };
            return Ok(Self { home });
        }
        let user_home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow::anyhow!("neither PMR_HOME nor HOME is set"))?;
        Ok(Self {
            home: Path::new(&user_home).join(".pmr"),
        })
    }

    /// The daemon's control socket.
    pub fn socket(&self) -> PathBuf {
        self.home.join("rpc.sock")
    }

    /// Holds the daemon's pid and its exclusive lock: `pm2.pid`, where pm2
    /// users look for it, or `PMR_PID_FILE_PATH` (pm2's `PM2_PID_FILE_PATH`).
    pub fn pid_file(&self) -> PathBuf {
        match std::env::var_os("PMR_PID_FILE_PATH") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => self.home.join("pm2.pid"),
        }
    }

    /// The daemon's own log (pm2's `pm2.log`).
    pub fn daemon_log(&self) -> PathBuf {
        self.home.join("pmr.log")
    }

    /// Directory of the apps' log files.
    pub fn logs_dir(&self) -> PathBuf {
        self.home.join("logs")
    }

    /// Directory of the apps' pid files.
    pub fn pids_dir(&self) -> PathBuf {
        self.home.join("pids")
    }

    /// The saved process list, in pm2's dump format.
    pub fn dump(&self) -> PathBuf {
        self.home.join("dump.pm2")
    }

    /// The previous dump, kept when a new one is written.
    pub fn dump_backup(&self) -> PathBuf {
        self.home.join("dump.pm2.bak")
    }

    /// The process list as it is now, rewritten after every change.
    pub fn list_file(&self) -> PathBuf {
        self.home.join("list.json")
    }
}

/// pm2 replaces every character outside `[A-Za-z0-9.-]` of a name in file
/// names with `-`; so do we, so that paths match habits and scripts.
pub fn file_safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_file_safe_like_pm2() {
        assert_eq!(file_safe_name("my app/v1_x"), "my-app-v1-x");
        assert_eq!(file_safe_name("api.v2-b"), "api.v2-b");
    }
}
