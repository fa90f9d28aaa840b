//! [`Core`]: the desktop shell's single handle on profiles, sign-in state and
//! the idle lock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bedside_vault::{Password, SecretStore, SystemKeychain};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::idle::IdleLock;
use crate::profiles::{KdfChoice, NewProfile, ProfileSummary, Profiles, TotpEnrolment, Unlocked};
use crate::{CoreError, Policy};

/// Whether someone is signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SessionState {
    /// Nobody is signed in (or the app locked itself).
    Locked,
    /// Signed in.
    Unlocked {
        /// Sign-in name.
        username: String,
        /// Shown name.
        display_name: String,
    },
}

/// The desktop app's core state.
pub struct Core {
    pub(crate) profiles: Profiles,
    pub(crate) unlocked: Option<Unlocked>,
    idle: IdleLock,
    /// Unix time of each profile's last full (password + TOTP) sign-in in
    /// this process: the lock screen asks for TOTP again after the policy's hours.
    last_full_signin: HashMap<String, i64>,
    /// Unix time of the last audit checkpoint attempt in this session.
    last_checkpoint: i64,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("unlocked", &self.unlocked.is_some())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// See [`crate::default_data_dir`].
    pub fn default_data_dir() -> Result<PathBuf, CoreError> {
        crate::default_data_dir()
    }

    /// A core over `data_dir` using the OS keychain.
    pub fn with_system_keychain(data_dir: PathBuf) -> Result<Self, CoreError> {
        let policy = Policy::load_platform(Some(&data_dir)).policy;
        Self::with_system_keychain_and_policy(data_dir, policy)
    }

    /// A core over `data_dir` using the OS keychain, under `policy` (the
    /// desktop shell reads policy once and keeps it current itself).
    pub fn with_system_keychain_and_policy(
        data_dir: PathBuf,
        policy: Policy,
    ) -> Result<Self, CoreError> {
        let keychain = Arc::new(SystemKeychain::new()?);
        Ok(Self::new(
            data_dir,
            keychain,
            Arc::new(SystemClock),
            policy,
            KdfChoice::Tuned,
        ))
    }

    /// A core with every dependency chosen by the caller.
    pub fn new(
        data_dir: PathBuf,
        keychain: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        kdf: KdfChoice,
    ) -> Self {
        let now = clock.now().timestamp();
        let idle = IdleLock::new(policy.idle_lock_secs(), now);
        Self {
            profiles: Profiles::new(data_dir, keychain, clock, policy, kdf),
            unlocked: None,
            idle,
            last_full_signin: HashMap::new(),
            last_checkpoint: now,
        }
    }

    /// Applies a new policy at once (the shell's watcher calls this when the
    /// sources change): the idle period, sign-in and invite rules of every
    /// later call follow it. An idle period that has already passed under the
    /// new policy locks at the next tick.
    pub fn set_policy(&mut self, policy: Policy) {
        self.idle.set_timeout(policy.idle_lock_secs());
        self.profiles.set_policy(policy);
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        self.profiles.policy()
    }

    /// The profiles layer (for `bedsidectl` and tests).
    pub fn profiles_layer(&self) -> &Profiles {
        &self.profiles
    }

    /// Profiles on this computer.
    pub fn profiles(&self) -> Result<Vec<ProfileSummary>, CoreError> {
        Ok(self
            .profiles
            .list()?
            .into_iter()
            .map(|p| ProfileSummary {
                username: p.meta.username,
                display_name: p.meta.display_name,
                totp_enabled: p.meta.totp_enabled,
            })
            .collect())
    }

    /// The minimum password length in force.
    pub fn min_password_length(&self) -> usize {
        self.profiles.policy().min_password_length
    }

    /// Creates a profile and returns its TOTP enrolment. Nobody is signed in
    /// until [`Core::confirm_totp`] succeeds.
    pub fn create_profile(&mut self, req: NewProfile) -> Result<TotpEnrolment, CoreError> {
        self.lock();
        self.profiles.create(&req, None)
    }

    /// Shows a pending enrolment again (e.g. the app was closed before confirming).
    pub fn pending_enrolment(
        &mut self,
        username: &str,
        password: &Password,
    ) -> Result<TotpEnrolment, CoreError> {
        self.profiles.pending_enrolment(Some(username), password)
    }

    /// Confirms TOTP with a code from the authenticator app, and signs in.
    pub fn confirm_totp(
        &mut self,
        username: &str,
        password: &Password,
        code: &str,
    ) -> Result<(), CoreError> {
        self.lock();
        let u = self.profiles.confirm_totp(Some(username), password, code)?;
        self.signed_in(u, true);
        Ok(())
    }

