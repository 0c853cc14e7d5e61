//! Text form of the bucket key pair, in the NATS nkeys manner.
//!
//! `prefix byte | 32 key bytes | CRC-16/XMODEM (little endian)`, base32
//! (RFC 4648 alphabet) without padding: 35 bytes, exactly 56 characters. The
//! prefix makes a public key start with `P` and a secret with `S`, so the two
//! cannot be swapped by accident, and the checksum rejects a typo before any
//! connection is tried.

use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Encoded length of every key.
pub const KEY_TEXT_LEN: usize = 56;
const PREFIX_PUBLIC: u8 = 15 << 3; // 'P'
const PREFIX_SECRET: u8 = 18 << 3; // 'S'

/// Why a key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 56 characters.
    #[error("a key is {KEY_TEXT_LEN} characters, this one has {0}")]
    Length(usize),
    /// A character outside A-Z and 2-7.
    #[error("character {0:?} cannot appear in a key (only A-Z and 2-7)")]
    Character(char),
    /// The checksum does not match: a typo.
    #[error("the key's checksum does not match: it was mistyped or truncated")]
    Checksum,
    /// A public key where a secret was expected, or the reverse.
    #[error("this is a {found} key, a {wanted} key was expected")]
    Kind {
        /// What the string holds.
        found: &'static str,
        /// What the caller asked for.
        wanted: &'static str,
    },
    /// The bytes are not a valid ed25519 public key.
    #[error("the public key is not a valid ed25519 point")]
    Point,
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return Err(KeyError::Character(c)),
        };
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

fn encode(prefix: u8, key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(35);
    raw.push(prefix);
    raw.extend_from_slice(key);
    let crc = crc16_xmodem(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    base32_encode(&raw)
}

fn kind_name(prefix: u8) -> &'static str {
    match prefix {
        PREFIX_PUBLIC => "public",
        PREFIX_SECRET => "secret",
        _ => "unknown",
    }
}

fn decode(text: &str, prefix: u8) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let len = text.chars().count();
    if len != KEY_TEXT_LEN {
        return Err(KeyError::Length(len));
    }
    let raw = base32_decode(text)?;
    let (body, crc) = raw.split_at(33);
    if crc16_xmodem(body).to_le_bytes() != crc {
        return Err(KeyError::Checksum);
    }
    if body[0] != prefix {
        return Err(KeyError::Kind {
            found: kind_name(body[0]),
            wanted: kind_name(prefix),
        });
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&body[1..]);
    Ok(key)
}

/// A bucket's public key: what the hub stores and agents present.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub VerifyingKey);

impl PublicKey {
    /// Parses the `P...` text form.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes = decode(text, PREFIX_PUBLIC)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| KeyError::Point)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(PREFIX_PUBLIC, self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A bucket's secret key: only ever on the agents' machines.
#[derive(Clone)]
pub struct SecretKey(pub SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        SecretKey(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Parses the `S...` text form.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        decode(text, PREFIX_SECRET).map(|b| SecretKey(SigningKey::from_bytes(&b)))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The `S...` text form; handle with care.
    pub fn to_text(&self) -> String {
        encode(PREFIX_SECRET, &self.0.to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret, even in debug output.
        write!(f, "SecretKey(public {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_xmodem_check_value() {
        // The standard check value of CRC-16/XMODEM over "123456789".
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
    }

    #[test]
    fn fixed_vector() {
        // Checked in so that a change of encoding cannot pass unnoticed.
        let secret = SecretKey(SigningKey::from_bytes(&[7u8; 32]));
        let text = secret.to_text();
        assert_eq!(
            text,
            include_str!("../../tests/data/secret_key_7.txt").trim()
        );
        let public = secret.public().to_string();
        assert_eq!(
            public,
            include_str!("../../tests/data/public_key_7.txt").trim()
        );
        assert!(text.starts_with('S') && public.starts_with('P'));
        assert_eq!(text.len(), KEY_TEXT_LEN);
    }

    #[test]
    fn round_trip_and_refusals() {
        let secret = SecretKey::generate();
        let public = secret.public();
        assert_eq!(PublicKey::parse(&public.to_string()).unwrap(), public);
        assert_eq!(
            SecretKey::parse(&secret.to_text()).unwrap().public(),
            public
        );
        // Swapped kinds.
        assert_eq!(
            PublicKey::parse(&secret.to_text()).unwrap_err(),
            KeyError::Kind {
                found: "secret",
                wanted: "public"
            }
        );
        // One character changed.
        let mut typo: Vec<char> = public.to_string().chars().collect();
        typo[20] = if typo[20] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(PublicKey::parse(&typo).unwrap_err(), KeyError::Checksum);
        assert_eq!(PublicKey::parse("PABC").unwrap_err(), KeyError::Length(4));
        let bad = format!("{}1", &public.to_string()[..55]);
        assert_eq!(
            PublicKey::parse(&bad).unwrap_err(),
            KeyError::Character('1')
        );
        assert!(!format!("{secret:?}").contains(&secret.to_text()));
    }
}
