//! Receiver secrets at rest: a webhook's URL (Slack's and Discord's hold a
//! token) and its signing secret are sealed with AES-256-GCM under a key
//! kept in the data directory (`secrets.key`, 0600), so the database alone
//! reveals none of them.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The sealing key of one hub.
pub struct Sealer(LessSafeKey);

impl Sealer {
    /// Reads `dir/secrets.key`, creating it (32 random bytes, 0600) if missing.
    pub fn open(dir: &Path) -> anyhow::Result<Sealer> {
        let path = dir.join("secrets.key");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| anyhow::anyhow!("no randomness"))?;
                use std::os::unix::fs::OpenOptionsExt;
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                {
                    Ok(mut f) => {
                        f.write_all(&key)?;
                        f.sync_all()?;
                        key.to_vec()
                    }
                    // Another process (serve, or a command) made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot create {}", path.display()));
                    }
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| anyhow::anyhow!("{}: not a 32-byte key", path.display()))?;
        Ok(Sealer(LessSafeKey::new(key)))
    }

    /// Seals `plain`: hex of a random nonce and the ciphertext with its tag.
    pub fn seal(&self, plain: &[u8]) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| anyhow::anyhow!("cannot seal"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(pmr_shared::link::handshake::hex(&out))
    }

    /// Opens what [`Sealer::seal`] made; fails on any change or another key.
    pub fn open_sealed(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let raw = pmr_shared::link::handshake::unhex(sealed).context("sealed value: not hex")?;
        anyhow::ensure!(raw.len() > NONCE_LEN, "sealed value: too short");
        let (n, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| anyhow::anyhow!("nonce"))?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| anyhow::anyhow!("sealed value: wrong key or altered"))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let s = super::Sealer::open(a.path()).unwrap();
        let sealed = s
            .seal(b"https://hooks.slack.com/services/T/B/secret")
            .unwrap();
        assert!(!sealed.contains("slack"));
        let again = super::Sealer::open(a.path()).unwrap();
        assert_eq!(
            again.open_sealed(&sealed).unwrap(),
            b"https://hooks.slack.com/services/T/B/secret"
        );
        let other = super::Sealer::open(b.path()).unwrap();
        assert!(other.open_sealed(&sealed).is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.path().join("secrets.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
