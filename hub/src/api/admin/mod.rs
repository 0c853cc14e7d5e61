//! What admins manage over the API, as the command line does: bucket keys
//! ([`keys`]), API tokens ([`tokens`]) and users ([`users`]). Every change
//! goes through the single writer and into the audit log.

pub(super) mod keys;
pub(super) mod tokens;
pub(super) mod users;

use axum::http::StatusCode;

use super::{ApiError, Caller};
use crate::access::Role;
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{AuditRow, Write};

/// Refuses a caller below admin, or one limited to some buckets when the
/// thing managed spans every bucket (users, tokens).
pub(super) fn require_fleet_admin(caller: &Caller, what: &str) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    if caller.buckets.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{what} span every bucket: this needs an admin without bucket limits"),
        ));
    }
    Ok(())
}

/// Writes one admin change to the audit log; a failure is logged, not
/// returned (the change itself is done).
pub(super) async fn record(
    hub: &Hub,
    caller: &Caller,
    from: std::net::IpAddr,
    action: &str,
    target: &str,
) {
    let row = AuditRow {
        at: now_ms(),
        actor: caller.name.clone(),
        address: from.to_string(),
        action: action.into(),
        target: target.into(),
        result: "ok".into(),
    };
    if let Err(e) = hub.admin.write(Write::Audit(row)).await {
        tracing::warn!("cannot write the audit log: {e}");
    }
}
