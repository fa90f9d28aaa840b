//! The wrap file: the database key sealed under the KEK, beside the database.
//!
//! Format (JSON, versioned): KDF parameters, salt, nonce and ciphertext, and
//! optionally an escrow box. The header (format version, KDF parameters and
//! salt) is bound as AES-GCM associated data, so editing any of it makes the
//! file fail to open rather than silently weakening it.

use std::io::Write;
use std::path::{Path, PathBuf};

use data_encoding::BASE64URL_NOPAD as B64;
use serde::{Deserialize, Serialize};

use crate::aead::{self, Sealed};
use crate::escrow::{EscrowBox, EscrowPublicKey};
use crate::kdf::{self, KdfParams};
use crate::{DbKey, Kek, KeychainSecret, Password, VaultError, rng};

const FORMAT: &str = "bedside-wrap";
const VERSION: u32 = 1;
/// Wrap files are tiny; anything larger is not ours.
const MAX_LEN: u64 = 16 * 1024;

/// A parsed wrap file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapFile {
    /// KDF parameters used for this wrap.
    pub kdf: KdfParams,
    salt: [u8; 16],
    sealed: Sealed,
    escrow: Option<EscrowBox>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    format: String,
    version: u32,
    kdf: KdfParams,
    salt: String,
    nonce: String,
    ciphertext: String,
    #[serde(default)]
    escrow: Option<String>,
}

impl WrapFile {
    /// Seals `db_key` under KEK(password, fresh salt, keychain secret), and
    /// also to the escrow public key when one is configured.
    pub fn seal(
        db_key: &DbKey,
        password: &Password,
        keychain: &KeychainSecret,
        params: KdfParams,
        escrow: Option<&EscrowPublicKey>,
    ) -> Result<Self, VaultError> {
        let salt = rng::bytes::<16>()?;
        let kek = kdf::derive_kek(password, &salt, &params, keychain)?;
        Self::seal_with_kek(db_key, &kek, salt, params, escrow)
    }

    fn seal_with_kek(
        db_key: &DbKey,
        kek: &Kek,
        salt: [u8; 16],
        kdf: KdfParams,
        escrow: Option<&EscrowPublicKey>,
    ) -> Result<Self, VaultError> {
        let sealed = aead::seal(kek.expose(), &header(&kdf, &salt), db_key.expose())?;
        let escrow = escrow.map(|pk| EscrowBox::seal(pk, db_key)).transpose()?;
        Ok(Self {
            kdf,
            salt,
            sealed,
            escrow,
        })
    }

    /// Derives the KEK from the password and keychain secret and opens the
    /// wrap. A wrong password or a wrong keychain secret both give
    /// [`VaultError::PasswordIncorrect`].
    pub fn open(
        &self,
        password: &Password,
        keychain: &KeychainSecret,
    ) -> Result<DbKey, VaultError> {
        let kek = kdf::derive_kek(password, &self.salt, &self.kdf, keychain)?;
        let plain = aead::open(kek.expose(), &header(&self.kdf, &self.salt), &self.sealed)
            .ok_or(VaultError::PasswordIncorrect)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::PasswordIncorrect)?;
        Ok(DbKey::from_bytes(bytes))
    }

    /// Re-seals the same database key under a new password (a password
    /// change never re-encrypts the database), keeping the escrow box.
    pub fn rewrap(
        &self,
        db_key: &DbKey,
        password: &Password,
        keychain: &KeychainSecret,
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        let mut w = Self::seal(db_key, password, keychain, params, None)?;
        w.escrow = self.escrow.clone();
        Ok(w)
    }

    /// Seals the database key to an escrow public key (replacing any earlier box).
    pub fn set_escrow(&mut self, db_key: &DbKey, key: &EscrowPublicKey) -> Result<(), VaultError> {
        self.escrow = Some(EscrowBox::seal(key, db_key)?);
        Ok(())
    }

    /// The escrow box, when the profile was escrowed.
    pub fn escrow(&self) -> Option<&EscrowBox> {
        self.escrow.as_ref()
    }

    /// Reads and parses a wrap file. Missing, truncated and foreign files
    /// give [`VaultError::WrapCorrupt`] naming the file.
    pub fn read(path: &Path) -> Result<Self, VaultError> {
        let corrupt = |reason: &str| VaultError::WrapCorrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => corrupt("missing"),
            _ => VaultError::Io {
                path: path.to_owned(),
                source: e,
            },
        })?;
        if meta.len() > MAX_LEN {
            return Err(corrupt("too large"));
        }
        let text = std::fs::read(path).map_err(|e| VaultError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        Self::parse(&text).map_err(corrupt)
    }

    fn parse(text: &[u8]) -> Result<Self, &'static str> {
        let d: OnDisk = serde_json::from_slice(text).map_err(|_| "not valid JSON or truncated")?;
        if d.format != FORMAT {
            return Err("not a Bedside key file");
        }
        if d.version != VERSION {
            return Err("unsupported version");
        }
        d.kdf.validate().map_err(|_| "invalid KDF parameters")?;
        let salt = decode_fixed::<16>(&d.salt).ok_or("bad salt")?;
        let nonce = decode_fixed::<12>(&d.nonce).ok_or("bad nonce")?;
        let ciphertext = B64
            .decode(d.ciphertext.as_bytes())
            .map_err(|_| "bad ciphertext")?;
        if ciphertext.len() != 32 + 16 {
            return Err("bad ciphertext length");
        }
        let escrow = d
            .escrow
            .as_deref()
            .map(EscrowBox::decode)
            .transpose()
            .map_err(|_| "bad escrow box")?;
        Ok(Self {
            kdf: d.kdf,
            salt,
            sealed: Sealed { nonce, ciphertext },
            escrow,
        })
    }

    /// Serialises to the on-disk JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = OnDisk {
            format: FORMAT.into(),
            version: VERSION,
            kdf: self.kdf,
            salt: B64.encode(&self.salt),
            nonce: B64.encode(&self.sealed.nonce),
            ciphertext: B64.encode(&self.sealed.ciphertext),
            escrow: self.escrow.as_ref().map(EscrowBox::encode),
        };
        // A struct of strings and integers always serialises.
        #[allow(clippy::expect_used)]
        let mut v = serde_json::to_vec_pretty(&d).expect("serialisable");
        v.push(b'\n');
        v
    }

    /// Writes the file atomically: temp file, fsync, rename, fsync the directory.
    /// A crash leaves either the old or the new wrap, never a torn one.
    pub fn write_atomic(&self, path: &Path) -> Result<(), VaultError> {
        write_atomic(path, &self.to_bytes())
    }
}

