//! `pmr-hub alerts ...`: rules and receivers from the command line, on the
//! store directly (another process than `serve`, as `keys` and `users`
//! are). A running hub notices within a second: each change bumps
//! `alerts_version`, which housekeeping watches.

mod receivers;
mod rules;

use clap::{Args, Subcommand};

use crate::clock::now_ms;
use crate::config::Config;
use crate::store::{Store, Write, write_one};

/// The meta key a change of rules or receivers bumps.
pub const VERSION_KEY: &str = "alerts_version";

/// `pmr-hub alerts ...`.
#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// Every rule: id, name, kind, muted.
    Rules,
    /// Adds a rule from a JSON file (`-`: standard input); see docs/alerts.md.
    AddRule {
        /// The file.
        file: String,
    },
    /// Removes a rule by name.
    RemoveRule {
        /// Its name.
        name: String,
    },
    /// Mutes a rule for some minutes (0 unmutes).
    Mute {
        /// Its name.
        name: String,
        /// Minutes from now.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
    /// Every receiver: id, name, kind, host.
    Receivers,
    /// Adds a receiver; a webhook's signing secret is printed once.
    AddReceiver(ReceiverArgs),
    /// Removes a receiver by name.
    RemoveReceiver {
        /// Its name.
        name: String,
    },
    /// Sends a test notification to a receiver now; prints every attempt.
    Test {
        /// The receiver's name.
        name: String,
    },
}

/// `alerts add-receiver`'s settings.
#[derive(Debug, Args)]
pub struct ReceiverArgs {
    /// Its name.
    #[arg(long)]
    name: String,
    /// `webhook`, `slack` or `discord`.
    #[arg(long, default_value = "webhook")]
    kind: String,
    /// Where to POST.
    #[arg(long)]
    url: String,
    /// Seconds a new group waits.
    #[arg(long, default_value_t = 30)]
    group_wait: u64,
    /// Seconds between a group's notifications.
    #[arg(long, default_value_t = 300)]
    group_interval: u64,
    /// Seconds before an unchanged firing group is sent again.
    #[arg(long, default_value_t = 14400)]
    repeat_interval: u64,
}

/// Tells a running hub that rules or receivers changed.
fn bump(store: &dyn Store) -> anyhow::Result<()> {
    let w = Write::SetMeta {
        key: VERSION_KEY.into(),
        value: now_ms().to_string(),
    };
    write_one(store, w)?;
    Ok(())
}

/// Runs one `alerts` verb; prints what it did.
pub fn run(cmd: AlertsCmd, store: &dyn Store, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        AlertsCmd::Rules => rules::list(store),
        AlertsCmd::AddRule { file } => rules::add(store, &file),
        AlertsCmd::RemoveRule { name } => rules::remove(store, &name),
        AlertsCmd::Mute { name, minutes } => rules::mute(store, &name, minutes),
        AlertsCmd::Receivers => receivers::list(store),
        AlertsCmd::AddReceiver(args) => receivers::add(store, cfg, args),
        AlertsCmd::RemoveReceiver { name } => receivers::remove(store, cfg, &name),
        AlertsCmd::Test { name } => receivers::test(store, cfg, &name),
    }
}
