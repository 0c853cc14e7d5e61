//! The writes of who may do what: bucket keys, API tokens, users, their
//! sessions, and the audit log (the single writer applies them with the
//! others, in its transactions).

use rusqlite::{Connection, OptionalExtension, params};

use super::super::{Write, Written};
use super::meta::{meta_i64, set_meta};

/// Applies one access write; `apply` in `write.rs` hands over only these.
pub(super) fn apply(c: &Connection, w: &Write) -> rusqlite::Result<Written> {
    Ok(match w {
        Write::CreateKey {
            bucket,
            public_key,
            now,
        } => {
            c.execute(
                "INSERT INTO buckets (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![bucket, now],
            )?;
            c.execute(
                "INSERT INTO keys (bucket_id, public_key, created_at)
                 SELECT id, ?2, ?3 FROM buckets WHERE name = ?1",
                params![bucket, public_key, now],
            )?;
            Written::Id(c.last_insert_rowid())
        }
        Write::RevokeKey { which, now } => Written::Rows(c.execute(
            "UPDATE keys SET revoked_at = ?1
             WHERE (public_key = ?2 OR CAST(id AS TEXT) = ?2) AND revoked_at IS NULL",
            params![now, which],
        )? as u64),
        Write::CreateToken {
            name,
            token_hash,
            owner,
            now,
        } => {
            let (user_id, role) = (owner.as_ref().map(|o| o.0), owner.as_ref().map(|o| &o.1));
            c.execute(
                "INSERT INTO api_tokens (name, token_hash, created_at, user_id, role) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, token_hash, now, user_id, role],
            )?;
            Written::Id(c.last_insert_rowid())
        }
        Write::DeleteToken { id } => {
            Written::Rows(c.execute("DELETE FROM api_tokens WHERE id = ?1", params![id])? as u64)
        }
        Write::CreateUser {
            email,
            password_hash,
            role,
            buckets,
            now,
        } => {
            c.execute(
                "INSERT INTO users (email, password_hash, role, buckets, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![email, password_hash, role, buckets.as_ref().map(|b| b.join(",")), now],
            )?;
            Written::Id(c.last_insert_rowid())
        }
        Write::CreateFirstOwner {
            token_hash,
            email,
            password_hash,
            now,
        } => first_owner(c, token_hash, email, password_hash, *now)?,
        Write::DeleteUser { email } => {
            // Sessions and tokens go with the user (ON DELETE CASCADE).
            let n = c.execute("DELETE FROM users WHERE email = ?1", params![email])?;
            Written::Rows(n as u64)
        }
        Write::SetPassword {
            email,
            password_hash,
        } => {
            let n = c.execute(
                "UPDATE users SET password_hash = ?2 WHERE email = ?1",
                params![email, password_hash],
            )?;
            c.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = ?1)",
                params![email],
            )?;
            Written::Rows(n as u64)
        }
        Write::CreateSession {
            id_hash,
            user_id,
            now,
            expires_at,
            address,
        } => {
            // Expired sessions go as new ones come.
            c.execute("DELETE FROM sessions WHERE expires_at < ?1", params![now])?;
            c.execute(
                "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, address) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id_hash, user_id, now, expires_at, address],
            )?;
            Written::Done
        }
        Write::DeleteSession { id_hash } => Written::Rows(
            c.execute("DELETE FROM sessions WHERE id_hash = ?1", params![id_hash])? as u64,
        ),
        Write::Audit(a) => {
            c.execute(
                "INSERT INTO audit (at, actor, address, action, target, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.at, a.actor, a.address, a.action, a.target, a.result],
            )?;
            Written::Done
        }
        other => unreachable!("not an access write: {other:?}"),
    })
}

fn first_owner(
    c: &Connection,
    token_hash: &str,
    email: &str,
    password_hash: &str,
    now: i64,
) -> rusqlite::Result<Written> {
    let users: i64 = c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
    if users > 0 {
        return Ok(Written::Refused("exists"));
    }
    let stored = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'setup_token_hash'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .unwrap_or_default();
    let same: bool = subtle::ConstantTimeEq::ct_eq(stored.as_bytes(), token_hash.as_bytes()).into();
    let fresh = meta_i64(c, "setup_token_expires")?.is_some_and(|e| e > now);
    if stored.is_empty() || !same || !fresh {
        return Ok(Written::Refused("token"));
    }
    c.execute(
        "INSERT INTO users (email, password_hash, role, buckets, created_at) VALUES (?1, ?2, 'owner', NULL, ?3)",
        params![email, password_hash, now],
    )?;
    let id = c.last_insert_rowid();
    set_meta(c, "setup_token_hash", "")?;
    Ok(Written::Id(id))
}