/// Writes `bytes` to `path` atomically (temp + fsync + rename + dir fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let io = |p: &Path| {
        let p: PathBuf = p.to_owned();
        move |e| VaultError::Io { path: p, source: e }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn header(kdf: &KdfParams, salt: &[u8; 16]) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(FORMAT.as_bytes());
    h.extend_from_slice(&VERSION.to_be_bytes());
    h.extend_from_slice(&kdf.m_cost_kib.to_be_bytes());
    h.extend_from_slice(&kdf.t_cost.to_be_bytes());
    h.extend_from_slice(&kdf.p_cost.to_be_bytes());
    h.extend_from_slice(salt);
    h
}

fn decode_fixed<const N: usize>(s: &str) -> Option<[u8; N]> {
    B64.decode(s.as_bytes()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (DbKey, Password, KeychainSecret, WrapFile) {
        let k = DbKey::generate().expect("rng");
        let p = Password::new("a long enough password");
        let ks = KeychainSecret::generate().expect("rng");
        let w = WrapFile::seal(&k, &p, &ks, KdfParams::DANGER_TEST_ONLY, None).expect("seal");
        (k, p, ks, w)
    }

    #[test]
    fn round_trip_through_disk() {
        let (k, p, ks, w) = sample();
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("profile.wrap");
        w.write_atomic(&path).expect("write");
        let back = WrapFile::read(&path).expect("read");
        assert_eq!(back, w);
        assert_eq!(back.open(&p, &ks).expect("open"), k);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&B64.encode(k.expose())), "db key in clear");
    }

    #[test]
    fn wrong_password_or_keychain_secret() {
        let (_, p, ks, w) = sample();
        assert!(matches!(
            w.open(&Password::new("a long enough passworD"), &ks),
            Err(VaultError::PasswordIncorrect)
        ));
        let other = KeychainSecret::generate().expect("rng");
        assert!(matches!(
            w.open(&p, &other),
            Err(VaultError::PasswordIncorrect)
        ));
    }

    #[test]
    fn truncated_or_foreign_files_name_the_file() {
        let (_, _, _, w) = sample();
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x.wrap");
        let bytes = w.to_bytes();
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 3] {
            std::fs::write(&path, &bytes[..cut]).expect("write");
            match WrapFile::read(&path) {
                Err(e @ VaultError::WrapCorrupt { .. }) => {
                    assert!(e.to_string().contains("x.wrap"), "{e}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        std::fs::remove_file(&path).expect("rm");
        assert!(matches!(
            WrapFile::read(&path),
            Err(VaultError::WrapCorrupt { .. })
        ));
    }

    #[test]
    fn header_tampering_is_detected() {
        let (_, p, ks, w) = sample();
        let mut t = w.clone();
        t.kdf.t_cost += 1;
        assert!(matches!(
            t.open(&p, &ks),
            Err(VaultError::PasswordIncorrect)
        ));
        let mut t = w;
        t.salt[0] ^= 1;
        assert!(matches!(
            t.open(&p, &ks),
            Err(VaultError::PasswordIncorrect)
        ));
    }
}
