//! Profiles on this computer: creating one, signing in (password + TOTP with
//! lockout), password change, escrow recovery. Each profile has its own
//! directory, database, wrap file and keychain item, isolated from the others.
//!
//! Layout: `<data dir>/profiles/<random id>/{profile.json, bedside.db,
//! bedside.wrap, auth-state.json, sessions/}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bedside_store::Store;
use bedside_vault::{
    DbKey, EscrowPrivateKey, EscrowPublicKey, KdfParams, KeychainSecret, Password, SecretStore,
    Totp, TotpSecret, WrapFile,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::Clock;
use crate::lockout::Lockout;
use crate::{CoreError, Policy};

/// Public facts about a profile, readable without unlocking (the clinician's
/// own names are not PHI).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileMeta {
    /// Random directory id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Whether TOTP has been confirmed.
    #[serde(default)]
    pub totp_enabled: bool,
    /// The clinic signing key's public half (base64url), once created: public,
    /// so a relay on this computer can trust it before anyone signs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinic_public_key: Option<String>,
}

/// What the UI lists on the sign-in screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct ProfileSummary {
    /// Sign-in name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Whether TOTP has been confirmed.
    pub totp_enabled: bool,
}

/// A new profile.
#[derive(Debug)]
pub struct NewProfile {
    /// Sign-in name: 1–64 of `a-z 0-9 . _ -`.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// The password.
    pub password: Password,
}

/// What an authenticator app needs.
#[derive(Clone, Serialize)]
pub struct TotpEnrolment {
    /// `otpauth://totp/...`
    pub otpauth_uri: String,
    /// The secret in base32, for manual entry.
    pub secret_base32: String,
    /// The URI as a QR code PNG.
    pub qr_png: Vec<u8>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

/// How the KEK's Argon2id parameters are chosen for new wraps.
#[derive(Clone, Copy, Debug)]
pub enum KdfChoice {
    /// Measure this machine (≈0.4 s per derivation).
    Tuned,
    /// Fixed parameters (tests).
    Fixed(KdfParams),
}

/// The profiles under one data directory.
#[derive(Clone)]
pub struct Profiles {
    root: PathBuf,
    pub(crate) keychain: Arc<dyn SecretStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Policy,
    kdf: KdfChoice,
    pub(crate) machine_id: Vec<u8>,
}

/// A profile directory.
#[derive(Clone, Debug)]
pub struct ProfileDir {
    /// Its metadata.
    pub meta: ProfileMeta,
    /// Its directory.
    pub dir: PathBuf,
}

impl ProfileDir {
    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.dir.join("bedside.db")
    }
    /// The wrap file.
    pub fn wrap(&self) -> PathBuf {
        self.dir.join("bedside.wrap")
    }
    fn meta_path(&self) -> PathBuf {
        self.dir.join("profile.json")
    }
    fn lockout_path(&self) -> PathBuf {
        self.dir.join("auth-state.json")
    }
    pub(crate) fn sessions_dir(&self) -> PathBuf {
        self.dir.join("sessions")
    }
    /// The keychain item holding this profile's keychain secret.
    pub fn keychain_item(&self) -> String {
        format!("profile/{}/kek-secret", self.meta.id)
    }
    pub(crate) fn save_meta(&self) -> Result<(), CoreError> {
        let bytes = serde_json::to_vec_pretty(&self.meta).map_err(|_| CoreError::Invalid {
            field: "profile",
            problem: "serialise".into(),
        })?;
        Ok(bedside_vault::wrap::write_atomic(
            &self.meta_path(),
            &bytes,
        )?)
    }
}

/// A signed-in profile: the open store and the keys. Dropping it (or
/// [`Unlocked::lock`]) zeroizes the keys and closes the database.
pub struct Unlocked {
    pub(crate) profile: ProfileDir,
    pub(crate) db_key: DbKey,
    pub(crate) keychain_secret: KeychainSecret,
    store: Store,
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlocked")
            .field("profile", &self.profile.meta.id)
            .finish_non_exhaustive()
    }
}

