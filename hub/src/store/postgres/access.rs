//! The writes of who may do what: bucket keys, API tokens, users, their
//! sessions, and the audit log (the single writer applies them with the
//! others, in its transactions).

use postgres::Transaction;

use super::super::{Write, Written};
use super::meta::{meta_i64, set_meta};

/// Applies one access write; `write::apply` hands over only these.
pub(super) fn apply(c: &mut Transaction<'_>, w: &Write) -> Result<Written, postgres::Error> {
    Ok(match w {
        Write::CreateKey {
            bucket,
            public_key,
            now,
        } => {
            c.execute(
                "INSERT INTO buckets (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[bucket, now],
            )?;
            Written::Id(
                c.query_one(
                    "INSERT INTO keys (bucket_id, public_key, created_at)
                     SELECT id, $2, $3 FROM buckets WHERE name = $1 RETURNING id",
                    &[bucket, public_key, now],
                )?
                .get(0),
            )
        }
        Write::RevokeKey { which, now } => Written::Rows(c.execute(
            "UPDATE keys SET revoked_at = $1
             WHERE (public_key = $2 OR CAST(id AS TEXT) = $2) AND revoked_at IS NULL",
            &[now, which],
        )?),
        Write::CreateToken {
            name,
            token_hash,
            owner,
            now,
        } => {
            let (user_id, role) = (owner.as_ref().map(|o| o.0), owner.as_ref().map(|o| &o.1));
            Written::Id(
                c.query_one(
                    "INSERT INTO api_tokens (name, token_hash, created_at, user_id, role)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[name, token_hash, now, &user_id, &role],
                )?
                .get(0),
            )
        }
        Write::DeleteToken { id } => {
            Written::Rows(c.execute("DELETE FROM api_tokens WHERE id = $1", &[id])?)
        }
        Write::CreateUser {
            email,
            password_hash,
            role,
            buckets,
            now,
        } => Written::Id(
            c.query_one(
                "INSERT INTO users (email, password_hash, role, buckets, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    email,
                    password_hash,
                    role,
                    &buckets.as_ref().map(|b| b.join(",")),
                    now,
                ],
            )?
            .get(0),
        ),
        Write::CreateFirstOwner {
            token_hash,
            email,
            password_hash,
            now,
        } => first_owner(c, token_hash, email, password_hash, *now)?,
        Write::DeleteUser { email } => {
            // Sessions and tokens go with the user (ON DELETE CASCADE).
            Written::Rows(c.execute("DELETE FROM users WHERE email = $1", &[email])?)
        }
        Write::SetPassword {
            email,
            password_hash,
        } => {
            let n = c.execute(
                "UPDATE users SET password_hash = $2 WHERE email = $1",
                &[email, password_hash],
            )?;
            c.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)",
                &[email],
            )?;
            Written::Rows(n)
        }
        Write::CreateSession {
            id_hash,
            user_id,
            now,
            expires_at,
            address,
        } => {
            // Expired sessions go as new ones come.
            c.execute("DELETE FROM sessions WHERE expires_at < $1", &[now])?;
            c.execute(
                "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, address) VALUES ($1, $2, $3, $4, $5)",
                &[id_hash, user_id, now, expires_at, address],
            )?;
            Written::Done
        }
        Write::DeleteSession { id_hash } => {
            Written::Rows(c.execute("DELETE FROM sessions WHERE id_hash = $1", &[id_hash])?)
        }
        Write::Audit(a) => {
            c.execute(
                "INSERT INTO audit (at, actor, address, action, target, result) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&a.at, &a.actor, &a.address, &a.action, &a.target, &a.result],
            )?;
            Written::Done
        }
        other => unreachable!("not an access write: {other:?}"),
    })
}

fn first_owner(
    c: &mut Transaction<'_>,
    token_hash: &str,
    email: &str,
    password_hash: &str,
    now: i64,
) -> Result<Written, postgres::Error> {
    // Two replicas making the first owner at once: the second waits here
    // and then sees the first one's user.
    c.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])?;
    let users: i64 = c.query_one("SELECT COUNT(*) FROM users", &[])?.get(0);
    if users > 0 {
        return Ok(Written::Refused("exists"));
    }
    let stored: String = c
        .query_opt("SELECT value FROM meta WHERE key = 'setup_token_hash'", &[])?
        .map(|r| r.get(0))
        .unwrap_or_default();
    let same: bool = subtle::ConstantTimeEq::ct_eq(stored.as_bytes(), token_hash.as_bytes()).into();
    let fresh = meta_i64(c, "setup_token_expires")?.is_some_and(|e| e > now);
    if stored.is_empty() || !same || !fresh {
        return Ok(Written::Refused("token"));
    }
    let id: i64 = c
        .query_one(
            "INSERT INTO users (email, password_hash, role, buckets, created_at)
             VALUES ($1, $2, 'owner', NULL, $3) RETURNING id",
            &[&email, &password_hash, &now],
        )?
        .get(0);
    set_meta(c, "setup_token_hash", "")?;
    Ok(Written::Id(id))
}