    /// Signs in, or unlocks after an idle lock. TOTP may be omitted only
    /// within the re-authentication period after a full sign-in.
    pub fn sign_in(
        &mut self,
        username: &str,
        password: &Password,
        totp: Option<&str>,
    ) -> Result<(), CoreError> {
        self.lock();
        let now = self.profiles.now();
        let reauth = i64::from(self.profiles.policy().totp_reauth_hours) * 3600;
        let recent = self
            .last_full_signin
            .get(username)
            .is_some_and(|t| now - t < reauth);
        let totp = totp.filter(|c| !c.trim().is_empty());
        let u = self
            .profiles
            .sign_in(Some(username), password, totp, recent)?;
        self.signed_in(u, totp.is_some());
        Ok(())
    }

    fn signed_in(&mut self, u: Unlocked, full: bool) {
        let now = self.profiles.now();
        if full {
            self.last_full_signin
                .insert(u.profile().meta.username.clone(), now);
        }
        self.unlocked = Some(u);
        self.idle = IdleLock::new(self.profiles.policy().idle_lock_secs(), now);
        self.apply_idle_setting();
        self.apply_retention();
        self.checkpoint_audit();
    }

    /// Writes the audit chain's head outside the database (see
    /// `bedside_store`'s checkpoints): at sign-in, every
    /// `AuditCheckpointIntervalMinutes` while signed in, and at lock. A
    /// failure is logged; the next one tries again.
    fn checkpoint_audit(&mut self) {
        self.last_checkpoint = self.profiles.now();
        if let Some(u) = self.unlocked.as_ref()
            && let Err(e) = u.store_ref().audit_checkpoint()
        {
            tracing::warn!(error = %e, "audit checkpoint failed");
        }
    }

    /// Purges visits that are over and older than policy's retention period.
    /// At every sign-in (the idle lock makes that at least daily in use). A
    /// failure is logged and retried next time; it never blocks signing in.
    fn apply_retention(&mut self) {
        let days = i64::from(self.profiles.policy().data_retention_days);
        let cutoff = self
            .profiles
            .now()
            .saturating_sub(days.saturating_mul(86_400));
        let Some(cutoff) = chrono::DateTime::from_timestamp(cutoff, 0) else {
            return;
        };
        if let Some(u) = self.unlocked.as_mut()
            && let Err(e) = u.store().purge_visits_before(cutoff)
        {
            tracing::warn!(error = %e, "retention purge failed; will retry at next sign-in");
        }
    }

    /// Applies the user's idle-lock minutes (never beyond policy's).
    pub(crate) fn apply_idle_setting(&mut self) {
        let max = self.profiles.policy().idle_lock_secs();
        let minutes = self
            .unlocked
            .as_ref()
            .and_then(|u| u.store_ref().setting("idle_lock_minutes").ok().flatten())
            .and_then(|v| v.parse::<i64>().ok());
        let secs = minutes.map_or(max, |m| (m * 60).clamp(60, max.max(60)));
        self.idle = IdleLock::new(secs, self.profiles.now());
    }

    /// Locks now: keys zeroized, database closed (after a last checkpoint).
    pub fn lock(&mut self) {
        self.checkpoint_audit();
        if let Some(u) = self.unlocked.take() {
            u.lock();
        }
    }

    /// Who is signed in.
    pub fn session_state(&self) -> SessionState {
        match &self.unlocked {
            None => SessionState::Locked,
            Some(u) => SessionState::Unlocked {
                username: u.profile().meta.username.clone(),
                display_name: u.profile().meta.display_name.clone(),
            },
        }
    }

    /// Records user activity.
    pub fn touch(&mut self) {
        self.idle.touch(self.profiles.now());
    }

    /// Locks if idle for the policy's period; true if it just locked.
    pub fn tick(&mut self) -> bool {
        if self.unlocked.is_some() && self.idle.expired(self.profiles.now()) {
            self.lock();
            tracing::info!("idle lock");
            return true;
        }
        let every = i64::from(self.profiles.policy().audit_checkpoint_minutes) * 60;
        if self.unlocked.is_some() && self.profiles.now() - self.last_checkpoint >= every {
            self.checkpoint_audit();
        }
        false
    }

    /// The signed-in profile.
    pub fn unlocked(&mut self) -> Result<&mut Unlocked, CoreError> {
        self.unlocked.as_mut().ok_or(CoreError::NotSignedIn)
    }
}
