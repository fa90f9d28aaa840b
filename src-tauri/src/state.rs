//! The core as Tauri-managed state: one `Core` behind a mutex, opened on a background thread
//! as the app starts ([`AppState::open_in_background`]) and again by any command that finds it
//! closed.
//!
//! Opening (the keychain over D-Bus) runs beside the window and page load, so the UI's first
//! command finds the core open or waits on the mutex for the opening already under way. When
//! the system keychain is missing or locked, the open fails without a window of its own: the
//! UI's command opens again, explains the failure and can retry (each command tries again).
//! There is never a fallback that stores keys without the keychain.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bedside_core::{Core, CoreError, Policy};

use crate::IpcError;

/// Opens the core under the policy in force; called again after each failure, so a retry
/// can succeed.
type Opener = Box<dyn Fn(&Policy) -> Result<Core, IpcError> + Send + Sync>;

/// Shared state of the app: the core, once opened, and the policy in force.
pub struct AppState {
    inner: Arc<Inner>,
}

/// The parts a background opening thread shares with the commands.
struct Inner {
    open: Opener,
    core: Mutex<Option<Core>>,
    policy: Mutex<Policy>,
}

impl AppState {
    /// State for the real app: the core in `data_dir`, keyed by the OS keychain, under
    /// `policy` (kept current by the policy watcher through [`AppState::set_policy`]).
    pub fn new(data_dir: Result<PathBuf, CoreError>, policy: Policy) -> Self {
        let data_dir = data_dir.map_err(|error| {
            tracing::error!(code = error.code(), "no data directory");
            IpcError::from(error)
        });
        let state = Self::with_opener(Box::new(move |policy| {
            let dir = data_dir.clone()?;
            Core::with_system_keychain_and_policy(dir, policy.clone()).map_err(|error| {
                tracing::error!(code = error.code(), "cannot open the core");
                IpcError::from(error)
            })
        }));
        state.set_policy(policy);
        state
    }

    /// State whose core comes from `open` (tests use an in-memory keychain).
    pub fn with_opener(open: Opener) -> Self {
        Self {
            inner: Arc::new(Inner {
                open,
                core: Mutex::new(None),
                policy: Mutex::new(Policy::default()),
            }),
        }
    }

    /// Opens the core on a background thread, so the keychain's D-Bus round trips overlap the
    /// window and page load instead of following the UI's first command. Commands that come
    /// meanwhile wait for it on the core's mutex; a failure is logged and the next command
    /// tries again (and reports it).
    pub fn open_in_background(&self) {
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("core-open".into())
            .spawn(move || {
                let _ = inner.with_core(|_| Ok(()));
            });
        if let Err(error) = spawned {
            // The first command opens it instead.
            tracing::warn!(%error, "could not start the core-open thread");
        }
    }

    /// Applies a new policy: to the core now if it is open, and to a core opened later.
    pub(crate) fn set_policy(&self, policy: Policy) {
        if let Ok(mut current) = self.inner.policy.lock() {
            *current = policy.clone();
        }
        if let Ok(mut guard) = self.inner.core.lock()
            && let Some(core) = guard.as_mut()
        {
            core.set_policy(policy);
        }
    }

    /// Runs one core operation for `command`, opening the core first if needed.
    ///
    /// Logs the command name and, on failure, the error code: never arguments or messages.
    pub(crate) fn call<T>(
        &self,
        command: &'static str,
        op: impl FnOnce(&mut Core) -> Result<T, CoreError>,
    ) -> Result<T, IpcError> {
        let result = self
            .inner
            .with_core(|core| op(core).map_err(IpcError::from));
        match &result {
            Ok(_) => tracing::debug!(command, "ok"),
            Err(error) => tracing::info!(command, code = error.code(), "failed"),
        }
        result
    }

