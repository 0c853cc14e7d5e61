//! Passwords: argon2id with a random salt per password (PHC string form),
//! generated ones long enough to need no policy, and a verification whose
//! time does not depend on where a wrong password differs.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand_core::OsRng;

/// Shortest password a user may choose.
pub const MIN_LEN: usize = 12;

/// The PHC string of `password` (argon2id, default cost, random salt).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the stored `phc` string.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random password: 20 characters from an alphabet without look-alikes
/// (about 116 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Bytes at or above the last whole multiple of the alphabet are drawn
    // again, so every character is equally likely.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut raw = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut raw);
        for b in raw.into_iter().filter(|b| *b < limit) {
            if out.len() < 20 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// Refuses a password a user chose that is too short.
pub fn acceptable(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!("a password needs at least {MIN_LEN} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = super::hash("correct horse battery").unwrap();
        let b = super::hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a salt per password");
        assert!(super::verify(&a, "correct horse battery"));
        assert!(!super::verify(&a, "correct horse batterY"));
        assert!(!super::verify("not a hash", "x"));
        let g = super::generate();
        assert_eq!(g.len(), 20);
        assert!(super::acceptable(&g).is_ok() && super::acceptable("short").is_err());
    }
}
