//! `pmr-hub users ...`: the admin verbs behind the command line, over the
//! store (another process than `serve`, as `keys` and `tokens` are).

use std::io::BufRead;

use super::{Role, password, valid_email};
use crate::clock::now_ms;
use crate::store::{Store, StoreError, UserRow, Write, Written, write_one};

/// Where a new password comes from.
pub enum NewPassword {
    /// Generate one and show it once.
    Generate,
    /// The first line of standard input.
    Stdin,
}

fn read_password(how: NewPassword) -> anyhow::Result<(String, bool)> {
    match how {
        NewPassword::Generate => Ok((password::generate(), true)),
        NewPassword::Stdin => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let pw = line.trim_end_matches(['\n', '\r']).to_string();
            password::acceptable(&pw).map_err(|e| anyhow::anyhow!("standard input: {e}"))?;
            Ok((pw, false))
        }
    }
}

fn check_buckets(store: &dyn Store, buckets: &Option<Vec<String>>) -> anyhow::Result<()> {
    let Some(wanted) = buckets else {
        return Ok(());
    };
    let known: Vec<String> = store.list_keys()?.into_iter().map(|k| k.bucket).collect();
    if let Some(b) = wanted.iter().find(|b| !known.contains(b)) {
        anyhow::bail!(
            "--buckets: no bucket `{b}` (create one with `pmr-hub keys create --bucket {b}`)"
        );
    }
    Ok(())
}

/// Adds a user; returns the password to show, if it was generated.
pub fn add(
    store: &dyn Store,
    email: &str,
    role: Role,
    buckets: Option<Vec<String>>,
    how: NewPassword,
) -> anyhow::Result<Option<String>> {
    valid_email(email).map_err(anyhow::Error::msg)?;
    check_buckets(store, &buckets)?;
    let (pw, generated) = read_password(how)?;
    let w = Write::CreateUser {
        email: email.into(),
        password_hash: password::hash(&pw)?,
        role: role.as_str().into(),
        buckets,
        now: now_ms(),
    };
    match write_one(store, w) {
        Ok(_) => Ok(generated.then_some(pw)),
        Err(StoreError::Conflict(_)) => anyhow::bail!("a user {email} exists already"),
        Err(e) => Err(e.into()),
    }
}

/// The user a new token acts for, and its role: the one asked for, never
/// above the user's.
pub fn token_owner(
    store: &dyn Store,
    email: &str,
    role: Option<Role>,
) -> anyhow::Result<(i64, Role)> {
    let Some((user, _)) = store.user_login(email)? else {
        anyhow::bail!("--user: no user {email}");
    };
    let theirs: Role = user.role.parse().map_err(anyhow::Error::msg)?;
    let role = role.unwrap_or(theirs);
    if role > theirs {
        anyhow::bail!(
            "--role {}: higher than {email}'s role ({})",
            role.as_str(),
            theirs.as_str()
        );
    }
    Ok((user.id, role))
}

/// The system account running this command, by its uid (`$USER` is
/// unset under systemd, cron, `docker exec` and `su -c`), with the account
/// that went through sudo when there is one.
fn system_user() -> String {
    let uid = nix::unistd::Uid::current();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {uid}"), |u| u.name);
    match std::env::var("SUDO_USER") {
        Ok(by) if !by.is_empty() && by != name => format!("{by} (as {name}, via sudo)"),
        _ => name,
    }
}

/// Writes an admin change made on the command line to the audit log
/// (the actor is the local account that ran it).
pub fn audit(store: &dyn Store, action: &str, target: &str) -> anyhow::Result<()> {
    let who = system_user();
    let row = crate::store::AuditRow {
        at: now_ms(),
        actor: format!("cli:{who}"),
        address: "local".into(),
        action: action.into(),
        target: target.into(),
        result: "ok".into(),
    };
    write_one(store, Write::Audit(row))?;
    Ok(())
}

/// Every user.
pub fn list(store: &dyn Store) -> anyhow::Result<Vec<UserRow>> {
    Ok(store.users()?)
}

/// Removes a user (their sessions and tokens go too).
pub fn remove(store: &dyn Store, email: &str) -> anyhow::Result<()> {
    match write_one(
        store,
        Write::DeleteUser {
            email: email.into(),
        },
    )? {
        Written::Rows(0) => anyhow::bail!("no user {email}"),
        _ => Ok(()),
    }
}

/// Sets a new password and ends the user's sessions; returns it if generated.
pub fn reset_password(
    store: &dyn Store,
    email: &str,
    how: NewPassword,
) -> anyhow::Result<Option<String>> {
    if store.user_login(email)?.is_none() {
        anyhow::bail!("no user {email}");
    }
    let (pw, generated) = read_password(how)?;
    let w = Write::SetPassword {
        email: email.into(),
        password_hash: password::hash(&pw)?,
    };
    write_one(store, w)?;
    Ok(generated.then_some(pw))
}