    /// Locks the core, if it was opened, as the app exits.
    pub(crate) fn lock_for_exit(&self) {
        if let Ok(mut guard) = self.inner.core.lock()
            && let Some(core) = guard.as_mut()
        {
            core.lock();
        }
    }

    /// Whether a session is open now. Never opens the core.
    pub(crate) fn is_unlocked(&self) -> bool {
        self.inner.core.lock().is_ok_and(|guard| {
            guard
                .as_ref()
                .is_some_and(|core| core.session_state() != bedside_core::SessionState::Locked)
        })
    }

    /// The idle check: true if the core locked itself just now. Never opens the core.
    pub(crate) fn tick(&self) -> bool {
        match self.inner.core.lock() {
            Ok(mut guard) => guard.as_mut().is_some_and(Core::tick),
            Err(_) => false,
        }
    }
}

impl Inner {
    /// Runs `op` on the core, opening it first if needed.
    fn with_core<T>(
        &self,
        op: impl FnOnce(&mut Core) -> Result<T, IpcError>,
    ) -> Result<T, IpcError> {
        // A poisoned lock means a panic mid-operation: refuse rather than guess the state.
        let mut guard = self.core.lock().map_err(|_| IpcError::internal())?;
        if guard.is_none() {
            let policy = self
                .policy
                .lock()
                .map(|p| p.clone())
                .map_err(|_| IpcError::internal())?;
            let core = (self.open)(&policy)?;
            tracing::info!("core opened");
            *guard = Some(core);
        }
        let core = guard.as_mut().ok_or_else(IpcError::internal)?;
        op(core)
    }
}

#[cfg(test)]
mod tests {
    //! The state over a real core (temp dir, in-memory keychain, manual clock).

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bedside_core::clock::ManualClock;
    use bedside_core::{KdfChoice, NewProfile, Policy, SessionState};
    use bedside_vault::{KdfParams, MemoryKeychain, Password, Totp, TotpSecret};

    use super::*;

    const T0: i64 = 1_800_000_000;
    const PW: &str = "violet lantern oxbow 1987";

    struct Env {
        _dir: tempfile::TempDir,
        keychain: Arc<MemoryKeychain>,
        clock: ManualClock,
        opened: Arc<AtomicUsize>,
        state: AppState,
    }

    /// A real core in `path` with fast test key derivation.
    fn test_core(
        path: &std::path::Path,
        keychain: Arc<MemoryKeychain>,
        clock: ManualClock,
        policy: Policy,
    ) -> Core {
        Core::new(
            path.to_owned(),
            keychain,
            Arc::new(clock),
            policy,
            KdfChoice::Fixed(KdfParams::DANGER_TEST_ONLY),
        )
    }

