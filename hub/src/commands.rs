//! The admin verbs of `pmr-hub` (keys, tokens, users): what they do and print.
//! They run in their own process, on the store directly; every change is
//! written to the audit log.

use pmr_shared::link::keys::SecretKey;

use crate::access::{Role, admin};
use crate::config::Config;
use crate::store::Store;

/// `keys create --bucket B`: a key pair, the secret shown once, and the
/// `pmr link` line that works as printed.
pub fn keys_create(store: &dyn Store, cfg: &Config, bucket: &str) -> anyhow::Result<()> {
    crate::access::valid_bucket(bucket).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let secret = SecretKey::generate();
    let public = secret.public().to_string();
    store.create_key(bucket, &public)?;
    admin::audit(store, "key:create", &format!("{bucket} {public}"))?;
    println!("bucket:     {bucket}");
    println!("public key: {public}");
    println!("secret key: {}", secret.to_text());
    println!();
    println!("The secret is shown once and not stored by the hub. On each server:");
    let t = crate::link_line::target(store, cfg);
    let (hub, pin) = (&t.url, t.pin());
    println!("  pmr link {} {public} --hub {hub}{pin}", secret.to_text());
    println!("or, to keep the secret off the command line (other local users can read it):");
    println!("  pmr link - {public} --hub {hub}{pin}    # then paste the secret");
    if !t.known {
        println!(
            "(a guess: this hub has not run yet; `serve` records its real address and, \
             when self-signed, its fingerprint for this line)"
        );
    }
    Ok(())
}

/// `keys list`: every key, public halves only.
pub fn keys_list(store: &dyn Store) -> anyhow::Result<()> {
    for k in store.list_keys()? {
        let state = if k.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        println!("{}\t{}\t{}\t{state}", k.id, k.bucket, k.public_key);
    }
    Ok(())
}

/// `keys revoke KEY`: live sessions of the key close within a second.
pub fn keys_revoke(store: &dyn Store, key: &str) -> anyhow::Result<()> {
    let row = store
        .revoke_key(key)
        .map_err(|e| anyhow::anyhow!("key {key}: {e}"))?;
    admin::audit(
        store,
        "key:revoke",
        &format!("{} {}", row.bucket, row.public_key),
    )?;
    println!("revoked key {} of bucket {}", row.public_key, row.bucket);
    Ok(())
}

/// `tokens create --name N [--user EMAIL [--role R]]`: shown once, stored hashed.
pub fn tokens_create(
    store: &dyn Store,
    name: &str,
    user: Option<&str>,
    role: Option<Role>,
) -> anyhow::Result<()> {
    let owner = match user {
        None => None,
        Some(email) => Some(admin::token_owner(store, email, role)?),
    };
    let mut raw = [0u8; 24];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let token = format!("pmrt_{}", pmr_shared::link::handshake::hex(&raw));
    let owner = owner.as_ref().map(|(id, r)| (*id, r.as_str()));
    store.create_token(name, &crate::api::token_hash(&token), owner)?;
    admin::audit(store, "token:create", name)?;
    println!("{token}");
    Ok(())
}

fn how(stdin: bool) -> admin::NewPassword {
    if stdin {
        admin::NewPassword::Stdin
    } else {
        admin::NewPassword::Generate
    }
}

fn shown(email: &str, pw: Option<String>) {
    if let Some(pw) = pw {
        println!("password for {email}: {pw}");
        println!("(shown once; the hub keeps only its argon2id hash)");
    }
}

/// `users add EMAIL --role R [--buckets a,b] [--password-stdin]`.
pub fn users_add(
    store: &dyn Store,
    email: &str,
    role: Role,
    buckets: Option<Vec<String>>,
    stdin: bool,
) -> anyhow::Result<()> {
    let pw = admin::add(store, email, role, buckets, how(stdin))?;
    admin::audit(store, "user:add", &format!("{email} {}", role.as_str()))?;
    println!("added {email} ({})", role.as_str());
    shown(email, pw);
    Ok(())
}

/// `users list`: e-mail, role, buckets.
pub fn users_list(store: &dyn Store) -> anyhow::Result<()> {
    for u in admin::list(store)? {
        let buckets = u.buckets.map_or("all buckets".into(), |b| b.join(","));
        println!("{}\t{}\t{buckets}", u.email, u.role);
    }
    Ok(())
}

/// `users remove EMAIL`.
pub fn users_remove(store: &dyn Store, email: &str) -> anyhow::Result<()> {
    admin::remove(store, email)?;
    admin::audit(store, "user:remove", email)?;
    println!("removed {email}");
    Ok(())
}

/// `users reset-password EMAIL [--password-stdin]`.
pub fn users_reset(store: &dyn Store, email: &str, stdin: bool) -> anyhow::Result<()> {
    let pw = admin::reset_password(store, email, how(stdin))?;
    admin::audit(store, "user:reset-password", email)?;
    println!("new password set for {email}; their sessions ended");
    shown(email, pw);
    Ok(())
}

/// `pmr-hub migrate --from sqlite://… --to postgres://…`: copies every
/// table and says how many rows each held.
pub fn migrate(from: &str, to: &str) -> anyhow::Result<()> {
    let shown = crate::config::mask_passwords(to);
    let Some(path) = from.strip_prefix("sqlite://") else {
        anyhow::bail!("--from {from}: not sqlite://PATH");
    };
    anyhow::ensure!(
        to.starts_with("postgres://") || to.starts_with("postgresql://"),
        "--to {shown}: not postgres://USER@HOST/DB"
    );
    let started = std::time::Instant::now();
    let copied = crate::store::copy::sqlite_to_postgres(std::path::Path::new(path), to)?;
    for (table, n) in &copied {
        println!("{table:<20} {n:>10} row(s)");
    }
    let total: u64 = copied.iter().map(|(_, n)| n).sum();
    println!(
        "copied {total} row(s) from {path} to {shown} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
