//! The bytes an agent signs to prove it holds the bucket's secret key.
//!
//! Layout (every field length-prefixed with a u32 big-endian byte count, in
//! this order): the domain label `pmr-link-auth-v1`, hub_id, the hub's
//! 32-byte nonce, proto (u32 BE), public_key (text form), machine_id,
//! machine_name, agent_version, ts (i64 BE, Unix ms). The label keeps the
//! signature from meaning anything in another protocol; the prefixes keep
//! fields from sliding into each other.

use ed25519_dalek::{Signature, Signer};

use super::keys::{PublicKey, SecretKey};

/// Domain label, the first signed field.
pub const DOMAIN: &[u8] = b"pmr-link-auth-v1";
/// Largest accepted clock difference between agent and hub.
pub const MAX_SKEW_MS: i64 = 60_000;
/// Upper bound on a nonce's age (the hub's 5 s hello deadline ends a handshake sooner).
pub const NONCE_TTL_MS: i64 = 30_000;

/// The fields of an `auth` message that the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFields<'a> {
    /// The hub's id from its `hello`.
    pub hub_id: &'a str,
    /// The hub's nonce from its `hello`.
    pub nonce: &'a [u8; 32],
    /// Link protocol version.
    pub proto: u32,
    /// The bucket public key, text form.
    pub public_key: &'a str,
    /// Stable id of the machine.
    pub machine_id: &'a str,
    /// Name shown in the hub.
    pub machine_name: &'a str,
    /// The agent's release version.
    pub agent_version: &'a str,
    /// The agent's clock, Unix ms.
    pub ts: i64,
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The exact bytes that are signed and verified.
pub fn signed_bytes(f: &AuthFields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    field(&mut out, DOMAIN);
    field(&mut out, f.hub_id.as_bytes());
    field(&mut out, f.nonce);
    field(&mut out, &f.proto.to_be_bytes());
    field(&mut out, f.public_key.as_bytes());
    field(&mut out, f.machine_id.as_bytes());
    field(&mut out, f.machine_name.as_bytes());
    field(&mut out, f.agent_version.as_bytes());
    field(&mut out, &f.ts.to_be_bytes());
    out
}

/// Signs the fields; the result goes hex-encoded into `auth.sig`.
pub fn sign(secret: &SecretKey, f: &AuthFields<'_>) -> [u8; 64] {
    secret.0.sign(&signed_bytes(f)).to_bytes()
}

/// Strict verification (no malleable or small-order signatures).
pub fn verify(public: &PublicKey, f: &AuthFields<'_>, sig: &[u8]) -> bool {
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    public.0.verify_strict(&signed_bytes(f), &sig).is_ok()
}

/// Lower-case hex, for nonces and signatures in JSON.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses lower- or upper-case hex; `None` on any other character or odd length.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn fields<'a>(public: &'a str, nonce: &'a [u8; 32]) -> AuthFields<'a> {
        AuthFields {
            hub_id: "hub-1",
            nonce,
            proto: 1,
            public_key: public,
            machine_id: "m-1",
            machine_name: "web-01",
            agent_version: "0.1.0",
            ts: 1_700_000_000_000,
        }
    }

    #[test]
    fn vector_is_stable() {
        let secret = SecretKey(SigningKey::from_bytes(&[7u8; 32]));
        let public = secret.public().to_string();
        let nonce = [9u8; 32];
        let f = fields(&public, &nonce);
        let expected = include_str!("../../tests/data/handshake_7.txt");
        let mut lines = expected.lines();
        assert_eq!(hex(&signed_bytes(&f)), lines.next().unwrap());
        assert_eq!(hex(&sign(&secret, &f)), lines.next().unwrap());
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let secret = SecretKey::generate();
        let public_text = secret.public().to_string();
        let nonce = [1u8; 32];
        let f = fields(&public_text, &nonce);
        let sig = sign(&secret, &f);
        assert!(verify(&secret.public(), &f, &sig));
        let other_nonce = [2u8; 32];
        for changed in [
            AuthFields {
                hub_id: "hub-2",
                ..f.clone()
            },
            AuthFields {
                nonce: &other_nonce,
                ..f.clone()
            },
            AuthFields {
                machine_name: "evil",
                ..f.clone()
            },
            AuthFields {
                ts: f.ts + 1,
                ..f.clone()
            },
            AuthFields {
                proto: 2,
                ..f.clone()
            },
        ] {
            assert!(!verify(&secret.public(), &changed, &sig), "{changed:?}");
        }
        assert!(!verify(&SecretKey::generate().public(), &f, &sig));
        assert!(!verify(&secret.public(), &f, &sig[..63]));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(unhex("00FF10").unwrap(), vec![0, 255, 16]);
        assert!(unhex("0g").is_none());
        assert!(unhex("abc").is_none());
    }
}