impl Unlocked {
    /// The store.
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }
    /// The store, read-only.
    pub fn store_ref(&self) -> &Store {
        &self.store
    }
    /// The profile.
    pub fn profile(&self) -> &ProfileDir {
        &self.profile
    }

    /// The profile, to update its public metadata.
    pub(crate) fn profile_mut(&mut self) -> &mut ProfileDir {
        &mut self.profile
    }
    /// Locks: audits, then drops (zeroizes) the keys and closes the database.
    pub fn lock(mut self) {
        let _ = self.store.audit("lock", json!({}));
        tracing::info!(profile = %self.profile.meta.id, "locked");
    }
    /// The database key (for CLI sessions and recovery tests). Never log it.
    pub fn db_key(&self) -> &DbKey {
        &self.db_key
    }
}

fn validate_username(u: &str) -> Result<(), CoreError> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::Invalid {
            field: "username",
            problem: "use 1–64 lowercase letters, digits, '.', '_' or '-'".into(),
        })
    }
}

fn validate_display_name(d: &str) -> Result<(), CoreError> {
    if d.trim().is_empty() || d.chars().count() > 200 || d.chars().any(char::is_control) {
        return Err(CoreError::Invalid {
            field: "display name",
            problem: "use 1–200 printable characters".into(),
        });
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CoreError + '_ {
    move |source| CoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Profiles {
    /// Profiles under `data_dir`.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        keychain: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        kdf: KdfChoice,
    ) -> Self {
        Self {
            root: data_dir.into(),
            keychain,
            clock,
            policy,
            kdf,
            machine_id: machine_id(),
        }
    }

    /// Overrides the machine binding of CLI sessions (tests simulate
    /// "another computer" with it).
    pub fn with_machine_id(mut self, id: &[u8]) -> Self {
        self.machine_id = id.to_vec();
        self
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the policy in force.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Every profile here, by username. Unreadable directories are skipped
    /// with a warning rather than hiding the others.
    pub fn list(&self) -> Result<Vec<ProfileDir>, CoreError> {
        let dir = self.profiles_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => {
                return Err(CoreError::Io {
                    path: dir,
                    source: e,
                });
            }
        };
        let mut out = vec![];
        for entry in entries.flatten() {
            let path = entry.path();
            match std::fs::read(path.join("profile.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<ProfileMeta>(&b).ok())
            {
                Some(meta) => out.push(ProfileDir { meta, dir: path }),
                None => {
                    tracing::warn!(dir = %path.display(), "skipping unreadable profile directory")
                }
            }
        }
        out.sort_by(|a, b| a.meta.username.cmp(&b.meta.username));
        Ok(out)
    }

    /// Finds a profile by username; with `None`, the only profile.
    pub fn find(&self, username: Option<&str>) -> Result<ProfileDir, CoreError> {
        let all = self.list()?;
        match username {
            Some(u) => all
                .into_iter()
                .find(|p| p.meta.username == u)
                .ok_or_else(|| CoreError::NoSuchProfile(u.into())),
            None => match all.len() {
                0 => Err(CoreError::NoProfile),
                1 => Ok(all.into_iter().next().ok_or(CoreError::NoProfile)?),
                _ => Err(CoreError::ProfileAmbiguous),
            },
        }
    }

    fn kdf_params(&self) -> Result<KdfParams, CoreError> {
        Ok(match self.kdf {
            KdfChoice::Tuned => KdfParams::tune()?,
            KdfChoice::Fixed(p) => p,
        })
    }

    fn check_password(&self, p: &Password) -> Result<(), CoreError> {
        let min = self.policy.min_password_length;
        if p.char_len() < min {
            return Err(CoreError::WeakPassword { min });
        }
        Ok(())
    }

    /// Creates a profile: keys, keychain item, wrap file, database, and a
    /// pending TOTP enrolment. Returns the enrolment to show.
    pub fn create(
        &self,
        req: &NewProfile,
        escrow: Option<&EscrowPublicKey>,
    ) -> Result<TotpEnrolment, CoreError> {
        validate_username(&req.username)?;
        validate_display_name(&req.display_name)?;
        self.check_password(&req.password)?;
        if self.list()?.iter().any(|p| p.meta.username == req.username) {
            return Err(CoreError::ProfileExists(req.username.clone()));
        }
        let id = data_encoding::HEXLOWER.encode(&bedside_vault::rng::bytes::<16>()?);
        let dir = self.profiles_dir().join(&id);
        let profile = ProfileDir {
            meta: ProfileMeta {
                id,
                username: req.username.clone(),
                display_name: req.display_name.trim().to_owned(),
                totp_enabled: false,
                clinic_public_key: None,
            },
            dir,
        };
        std::fs::create_dir_all(&profile.dir).map_err(io(&profile.dir))?;
        restrict_permissions(&profile.dir);
        // The caller's escrow key, else the one policy names.
        let from_policy = match (escrow, &self.policy.escrow_public_key) {
            (None, Some(k)) => Some(EscrowPublicKey::parse(k)?),
            _ => None,
        };
        let result = self.create_in(&profile, req, escrow.or(from_policy.as_ref()));
        if result.is_err() {
            // Leave nothing half-made behind: no directory, no keychain item.
            let _ = self.keychain.delete(&profile.keychain_item());
            let _ = std::fs::remove_dir_all(&profile.dir);
        }
        result
    }

    fn create_in(
        &self,
        profile: &ProfileDir,
        req: &NewProfile,
        escrow: Option<&EscrowPublicKey>,
    ) -> Result<TotpEnrolment, CoreError> {
        let db_key = DbKey::generate()?;
        let ks = KeychainSecret::generate()?;
        self.keychain.set(&profile.keychain_item(), ks.expose())?;
        // Read it back: a keychain that accepts writes but loses them must fail now, not at next sign-in.
        if self.keychain.get_secret(&profile.keychain_item())? != ks {
            return Err(CoreError::Keychain(
                bedside_vault::KeychainError::Unavailable {
                    store: self.keychain.name(),
                    detail: "the stored secret did not read back".into(),
                },
            ));
        }
        let wrap = WrapFile::seal(&db_key, &req.password, &ks, self.kdf_params()?, escrow)?;
        wrap.write_atomic(&profile.wrap())?;
        let totp = TotpSecret::generate()?;
        let mut store = Store::open(&profile.db(), &db_key, &req.username)?;
        store.init_profile(&req.username, &profile.meta.display_name, &totp)?;
        if escrow.is_some() {
            store.audit("escrow.seal", json!({}))?;
        }
        profile.save_meta()?;
        tracing::info!(profile = %profile.meta.id, "profile created");
        enrolment(&totp, &req.username)
    }

    fn unwrap_keys(
        &self,
        profile: &ProfileDir,
        password: &Password,
    ) -> Result<(DbKey, KeychainSecret), CoreError> {
        let wrap = WrapFile::read(&profile.wrap())?;
        let ks = self.keychain.get_secret(&profile.keychain_item())?;
        let key = wrap.open(password, &ks)?;
        Ok((key, ks))
    }

    fn open_store(&self, profile: &ProfileDir, key: &DbKey) -> Result<Store, CoreError> {
        Store::open(&profile.db(), key, &profile.meta.username).map_err(|e| match e {
            // The key came out of an authenticated wrap, so it is the right
            // key: a refusal means the database file is damaged or swapped.
            bedside_store::StoreError::WrongKey { path } => CoreError::DatabaseMismatch(path),
            other => other.into(),
        })
    }

    /// Signs in with the password and, once TOTP is enrolled, a code.
    /// `totp_optional` lets a recent full sign-in unlock with the password
    /// alone (the desktop's lock screen within 12 h).
    pub fn sign_in(
        &self,
        username: Option<&str>,
        password: &Password,
        code: Option<&str>,
        totp_optional: bool,
    ) -> Result<Unlocked, CoreError> {
        let profile = self.find(username)?;
        let lockout_path = profile.lockout_path();
        let mut lockout = Lockout::load(&lockout_path);
        let now = self.now();
        lockout.check(now)?;
        let fail = |mut l: Lockout| -> CoreError {
            l.fail(now);
            if let Err(e) = l.save(&lockout_path) {
                tracing::warn!(error = %e, "could not record a failed sign-in");
            }
            tracing::info!(profile = %profile.meta.id, "sign-in failed");
            CoreError::SigninFailed
        };
        let (db_key, ks) = match self.unwrap_keys(&profile, password) {
            Ok(k) => k,
            Err(CoreError::Vault(bedside_vault::VaultError::PasswordIncorrect)) => {
                return Err(fail(lockout));
            }
            Err(e) => return Err(e),
        };
        let mut store = self.open_store(&profile, &db_key)?;
        let state = store.profile()?;
        let mut used_totp = false;
        if state.totp_enabled {
            match code {
                Some(code) => {
                    let (secret, last) = store.totp_state()?;
                    match Totp::new(secret).verify(code, now.max(0) as u64, last) {
                        Some(step) => {
                            store.accept_totp(step, false)?;
                            used_totp = true;
                        }
                        None => {
                            store.audit("signin.failed", json!({ "factor": "second" }))?;
                            lockout.unaudited_failures =
                                lockout.unaudited_failures.saturating_sub(1);
                            return Err(fail(lockout));
                        }
                    }
                }
                None if totp_optional => {}
                None => return Err(fail(lockout)),
            }
        } else if self.policy.totp_required {
            return Err(CoreError::TotpNotEnrolled);
        }
        for _ in 0..lockout.unaudited_failures {
            store.audit("signin.failed", json!({}))?;
        }
        lockout.succeed();
        lockout.save(&lockout_path)?;
        store.audit(if used_totp { "signin" } else { "unlock" }, json!({}))?;
        tracing::info!(profile = %profile.meta.id, "signed in");
        Ok(Unlocked {
            profile,
            db_key,
            keychain_secret: ks,
            store,
        })
    }

    /// Shows the pending TOTP enrolment again (password required).
    pub fn pending_enrolment(
        &self,
        username: Option<&str>,
        password: &Password,
    ) -> Result<TotpEnrolment, CoreError> {
        let profile = self.find(username)?;
        let (key, _) = self.password_only(&profile, password)?;
        let store = self.open_store(&profile, &key)?;
        if store.profile()?.totp_enabled {
            return Err(CoreError::TotpAlreadyEnabled);
        }
        let (secret, _) = store.totp_state()?;
        enrolment(&secret, &profile.meta.username)
    }

    fn password_only(
        &self,
        profile: &ProfileDir,
        password: &Password,
    ) -> Result<(DbKey, KeychainSecret), CoreError> {
        let lockout_path = profile.lockout_path();
        let mut lockout = Lockout::load(&lockout_path);
        let now = self.now();
        lockout.check(now)?;
        match self.unwrap_keys(profile, password) {
            Err(CoreError::Vault(bedside_vault::VaultError::PasswordIncorrect)) => {
                lockout.fail(now);
                let _ = lockout.save(&lockout_path);
                Err(CoreError::SigninFailed)
            }
            other => other,
        }
    }

    /// Confirms TOTP enrolment with a code and signs in.
    pub fn confirm_totp(
        &self,
        username: Option<&str>,
        password: &Password,
        code: &str,
    ) -> Result<Unlocked, CoreError> {
        let mut profile = self.find(username)?;
        let (db_key, ks) = self.password_only(&profile, password)?;
        let mut store = self.open_store(&profile, &db_key)?;
        if store.profile()?.totp_enabled {
            return Err(CoreError::TotpAlreadyEnabled);
        }
        let (secret, last) = store.totp_state()?;
        let step = Totp::new(secret)
            .verify(code, self.now().max(0) as u64, last)
            .ok_or(CoreError::SigninFailed)?;
        store.accept_totp(step, true)?;
        store.audit("signin", json!({}))?;
        profile.meta.totp_enabled = true;
        profile.save_meta()?;
        Lockout::default().save(&profile.lockout_path())?;
        Ok(Unlocked {
            profile,
            db_key,
            keychain_secret: ks,
            store,
        })
    }

    /// Changes the password: verifies the old one, rewraps the same database
    /// key (the database is not re-encrypted).
    pub fn change_password(
        &self,
        u: &mut Unlocked,
        old: &Password,
        new: &Password,
    ) -> Result<(), CoreError> {
        self.check_password(new)?;
        let (key, ks) = self.password_only(&u.profile, old)?;
        if key != u.db_key {
            return Err(CoreError::SigninFailed);
        }
        let wrap = WrapFile::read(&u.profile.wrap())?;
        let new_wrap = wrap.rewrap(&key, new, &ks, self.kdf_params()?)?;
        new_wrap.write_atomic(&u.profile.wrap())?;
        u.store.audit("password.change", json!({}))?;
        crate::session::end_all(&u.profile)?;
        Ok(())
    }

    /// Sets a new password with the escrow private key. Works without the
    /// old password and even when the keychain item was lost (a new keychain
    /// secret is made).
    pub fn recover(
        &self,
        username: Option<&str>,
        escrow: &EscrowPrivateKey,
        new: &Password,
    ) -> Result<(), CoreError> {
        self.check_password(new)?;
        let profile = self.find(username)?;
        let wrap = WrapFile::read(&profile.wrap())?;
        let boxed = wrap
            .escrow()
            .ok_or(CoreError::Vault(bedside_vault::VaultError::Escrow(
                "this profile has no escrow box",
            )))?;
        let db_key = boxed.open(escrow)?;
        // Prove the key before touching anything.
        let mut store = self.open_store(&profile, &db_key)?;
        let ks = match self.keychain.get_secret(&profile.keychain_item()) {
            Ok(ks) => ks,
            Err(bedside_vault::KeychainError::Missing { .. }) => {
                let ks = KeychainSecret::generate()?;
                self.keychain.set(&profile.keychain_item(), ks.expose())?;
                ks
            }
            Err(e) => return Err(e.into()),
        };
        let new_wrap = wrap.rewrap(&db_key, new, &ks, self.kdf_params()?)?;
        new_wrap.write_atomic(&profile.wrap())?;
        store.audit("recover.escrow", json!({}))?;
        Lockout::default().save(&profile.lockout_path())?;
        crate::session::end_all(&profile)?;
        tracing::info!(profile = %profile.meta.id, "password reset with the escrow key");
        Ok(())
    }

    /// Reopens a profile from keys held by a CLI session.
    pub(crate) fn reopen(
        &self,
        profile: ProfileDir,
        db_key: DbKey,
        ks: KeychainSecret,
    ) -> Result<Unlocked, CoreError> {
        let store = self.open_store(&profile, &db_key)?;
        Ok(Unlocked {
            profile,
            db_key,
            keychain_secret: ks,
            store,
        })
    }
}

/// The clinic public keys of the profiles under `data_dir`, as
/// `(display name, base64url key)`, read from their public metadata (no
/// keychain needed): what a relay on this computer should trust.
pub fn clinic_keys_in(data_dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("profiles")) else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("profile.json")).ok())
        .filter_map(|b| serde_json::from_slice::<ProfileMeta>(&b).ok())
        .filter_map(|m| m.clinic_public_key.map(|k| (m.display_name, k)))
        .collect()
}

fn enrolment(secret: &TotpSecret, username: &str) -> Result<TotpEnrolment, CoreError> {
    let totp = Totp::new(secret.clone());
    Ok(TotpEnrolment {
        otpauth_uri: totp.otpauth_uri(username),
        secret_base32: secret.base32(),
        qr_png: totp.qr_png(username)?,
    })
}

/// Owner-only access to profile directories on Unix.
fn restrict_permissions(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// A stable per-machine identifier for binding CLI sessions.
fn machine_id() -> Vec<u8> {
    for p in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(s) = std::fs::read_to_string(p)
            && !s.trim().is_empty()
        {
            return s.trim().as_bytes().to_vec();
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
        .into_bytes()
}
