//! CLI sessions, like a password manager's CLI: `signin` prints a token;
//! later commands present it (BEDSIDE_SESSION) instead of the password.
//!
//! The session file beside the profile holds the database key sealed under
//! `K = HKDF(token ‖ keychain secret, salt = machine id)`. So the token alone
//! opens nothing; the file alone opens nothing; both together open nothing on
//! another computer (no keychain secret there, another machine id). The file
//! records when it was last used and is resealed on each use; once idle for
//! the lock period, or 12 h after sign-in, it is deleted and the token is
//! dead. `lock` deletes every session of the profile.

use std::path::PathBuf;

use bedside_vault::aead::{self, Sealed};
use bedside_vault::kdf::hkdf32;
use bedside_vault::{DbKey, KeychainSecret, SessionToken};
use data_encoding::{BASE64URL_NOPAD as B64, HEXLOWER};
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::profiles::{ProfileDir, Profiles, Unlocked};

const PREFIX: &str = "bds1";
/// Sessions never outlive the TOTP re-authentication period.
pub const MAX_LIFETIME_SECS: i64 = 12 * 3600;

#[derive(Serialize, Deserialize)]
struct SessionFile {
    profile: String,
    created: i64,
    last_used: i64,
    idle_secs: i64,
    nonce: String,
    sealed: String,
}

fn aad(id: &str, f: &SessionFile) -> Vec<u8> {
    format!(
        "bedside session v1|{id}|{}|{}|{}|{}",
        f.profile, f.created, f.last_used, f.idle_secs
    )
    .into_bytes()
}

fn key(token: &SessionToken, ks: &KeychainSecret, machine: &[u8]) -> [u8; 32] {
    let mut ikm = zeroize::Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(token.expose());
    ikm[32..].copy_from_slice(ks.expose());
    hkdf32(ikm.as_ref(), machine, &[b"bedside session v1"])
}

fn path(profile: &ProfileDir, id: &str) -> PathBuf {
    profile.sessions_dir().join(format!("{id}.json"))
}

fn seal_file(
    id: &str,
    mut f: SessionFile,
    k: &[u8; 32],
    db_key: &DbKey,
) -> Result<Vec<u8>, CoreError> {
    let sealed = aead::seal(k, &aad(id, &f), db_key.expose())?;
    f.nonce = B64.encode(&sealed.nonce);
    f.sealed = B64.encode(&sealed.ciphertext);
    serde_json::to_vec(&f).map_err(|_| CoreError::SessionInvalid)
}

/// Starts a session for a signed-in profile; returns the token text.
pub fn start(profiles: &Profiles, u: &mut Unlocked) -> Result<String, CoreError> {
    let id = HEXLOWER.encode(&bedside_vault::rng::bytes::<16>()?);
    let token = SessionToken::generate()?;
    let now = profiles.now();
    let f = SessionFile {
        profile: u.profile.meta.id.clone(),
        created: now,
        last_used: now,
        idle_secs: profiles.policy.idle_lock_secs(),
        nonce: String::new(),
        sealed: String::new(),
    };
    let k = key(&token, &u.keychain_secret, &profiles.machine_id);
    let bytes = seal_file(&id, f, &k, &u.db_key)?;
    let dir = u.profile.sessions_dir();
    std::fs::create_dir_all(&dir).map_err(|source| CoreError::Io {
        path: dir.clone(),
        source,
    })?;
    bedside_vault::wrap::write_atomic(&path(&u.profile, &id), &bytes)?;
    u.store()
        .audit("session.start", serde_json::json!({ "session": &id[..8] }))?;
    Ok(format!(
        "{PREFIX}.{}.{id}.{}",
        u.profile.meta.id,
        B64.encode(token.expose())
    ))
}

/// Opens the profile with a session token, refreshing its idle timer.
pub fn resume(profiles: &Profiles, token_text: &str) -> Result<Unlocked, CoreError> {
    let mut parts = token_text.trim().split('.');
    let (Some(PREFIX), Some(profile_id), Some(id), Some(tok), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(CoreError::SessionInvalid);
    };
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) || id.len() != 32 {
        return Err(CoreError::SessionInvalid);
    }
    let token_bytes: [u8; 32] = B64
        .decode(tok.as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(CoreError::SessionInvalid)?;
    let token = SessionToken::from_bytes(token_bytes);
    let profile = profiles
        .list()?
        .into_iter()
        .find(|p| p.meta.id == profile_id)
        .ok_or(CoreError::SessionInvalid)?;
    let file = path(&profile, id);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CoreError::SessionExpired);
        }
        Err(source) => return Err(CoreError::Io { path: file, source }),
    };
    let mut f: SessionFile =
        serde_json::from_slice(&bytes).map_err(|_| CoreError::SessionInvalid)?;
    let now = profiles.now();
    if now - f.last_used >= f.idle_secs || now - f.created >= MAX_LIFETIME_SECS || now < f.created {
        let _ = std::fs::remove_file(&file);
        return Err(CoreError::SessionExpired);
    }
    let ks = profiles.keychain.get_secret(&profile.keychain_item())?;
    let k = key(&token, &ks, &profiles.machine_id);
    let sealed = Sealed {
        nonce: B64
            .decode(f.nonce.as_bytes())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(CoreError::SessionInvalid)?,
        ciphertext: B64
            .decode(f.sealed.as_bytes())
            .map_err(|_| CoreError::SessionInvalid)?,
    };
    let plain = aead::open(&k, &aad(id, &f), &sealed).ok_or(CoreError::SessionInvalid)?;
    let db_key = DbKey::from_bytes(
        plain
            .as_slice()
            .try_into()
            .map_err(|_| CoreError::SessionInvalid)?,
    );
    f.last_used = now;
    let bytes = seal_file(id, f, &k, &db_key)?;
    bedside_vault::wrap::write_atomic(&file, &bytes)?;
    profiles.reopen(profile, db_key, ks)
}

/// Ends every session of a profile (lock, password change, recovery).
pub fn end_all(profile: &ProfileDir) -> Result<usize, CoreError> {
    let dir = profile.sessions_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => return Err(CoreError::Io { path: dir, source }),
    };
    let mut n = 0;
    for e in entries.flatten() {
        if std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}
