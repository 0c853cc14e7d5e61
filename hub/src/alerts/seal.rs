//! Receiver secrets at rest: a webhook's URL (Slack's and Discord's hold a
//! token) and its signing secret are sealed with AES-256-GCM under a key
//! kept apart from the database, so the database alone reveals none of
//! them. The key is, in this order: the `PMR_HUB_SECRETS_KEY` variable (64
//! hex digits), the file `secrets_key_file` names (32 bytes, or 64 hex
//! digits), or `secrets.key` in the data directory (0600, made at first
//! use). Replicas of one database are all given the same key by one of
//! the first two, so a secret sealed through one opens on every other.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The sealing key of one hub.
pub struct Sealer(LessSafeKey);

/// The variable that carries the key itself (never a flag: it would show
/// in the process list).
pub const KEY_VAR: &str = "PMR_HUB_SECRETS_KEY";

impl Sealer {
    /// The key the settings name (see the module's order of sources).
    pub fn load(cfg: &crate::config::Config) -> anyhow::Result<Sealer> {
        if let Some(text) = std::env::var_os(KEY_VAR) {
            let text = text.to_string_lossy();
            let bytes = from_hex(text.trim()).with_context(|| format!("{KEY_VAR}: {HOW}"))?;
            return Self::with_key(&bytes, KEY_VAR);
        }
        match &cfg.secrets_key_file {
            Some(path) => {
                let raw = std::fs::read(path)
                    .with_context(|| format!("secrets_key_file: cannot read {}", path.display()))?;
                let text = String::from_utf8_lossy(&raw);
                let bytes = match from_hex(text.trim()) {
                    Some(b) => b,
                    None if raw.len() == 32 => raw,
                    None => anyhow::bail!("secrets_key_file {}: {HOW}", path.display()),
                };
                Self::with_key(&bytes, &path.display().to_string())
            }
            None => Self::open(&cfg.data_dir),
        }
    }

    fn with_key(bytes: &[u8], source: &str) -> anyhow::Result<Sealer> {
        let key =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow::anyhow!("{source}: {HOW}"))?;
        Ok(Sealer(LessSafeKey::new(key)))
    }

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
        Self::with_key(&bytes, &path.display().to_string())
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

/// What a key given by the operator must be.
/// The `meta` row a replica's key is checked against.
const CHECK_KEY: &str = "sealing_key_check";

/// Refuses a key that cannot open what the database holds sealed (a
/// check value, else a receiver), so that a replica started without the
/// others' key says so at once instead of failing every delivery; leaves
/// the check value for the next replica.
pub fn check_shared(sealer: &Sealer, store: &dyn crate::store::Store) -> anyhow::Result<()> {
    let sealed = match store.meta(CHECK_KEY)? {
        Some(v) if !v.is_empty() => Some(v),
        _ => store.receivers()?.into_iter().next().map(|r| r.sealed),
    };
    if let Some(v) = sealed {
        anyhow::ensure!(
            sealer.open_sealed(&v).is_ok(),
            "this replica's sealing key is not the one the database's secrets are sealed with: \
             give every replica the same key ({KEY_VAR} or secrets_key_file; see docs/replicas.md)"
        );
    }
    if store.meta(CHECK_KEY)?.is_none() {
        let w = crate::store::Write::SetMeta {
            key: CHECK_KEY.into(),
            value: sealer.seal(b"pmr-hub")?,
        };
        crate::store::write_one(store, w)?;
    }
    Ok(())
}

const HOW: &str = "not a key: give 32 bytes as 64 hex digits (`openssl rand -hex 32`)";

/// 32 bytes from exactly 64 hex digits.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    (text.len() == 64)
        .then(|| pmr_shared::link::handshake::unhex(text))
        .flatten()
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

    #[test]
    fn a_key_file_given_to_every_replica_opens_what_any_of_them_sealed() {
        let key = "11".repeat(32);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let hex_file = a.path().join("shared.key");
        std::fs::write(&hex_file, format!("{key}\n")).unwrap();
        let raw_file = b.path().join("shared.raw");
        std::fs::write(&raw_file, [0x11u8; 32]).unwrap();
        let cfg = |dir: &std::path::Path, file: &std::path::Path| crate::config::Config {
            data_dir: dir.into(),
            secrets_key_file: Some(file.into()),
            ..Default::default()
        };
        let on_a = super::Sealer::load(&cfg(a.path(), &hex_file)).unwrap();
        let sealed = on_a.seal(b"signing secret").unwrap();
        let on_b = super::Sealer::load(&cfg(b.path(), &raw_file)).unwrap();
        assert_eq!(on_b.open_sealed(&sealed).unwrap(), b"signing secret");
        // A given key is never written beside the database.
        assert!(!a.path().join("secrets.key").exists());
        assert!(!b.path().join("secrets.key").exists());
        // A wrong one names its file and what it must be, not its bytes.
        std::fs::write(&hex_file, "abc\n").unwrap();
        let err = super::Sealer::load(&cfg(a.path(), &hex_file))
            .err()
            .unwrap();
        let err = format!("{err:#}");
        assert!(
            err.contains("shared.key") && err.contains("64 hex digits"),
            "{err}"
        );
    }
}
