//! Who may do what: users with roles, their passwords. Roles are checked on
//! the server for every route; a user may be limited to some buckets.
//!
//! The checks of input (`valid_email`, `valid_bucket`,
//! `password::acceptable`) fail with the reason as a `String`: every caller
//! turns it into an invalid-input answer (HTTP 400, a CLI error) and none
//! branches on it, so a typed error would add nothing.

pub mod admin;
pub mod password;
pub mod session;

use serde::{Deserialize, Serialize};

/// A user's role; each includes what the ones below it may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees the fleet.
    Viewer,
    /// Also acts on apps: start, stop, restart, reload, scale, reset, trigger.
    Operator,
    /// Also manages bucket keys, API tokens and users.
    Admin,
    /// Everything, including other admins and owners.
    Owner,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Admin, Role::Owner];

    /// The role's name, as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: owner, admin, operator or viewer"))
    }
}

/// Checks an e-mail address's shape (the hub sends no mail: it is a login name).
pub fn valid_email(email: &str) -> Result<(), String> {
    let ok = email.chars().count() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an e-mail address",
            email.escape_debug()
        ))
    }
}

/// Checks a bucket name: users' bucket limits are lists of names, so a
/// name is one word.
pub fn valid_bucket(bucket: &str) -> Result<(), String> {
    let ok = !bucket.is_empty()
        && bucket.len() <= 64
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bucket `{}`: 1 to 64 letters, digits, `-`, `_` or `.`",
            bucket.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Operator);
        assert!(Role::Operator > Role::Viewer);
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().unwrap_err().contains("root"));
        assert!(valid_email("ops@example.com").is_ok());
        assert!(valid_email("ops example.com").is_err());
        assert!(valid_email("ops@localhost").is_err());
    }
}