    /// A state whose opener fails its first `fails` attempts with `error`, then opens a real
    /// core; with the count of attempts and the data directory to keep alive.
    fn failing_opener(
        fails: usize,
        error: fn() -> IpcError,
    ) -> (AppState, Arc<AtomicUsize>, tempfile::TempDir) {
        let attempts = Arc::new(AtomicUsize::new(0));
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, count) = (dir.path().to_owned(), attempts.clone());
        let state = AppState::with_opener(Box::new(move |_| {
            if count.fetch_add(1, Ordering::SeqCst) < fails {
                return Err(error());
            }
            Ok(test_core(
                &path,
                Arc::new(MemoryKeychain::new()),
                ManualClock::at(T0),
                Policy::default(),
            ))
        }));
        (state, attempts, dir)
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let keychain = Arc::new(MemoryKeychain::new());
        let clock = ManualClock::at(T0);
        let opened = Arc::new(AtomicUsize::new(0));
        let (path, kc, ck, count) = (
            dir.path().to_owned(),
            keychain.clone(),
            clock.clone(),
            opened.clone(),
        );
        let state = AppState::with_opener(Box::new(move |policy| {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(test_core(&path, kc.clone(), ck.clone(), policy.clone()))
        }));
        Env {
            _dir: dir,
            keychain,
            clock,
            opened,
            state,
        }
    }

    fn new_profile() -> NewProfile {
        NewProfile {
            username: "amorgan".into(),
            display_name: "Dr Alex Morgan".into(),
            password: Password::new(PW),
        }
    }

    fn code_now(secret_base32: &str, clock_secs: i64) -> String {
        let secret = data_encoding::BASE32_NOPAD
            .decode(secret_base32.as_bytes())
            .expect("base32");
        Totp::new(TotpSecret::from_bytes(secret)).code_at(clock_secs as u64)
    }

    #[test]
    fn first_run_sign_in_and_idle_lock() {
        let env = env();
        let enrolment = env
            .state
            .call("create_profile", |core| core.create_profile(new_profile()))
            .expect("created");
        let code = code_now(&enrolment.secret_base32, T0);
        assert!(!env.state.is_unlocked());
        env.state
            .call("confirm_totp", |core| {
                core.confirm_totp("amorgan", &Password::new(PW), &code)
            })
            .expect("confirmed");
        assert!(env.state.is_unlocked());
        let session = env
            .state
            .call("session_state", |core| Ok(core.session_state()))
            .expect("state");
        assert_eq!(
            session,
            SessionState::Unlocked {
                username: "amorgan".into(),
                display_name: "Dr Alex Morgan".into()
            }
        );

        // Activity keeps the session open; silence past the policy's idle period locks it once.
        env.clock.advance(9 * 60);
        env.state
            .call("touch", |core| {
                core.touch();
                Ok(())
            })
            .expect("touch");
        env.clock.advance(9 * 60);
        assert!(!env.state.tick());
        env.clock.advance(2 * 60);
        assert!(env.state.tick(), "idle for 11 minutes locks");
        assert!(!env.state.tick(), "reports the lock only once");
        assert!(!env.state.is_unlocked());
        let session = env
            .state
            .call("session_state", |core| Ok(core.session_state()))
            .expect("state");
        assert_eq!(session, SessionState::Locked);
        assert_eq!(
            env.opened.load(Ordering::SeqCst),
            1,
            "the core is opened once"
        );
    }

    #[test]
    fn a_policy_change_reaches_the_open_core_and_one_opened_later() {
        let env = env();
        let shorter = Policy {
            idle_lock_minutes: 2,
            ..Policy::default()
        };
        env.state.set_policy(shorter.clone());
        assert_eq!(
            env.opened.load(Ordering::SeqCst),
            0,
            "setting policy opens nothing"
        );
        let enrolment = env
            .state
            .call("create_profile", |core| core.create_profile(new_profile()))
            .expect("created");
        let code = code_now(&enrolment.secret_base32, T0);
        env.state
            .call("confirm_totp", |core| {
                core.confirm_totp("amorgan", &Password::new(PW), &code)
            })
            .expect("confirmed");
        env.clock.advance(2 * 60);
        assert!(
            env.state.tick(),
            "the core opened after the change uses 2 minutes"
        );
        env.state
            .call("sign_in", |core| {
                core.sign_in("amorgan", &Password::new(PW), None)
            })
            .expect("unlock");
        env.state.set_policy(Policy {
            idle_lock_minutes: 30,
            ..shorter
        });
        env.clock.advance(5 * 60);
        assert!(
            !env.state.tick(),
            "the open core follows the new 30 minutes"
        );
    }

    #[test]
    fn exit_locks_a_signed_in_session() {
        let env = env();
        env.state.lock_for_exit(); // nothing opened yet: a no-op
        assert_eq!(env.opened.load(Ordering::SeqCst), 0);
        let enrolment = env
            .state
            .call("create_profile", |core| core.create_profile(new_profile()))
            .expect("created");
        let code = code_now(&enrolment.secret_base32, T0);
        env.state
            .call("confirm_totp", |core| {
                core.confirm_totp("amorgan", &Password::new(PW), &code)
            })
            .expect("confirmed");
        env.state.lock_for_exit();
        let session = env
            .state
            .call("session_state", |core| Ok(core.session_state()))
            .expect("state");
        assert_eq!(session, SessionState::Locked);
    }

    #[test]
    fn wrong_credentials_map_to_signin_failed() {
        let env = env();
        let enrolment = env
            .state
            .call("create_profile", |core| core.create_profile(new_profile()))
            .expect("created");
        let code = code_now(&enrolment.secret_base32, T0);
        env.state
            .call("confirm_totp", |core| {
                core.confirm_totp("amorgan", &Password::new(PW), &code)
            })
            .expect("confirmed");
        env.state
            .call("lock", |core| {
                core.lock();
                Ok(())
            })
            .expect("lock");
        env.clock.advance(13 * 3600); // past the re-authentication window: TOTP needed again

        let wrong_password = env.state.call("sign_in", |core| {
            core.sign_in("amorgan", &Password::new("nope nope nope"), Some(&code))
        });
        let wrong_code = env.state.call("sign_in", |core| {
            core.sign_in("amorgan", &Password::new(PW), Some("000000"))
        });
        let no_code = env.state.call("sign_in", |core| {
            core.sign_in("amorgan", &Password::new(PW), None)
        });
        for result in [wrong_password, wrong_code, no_code] {
            let error = result.expect_err("refused");
            assert_eq!(error.code(), "signin_failed");
            assert_eq!(error.message(), "The password or the code is incorrect.");
        }
    }

    #[test]
    fn an_unavailable_keychain_is_reported_and_a_retry_can_succeed() {
        let env = env();
        env.keychain.set_unavailable(true);
        let error = env
            .state
            .call("create_profile", |core| core.create_profile(new_profile()))
            .expect_err("no keychain");
        assert_eq!(error.code(), "keychain_unavailable");
        env.keychain.set_unavailable(false);
        env.state
            .call("create_profile", |core| core.create_profile(new_profile()))
            .expect("created on retry");
    }

    #[test]
    fn the_background_open_is_the_only_open_and_commands_wait_for_it() {
        let env = env();
        env.state.open_in_background();
        // Whether the command comes before, during or after the background open, it gets an
        // open core and the keychain is opened once.
        let profiles = env
            .state
            .call("profiles", |core| core.profiles())
            .expect("open core");
        assert!(profiles.is_empty());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while env.opened.load(Ordering::SeqCst) == 0 {
            assert!(std::time::Instant::now() < deadline, "never opened");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Let the background thread finish either way before counting.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(env.opened.load(Ordering::SeqCst), 1, "opened exactly once");
    }

    #[test]
    fn a_failed_background_open_leaves_the_first_command_to_open_and_report() {
        // Fails twice (the background open and the first command), then works.
        let (state, attempts, _dir) = failing_opener(2, || {
            IpcError::from(CoreError::Keychain(bedside_vault::KeychainError::Locked {
                store: "test",
            }))
        });
        state.open_in_background();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while attempts.load(Ordering::SeqCst) == 0 {
            assert!(std::time::Instant::now() < deadline, "no background open");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let first = state.call("profiles", |core| core.profiles());
        assert_eq!(
            first.expect_err("still locked").code(),
            "keychain_unavailable",
            "the UI's command reports the failure itself"
        );
        state
            .call("profiles", |core| core.profiles())
            .expect("a retry opens");
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failed_open_is_retried_and_tick_never_opens() {
        let (state, attempts, _dir) = failing_opener(1, IpcError::internal);
        assert!(!state.tick());
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            0,
            "the idle check does not open the core"
        );
        let first = state.call("profiles", |core| core.profiles());
        assert_eq!(first.expect_err("first open fails").code(), "internal");
        let profiles = state
            .call("profiles", |core| core.profiles())
            .expect("second open works");
        assert!(profiles.is_empty());
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }
}
