//! Core tests with the in-memory keychain and a manual clock (the real
//! keychain and the CLI are exercised in the workspace's `tests/` crate).

use std::sync::Arc;

use bedside_vault::{EscrowPrivateKey, KdfParams, MemoryKeychain, Password, Totp, TotpSecret};

use crate::clock::ManualClock;
use crate::*;

const T0: i64 = 1_790_000_000;

struct Env {
    _dir: tempfile::TempDir,
    keychain: Arc<MemoryKeychain>,
    clock: ManualClock,
    profiles: Profiles,
}

fn env() -> Env {
    env_with(Policy::default())
}

fn env_with(policy: Policy) -> Env {
    let dir = tempfile::tempdir().expect("tmp");
    let keychain = Arc::new(MemoryKeychain::new());
    let clock = ManualClock::at(T0);
    let profiles = Profiles::new(
        dir.path(),
        keychain.clone(),
        Arc::new(clock.clone()),
        policy,
        KdfChoice::Fixed(KdfParams::DANGER_TEST_ONLY),
    );
    Env {
        _dir: dir,
        keychain,
        clock,
        profiles,
    }
}

fn pw(s: &str) -> Password {
    Password::new(s)
}

const PW: &str = "correct horse battery";

fn secret_of(e: &TotpEnrolment) -> Totp {
    Totp::new(TotpSecret::from_bytes(
        data_encoding::BASE32_NOPAD
            .decode(e.secret_base32.as_bytes())
            .expect("b32"),
    ))
}

/// Creates and confirms a profile; returns its TOTP.
fn enrolled(env: &Env, user: &str) -> Totp {
    let e = env
        .profiles
        .create(
            &NewProfile {
                username: user.into(),
                display_name: "Dr Test".into(),
                password: pw(PW),
            },
            None,
        )
        .expect("create");
    let totp = secret_of(&e);
    env.profiles
        .confirm_totp(Some(user), &pw(PW), &totp.code_at(T0 as u64))
        .expect("confirm");
    env.clock.advance(30); // the next code is a new step
    totp
}

fn now(env: &Env) -> u64 {
    env.profiles.now() as u64
}

#[test]
fn enrolment_gives_a_working_authenticator_secret() {
    let env = env();
    let e = env
        .profiles
        .create(
            &NewProfile {
                username: "dr.a".into(),
                display_name: "Dr A".into(),
                password: pw(PW),
            },
            None,
        )
        .expect("create");
    assert!(
        e.otpauth_uri
            .starts_with("otpauth://totp/Bedside:dr.a?secret=")
    );
    assert_eq!(&e.qr_png[1..4], b"PNG");
    // Not enabled until confirmed: sign-in is refused with a clear reason.
    assert!(matches!(
        env.profiles.sign_in(None, &pw(PW), None, false),
        Err(CoreError::TotpNotEnrolled)
    ));
    // A wrong code does not confirm.
    assert!(env.profiles.confirm_totp(None, &pw(PW), "000000").is_err());
    let totp = secret_of(&e);
    env.profiles
        .confirm_totp(None, &pw(PW), &totp.code_at(T0 as u64))
        .expect("confirm");
    assert!(env.profiles.find(None).expect("find").meta.totp_enabled);
    assert!(matches!(
        env.profiles.confirm_totp(None, &pw(PW), "123456"),
        Err(CoreError::TotpAlreadyEnabled)
    ));
}

#[test]
fn sign_in_needs_both_factors_and_never_says_which_failed() {
    let env = env();
    let totp = enrolled(&env, "dr.b");
    let wrong_pw = env.profiles.sign_in(
        None,
        &pw("wrong password!!"),
        Some(&totp.code_at(now(&env))),
        false,
    );
    let wrong_code = env.profiles.sign_in(None, &pw(PW), Some("000000"), false);
    let no_code = env.profiles.sign_in(None, &pw(PW), None, false);
    for r in [&wrong_pw, &wrong_code, &no_code] {
        match r {
            Err(e @ CoreError::SigninFailed) => {
                assert_eq!(e.to_string(), "The password or the code is incorrect.")
            }
            other => panic!("{other:?}"),
        }
    }
    let code = totp.code_at(now(&env));
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&code), false)
        .expect("both right");
    // The failures above reached the audit log at this sign-in.
    let actions: Vec<String> = u
        .store()
        .audit_export()
        .expect("export")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "signin.failed").count(),
        3,
        "{actions:?}"
    );
    u.lock();
    // The same code is refused the second time (replay), even within its window.
    assert!(matches!(
        env.profiles.sign_in(None, &pw(PW), Some(&code), false),
        Err(CoreError::SigninFailed)
    ));
}

#[test]
fn lockout_after_five_failures_with_backoff() {
    let env = env();
    let totp = enrolled(&env, "dr.c");
    for _ in 0..5 {
        assert!(matches!(
            env.profiles
                .sign_in(None, &pw("nope nope nope"), None, false),
            Err(CoreError::SigninFailed)
        ));
    }
    // Now even the right answer waits.
    let r = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false);
    assert!(
        matches!(
            r,
            Err(CoreError::LockedOut {
                retry_after_secs: 30
            })
        ),
        "{r:?}"
    );
    env.clock.advance(31);
    env.profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("after the wait");
}

#[test]
fn keychain_problems_are_clear_errors_never_a_fallback() {
    let env = env();
    let totp = enrolled(&env, "dr.d");
    let item = env.profiles.find(None).expect("p").keychain_item();
    env.keychain.set_unavailable(true);
    let e = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect_err("no keychain");
    assert_eq!(e.code(), "keychain_unavailable");
    assert!(e.to_string().contains("in-memory test keychain"), "{e}");
    assert!(e.is_environment());
    env.keychain.set_unavailable(false);
    let saved = bedside_vault::SecretStore::get(&*env.keychain, &item).expect("saved");
    bedside_vault::SecretStore::delete(&*env.keychain, &item).expect("delete");
    let e = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect_err("missing item");
    assert!(e.to_string().contains("missing"), "{e}");
    // Put it back: everything is intact.
    bedside_vault::SecretStore::set(&*env.keychain, &item, &saved).expect("restore");
    env.profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("intact");
    // Creating a profile with no keychain fails cleanly and leaves nothing behind.
    env.keychain.set_unavailable(true);
    let r = env.profiles.create(
        &NewProfile {
            username: "dr.e".into(),
            display_name: "E".into(),
            password: pw(PW),
        },
        None,
    );
    assert_eq!(r.expect_err("no keychain").code(), "keychain_unavailable");
    env.keychain.set_unavailable(false);
    assert_eq!(env.profiles.list().expect("list").len(), 1);
}

#[test]
fn truncated_wrap_file_is_a_clear_error_and_data_survives() {
    let env = env();
    let totp = enrolled(&env, "dr.f");
    let p = env.profiles.find(None).expect("p");
    let original = std::fs::read(p.wrap()).expect("read");
    std::fs::write(p.wrap(), &original[..original.len() / 2]).expect("truncate");
    let e = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect_err("truncated");
    assert_eq!(e.code(), "key_file_damaged");
    assert!(e.to_string().contains("bedside.wrap"), "{e}");
    std::fs::write(p.wrap(), &original).expect("restore");
    env.profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("data intact");
}

#[test]
fn password_policy_and_validation() {
    let env = env();
    let mk = |u: &str, d: &str, p: &str| {
        env.profiles.create(
            &NewProfile {
                username: u.into(),
                display_name: d.into(),
                password: pw(p),
            },
            None,
        )
    };
    assert!(matches!(
        mk("dr.g", "G", "short"),
        Err(CoreError::WeakPassword { min: 12 })
    ));
    assert!(matches!(
        mk("Dr G", "G", PW),
        Err(CoreError::Invalid {
            field: "username",
            ..
        })
    ));
    assert!(matches!(
        mk("dr.g", "", PW),
        Err(CoreError::Invalid {
            field: "display name",
            ..
        })
    ));
    mk("dr.g", "G", PW).expect("ok");
    assert!(matches!(
        mk("dr.g", "G2", PW),
        Err(CoreError::ProfileExists(_))
    ));
}

#[test]
fn password_change_rewraps_only() {
    let env = env();
    let totp = enrolled(&env, "dr.h");
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("in");
    let key_before = u.db_key().clone();
    let new = pw("an entirely new password");
    assert!(matches!(
        env.profiles
            .change_password(&mut u, &pw("wrong old password"), &new),
        Err(CoreError::SigninFailed)
    ));
    assert!(matches!(
        env.profiles.change_password(&mut u, &pw(PW), &pw("short")),
        Err(CoreError::WeakPassword { .. })
    ));
    env.profiles
        .change_password(&mut u, &pw(PW), &new)
        .expect("change");
    u.lock();
    env.clock.advance(30);
    assert!(
        env.profiles
            .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
            .is_err()
    );
    env.clock.advance(30);
    let u = env
        .profiles
        .sign_in(None, &new, Some(&totp.code_at(now(&env))), false)
        .expect("new password");
    assert_eq!(
        u.db_key(),
        &key_before,
        "same database key: not re-encrypted"
    );
}

#[test]
fn escrow_recovery_sets_a_new_password_even_without_the_keychain_item() {
    let env = env();
    let (sk, pk) = EscrowPrivateKey::generate().expect("keygen");
    let e = env
        .profiles
        .create(
            &NewProfile {
                username: "dr.i".into(),
                display_name: "I".into(),
                password: pw(PW),
            },
            Some(&pk),
        )
        .expect("create");
    let totp = secret_of(&e);
    env.profiles
        .confirm_totp(None, &pw(PW), &totp.code_at(now(&env)))
        .expect("confirm")
        .lock();
    let (wrong, _) = EscrowPrivateKey::generate().expect("keygen");
    let new = pw("recovered password 123");
    assert_eq!(
        env.profiles
            .recover(None, &wrong, &new)
            .expect_err("wrong escrow key")
            .code(),
        "escrow_failed"
    );
    // The keychain was reset too.
    let item = env.profiles.find(None).expect("p").keychain_item();
    bedside_vault::SecretStore::delete(&*env.keychain, &item).expect("delete");
    env.profiles.recover(None, &sk, &new).expect("recover");
    env.clock.advance(30);
    let mut u = env
        .profiles
        .sign_in(None, &new, Some(&totp.code_at(now(&env))), false)
        .expect("sign in with new password");
    assert!(
        u.store()
            .audit_export()
            .expect("audit")
            .iter()
            .any(|e| e.action == "recover.escrow")
    );
}

#[test]
fn profiles_are_isolated() {
    let env = env();
    let ta = enrolled(&env, "dr.j");
    let tb = enrolled(&env, "dr.k");
    let a = env.profiles.find(Some("dr.j")).expect("a");
    let b = env.profiles.find(Some("dr.k")).expect("b");
    assert_ne!(a.dir, b.dir);
    assert_ne!(a.keychain_item(), b.keychain_item());
    assert!(matches!(
        env.profiles.find(None),
        Err(CoreError::ProfileAmbiguous)
    ));
    let ua = env
        .profiles
        .sign_in(Some("dr.j"), &pw(PW), Some(&ta.code_at(now(&env))), false)
        .expect("a");
    let ub = env
        .profiles
        .sign_in(Some("dr.k"), &pw(PW), Some(&tb.code_at(now(&env))), false)
        .expect("b");
    assert_ne!(ua.db_key(), ub.db_key(), "each profile has its own key");
    // B's code does not open A.
    env.clock.advance(30);
    assert!(
        env.profiles
            .sign_in(Some("dr.j"), &pw(PW), Some(&tb.code_at(now(&env))), false)
            .is_err()
    );
}

#[test]
fn cli_sessions_expire_when_idle_and_die_on_lock_and_elsewhere() {
    let env = env();
    let totp = enrolled(&env, "dr.l");
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("in");
    let token = session::start(&env.profiles, &mut u).expect("session");
    // The token is not the database key in any encoding.
    let key = u.db_key().expose().to_vec();
    assert!(!token.contains(&data_encoding::BASE64URL_NOPAD.encode(&key)));
    assert!(!token.contains(&data_encoding::HEXLOWER.encode(&key)));
    drop(u);
    // Used within the idle period, it keeps working and each use resets the timer.
    for _ in 0..3 {
        env.clock.advance(9 * 60);
        session::resume(&env.profiles, &token).expect("still fresh");
    }
    // On "another computer" (other machine id) it opens nothing.
    let elsewhere = env.profiles.clone().with_machine_id(b"another-machine");
    assert!(matches!(
        session::resume(&elsewhere, &token),
        Err(CoreError::SessionInvalid)
    ));
    // A tampered token opens nothing.
    let mut bad = token.clone();
    let last = bad.pop().expect("char");
    bad.push(if last == 'A' { 'B' } else { 'A' });
    assert!(session::resume(&env.profiles, &bad).is_err());
    assert!(matches!(
        session::resume(&env.profiles, "garbage"),
        Err(CoreError::SessionInvalid)
    ));
    // Idle for the lock period: dead, and stays dead.
    env.clock.advance(10 * 60);
    assert!(matches!(
        session::resume(&env.profiles, &token),
        Err(CoreError::SessionExpired)
    ));
    env.clock.advance(-(10 * 60));
    assert!(
        matches!(
            session::resume(&env.profiles, &token),
            Err(CoreError::SessionExpired)
        ),
        "file was deleted"
    );
    // Lock ends every session.
    env.clock.advance(30);
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("in");
    let t2 = session::start(&env.profiles, &mut u).expect("session");
    let p = u.profile().clone();
    u.lock();
    session::end_all(&p).expect("end");
    assert!(matches!(
        session::resume(&env.profiles, &t2),
        Err(CoreError::SessionExpired)
    ));
}

#[test]
fn cli_sessions_have_an_absolute_lifetime() {
    let env = env();
    let totp = enrolled(&env, "dr.m");
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("in");
    let token = session::start(&env.profiles, &mut u).expect("session");
    for _ in 0..(12 * 60 / 9) {
        env.clock.advance(9 * 60);
        if session::resume(&env.profiles, &token).is_err() {
            break;
        }
    }
    assert!(matches!(
        session::resume(&env.profiles, &token),
        Err(CoreError::SessionExpired)
    ));
}

#[test]
fn desktop_core_idle_lock_and_totp_reauth() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut core = Core::new(
        dir.path().to_owned(),
        Arc::new(MemoryKeychain::new()),
        Arc::new(clock.clone()),
        Policy::default(),
        KdfChoice::Fixed(KdfParams::DANGER_TEST_ONLY),
    );
    let e = core
        .create_profile(NewProfile {
            username: "dr.n".into(),
            display_name: "Dr N".into(),
            password: pw(PW),
        })
        .expect("create");
    assert_eq!(core.session_state(), SessionState::Locked);
    let totp = secret_of(&e);
    core.confirm_totp("dr.n", &pw(PW), &totp.code_at(T0 as u64))
        .expect("confirm");
    assert_eq!(
        core.session_state(),
        SessionState::Unlocked {
            username: "dr.n".into(),
            display_name: "Dr N".into()
        }
    );
    clock.advance(9 * 60);
    assert!(!core.tick());
    core.touch();
    clock.advance(9 * 60);
    assert!(!core.tick(), "activity postponed the lock");
    clock.advance(60);
    assert!(core.tick(), "idle for 10 minutes");
    assert_eq!(core.session_state(), SessionState::Locked);
    assert!(core.unlocked().is_err());
    // Within 12 h, the lock screen takes the password alone.
    core.sign_in("dr.n", &pw(PW), None).expect("password only");
    core.lock();
    // After 12 h, TOTP is needed again.
    clock.advance(12 * 3600);
    assert!(matches!(
        core.sign_in("dr.n", &pw(PW), None),
        Err(CoreError::SigninFailed)
    ));
    core.sign_in("dr.n", &pw(PW), Some(&totp.code_at(clock_now(&clock))))
        .expect("full sign-in");
    assert_eq!(core.profiles().expect("list")[0].username, "dr.n");
}

fn clock_now(c: &ManualClock) -> u64 {
    crate::clock::Clock::now(c).timestamp() as u64
}

#[test]
fn invites_are_signed_stored_regenerated_and_revoked() {
    use bedside_store::{NewAppointment, NewPatient};
    let env = env();
    let totp = enrolled(&env, "dr.inv");
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("in");
    let p = u
        .store()
        .add_patient(&NewPatient {
            name: "Invitee".into(),
            dob: chrono::NaiveDate::from_ymd_opt(1990, 1, 1),
            ..Default::default()
        })
        .expect("patient");
    let start = chrono::DateTime::from_timestamp(T0 + 3 * 3600, 0).expect("time");
    let a = u
        .store()
        .add_appointment(
            &NewAppointment {
                patient: p,
                start,
                tz: "Europe/London".into(),
                duration_min: 20,
                reason: None,
            },
            false,
        )
        .expect("appointment");
    // Origins: https anywhere, plain http only on loopback.
    for bad in [
        "http://relay.example.org",
        "ftp://x",
        "relay.example.org",
        "https://x.org/path",
    ] {
        assert!(
            invites::create(&env.profiles, &mut u, a, bad).is_err(),
            "{bad}"
        );
    }
    let first =
        invites::create(&env.profiles, &mut u, a, "https://relay.example.org").expect("invite");
    assert!(first.link.len() <= 200, "{} characters", first.link.len());
    assert_eq!(first.not_before, start.timestamp() - 15 * 60);
    assert_eq!(first.expires, start.timestamp() + 20 * 60 + 3600);
    // The token verifies with the clinic's public key, in its window only.
    let pk = data_encoding::BASE64URL_NOPAD
        .decode(
            invites::clinic_public_key(&env.profiles, &mut u)
                .expect("pk")
                .as_bytes(),
        )
        .expect("b64");
    let token = first
        .link
        .split("/j/")
        .nth(1)
        .and_then(|t| t.split('#').next())
        .expect("token");
    let claims = bedside_visit::invite::verify(token, [pk.as_slice()], first.not_before as u64)
        .expect("valid");
    assert_eq!(claims.max_devices, 1);
    assert!(!claims.knock_requires_dob, "off by default");
    assert!(
        bedside_visit::invite::verify(token, [pk.as_slice()], first.not_before as u64 - 1).is_err()
    );
    // The secret is in the fragment only, and it decrypts nothing else.
    let fragment = first.link.split('#').nth(1).expect("fragment");
    assert_eq!(fragment.len(), 43);
    assert!(!token.contains(fragment));
    // Regenerating withdraws the old link.
    let second = invites::create(&env.profiles, &mut u, a, "http://127.0.0.1:8443").expect("again");
    assert_ne!(first.token_id, second.token_id);
    assert_eq!(
        invites::current(&u, a)
            .expect("current")
            .map(|l| l.token_id),
        Some(second.token_id)
    );
    assert_eq!(
        invites::revoke(&mut u, a).expect("revoke"),
        vec![second.token_id]
    );
    assert!(invites::current(&u, a).expect("current").is_none());
    let actions: Vec<String> = u
        .store()
        .audit_export()
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "invite.create").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "invite.revoke").count(), 2);
    // The same key is reused (one per profile), kept in the keychain.
    let pk2 = invites::clinic_public_key(&env.profiles, &mut u).expect("pk");
    assert_eq!(
        data_encoding::BASE64URL_NOPAD
            .decode(pk2.as_bytes())
            .expect("b64"),
        pk
    );
    // Past appointments get no link.
    u.store().cancel(a).expect("cancel");
    assert!(invites::create(&env.profiles, &mut u, a, "https://relay.example.org").is_err());
}

/// A signed-in desktop core for the `desk` facade tests.
fn signed_in_core(dir: &std::path::Path, clock: &ManualClock) -> Core {
    let mut core = Core::new(
        dir.to_owned(),
        Arc::new(MemoryKeychain::new()),
        Arc::new(clock.clone()),
        Policy::default(),
        KdfChoice::Fixed(KdfParams::DANGER_TEST_ONLY),
    );
    let e = core
        .create_profile(NewProfile {
            username: "dr.d".into(),
            display_name: "Dr D".into(),
            password: pw(PW),
        })
        .expect("create");
    core.confirm_totp("dr.d", &pw(PW), &secret_of(&e).code_at(clock_now(clock)))
        .expect("confirm");
    core
}

/// At 23:50 the patient of a 00:05 visit can already knock (the link opens 15 minutes before):
/// the waiting room watches that visit, though it is tomorrow's; a visit tomorrow morning waits
/// for its day.
#[test]
fn the_waiting_room_watches_a_visit_just_past_midnight() {
    let dir = tempfile::tempdir().expect("tmp");
    // 2026-09-21T23:50:00Z.
    let clock = ManualClock::at(1_790_000_000 - 1_790_000_000 % 86_400 + 23 * 3600 + 50 * 60);
    let mut core = signed_in_core(dir.path(), &clock);
    let tz = "UTC";
    let tomorrow = chrono::DateTime::from_timestamp(clock_now(&clock) as i64 + 3600, 0)
        .expect("t")
        .date_naive();
    let p = core
        .create_patient(PatientInput {
            name: "Night Owl".into(),
            dob: "1970-01-01".into(),
            ..Default::default()
        })
        .expect("patient");
    let mut book_with_link = |time: &str| {
        let a = core
            .book(AppointmentInput {
                patient: p.id.0,
                local_start: format!("{tomorrow}T{time}"),
                tz: tz.into(),
                duration_min: 20,
                reason: None,
                force: false,
            })
            .expect("book");
        core.create_invite(a.appointment.id.0, "http://127.0.0.1:9")
            .expect("invite");
        a.appointment.id
    };
    let just_past_midnight = book_with_link("00:05");
    let morning = book_with_link("10:00");

    let watched: Vec<_> = core
        .watched_visits(tz)
        .expect("watch")
        .into_iter()
        .map(|w| w.appointment)
        .collect();
    assert_eq!(watched, [just_past_midnight]);

    // Past midnight both are today's.
    clock.advance(20 * 60);
    let mut watched: Vec<_> = core
        .watched_visits(tz)
        .expect("watch")
        .into_iter()
        .map(|w| w.appointment)
        .collect();
    watched.sort_by_key(|a| a.0);
    assert_eq!(watched, [just_past_midnight, morning]);
}

#[test]
fn desk_patients_schedule_notes_invites_audit_settings() {
    let dir = tempfile::tempdir().expect("tmp");
    // 2026-09-21T12:00:00Z, a Monday.
    let clock = ManualClock::at(1_790_000_000 - 1_790_000_000 % 86_400 + 12 * 3600);
    let mut core = signed_in_core(dir.path(), &clock);
    let today = chrono::DateTime::from_timestamp(clock_now(&clock) as i64, 0)
        .expect("t")
        .date_naive();
    let tz = "Europe/London";

    // Patients: create, search, view (audited), update.
    let p = core
        .create_patient(PatientInput {
            name: " Ada Lovelace ".into(),
            dob: "1980-12-10".into(),
            phone: Some("  ".into()),
            ..Default::default()
        })
        .expect("patient");
    assert_eq!(
        (p.name.as_str(), p.phone.as_deref()),
        ("Ada Lovelace", None)
    );
    assert_eq!(core.search_patients("love").expect("search").len(), 1);
    assert!(core.search_patients("zzz").expect("search").is_empty());
    let bad_dob = core.create_patient(PatientInput {
        name: "X".into(),
        dob: "10/12/1980".into(),
        ..Default::default()
    });
    assert_eq!(
        bad_dob.map(|_| ()).expect_err("bad date").code(),
        "invalid_input"
    );
    core.view_patient(p.id.0).expect("view");
    let edited = core
        .update_patient(
            p.id.0,
            PatientInput {
                name: "Ada King".into(),
                dob: "1980-12-10".into(),
                email: Some("ada@example.org".into()),
                ..Default::default()
            },
        )
        .expect("update");
    assert_eq!(edited.email.as_deref(), Some("ada@example.org"));

    // Schedule: book at 14:00 London (BST, UTC+1), overlap refused unless forced.
    let local = format!("{today}T14:00");
    let booking = |force| AppointmentInput {
        patient: p.id.0,
        local_start: local.clone(),
        tz: tz.into(),
        duration_min: 30,
        reason: Some("follow-up".into()),
        force,
    };
    let a = core.book(booking(false)).expect("book");
    assert_eq!(a.appointment.start.format("%H:%M").to_string(), "13:00");
    assert!(
        a.local_start.contains("T14:00:00+01:00"),
        "{}",
        a.local_start
    );
    let clash = core.book(booking(false)).map(|_| ()).expect_err("overlap");
    assert_eq!(clash.code(), "overlap");
    let forced = core.book(booking(true)).expect("forced double booking");
    assert_eq!(
        core.appointments_day(&today.to_string(), tz)
            .expect("day")
            .len(),
        2
    );
    assert_eq!(
        core.appointments_week(&today.to_string(), tz)
            .expect("week")
            .len(),
        2
    );
    core.set_status(forced.appointment.id.0, "cancelled")
        .expect("cancel");
    assert_eq!(
        core.set_status(forced.appointment.id.0, "no_show")
            .expect_err("terminal")
            .code(),
        "bad_transition"
    );
    assert_eq!(
        core.set_status(a.appointment.id.0, "nonsense")
            .expect_err("bad")
            .code(),
        "invalid_input"
    );
    // A visit: the call moves it to in_progress, ending it to finished; both audited.
    let visit = core
        .book(AppointmentInput {
            local_start: format!("{today}T17:00"),
            ..booking(false)
        })
        .expect("visit");
    let vid = visit.appointment.id.0;
    core.start_visit(vid).expect("start");
    core.start_visit(vid)
        .expect("an ICE restart's second answer is fine");
    core.end_visit(vid).expect("end");
    core.end_visit(vid).expect("ending twice is harmless");
    assert_eq!(
        core.appointment(vid, tz).expect("view").appointment.status,
        bedside_store::AppointmentStatus::Finished
    );
    assert_eq!(
        core.end_visit(forced.appointment.id.0)
            .expect_err("a cancelled visit does not finish")
            .code(),
        "bad_transition"
    );
    let actions: Vec<String> = core
        .audit_events(&AuditFilter {
            action: Some("visit.".into()),
            limit: None,
        })
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "visit.end",
            "visit.end",
            "visit.call_start",
            "visit.call_start"
        ]
    );
    let moved = core
        .reschedule(
            a.appointment.id.0,
            &format!("{today}T15:30"),
            tz,
            Some(45),
            false,
        )
        .expect("reschedule");
    assert_eq!(moved.appointment.duration_min, 45);
    assert!(moved.local_start.contains("T15:30:00+01:00"));
    // A wall-clock time inside the spring-forward gap does not exist.
    assert_eq!(
        core.reschedule(a.appointment.id.0, "2027-03-28T01:30", tz, None, false)
            .expect_err("gap")
            .code(),
        "invalid_input"
    );

    // The visit reason can be edited after booking; audited without text.
    let edited = core
        .set_reason(a.appointment.id.0, Some("itchy rash, left arm"), tz)
        .expect("reason");
    assert_eq!(
        edited.appointment.reason.as_deref(),
        Some("itchy rash, left arm")
    );
    assert!(
        edited.local_start.contains("T15:30:00+01:00"),
        "shown in tz"
    );
    let cleared = core
        .set_reason(a.appointment.id.0, None, tz)
        .expect("clear");
    assert_eq!(cleared.appointment.reason, None);
    assert_eq!(
        core.set_reason(a.appointment.id.0, Some("x"), "Mars/Base")
            .expect_err("bad tz")
            .code(),
        "invalid_input"
    );
    assert_eq!(
        core.set_reason(404_404, Some("x"), tz)
            .expect_err("unknown")
            .code(),
        "not_found"
    );
    let reason_events = core
        .audit_events(&AuditFilter {
            action: Some("appointment.reason".into()),
            limit: None,
        })
        .expect("audit");
    assert_eq!(reason_events.len(), 2);
    assert!(
        reason_events
            .iter()
            .all(|e| !e.subject.to_string().contains("rash")),
        "no reason text in the audit"
    );

    // Notes: every save is a new version.
    assert!(core.note(a.appointment.id.0).expect("none").is_none());
    assert_eq!(core.save_note(a.appointment.id.0, "first").expect("v1"), 1);
    assert_eq!(core.save_note(a.appointment.id.0, "second").expect("v2"), 2);
    assert_eq!(
        core.note(a.appointment.id.0)
            .expect("n")
            .expect("some")
            .text,
        "second"
    );

    // Invites: the embedded relay is the fallback; a setting wins.
    let origin = core
        .relay_for_invites(Some("http://127.0.0.1:9"))
        .expect("relay");
    assert_eq!(origin, "http://127.0.0.1:9");
    let (link, replaced) = core
        .create_invite(a.appointment.id.0, &origin)
        .expect("invite");
    assert!(replaced.is_empty());
    assert!(link.link.starts_with("http://127.0.0.1:9/j/"));
    let (again, replaced) = core
        .create_invite(a.appointment.id.0, &origin)
        .expect("regenerate");
    assert_eq!(replaced.len(), 1);
    assert_ne!(again.link, link.link);
    assert_eq!(
        core.show_invite(a.appointment.id.0)
            .expect("show")
            .expect("some")
            .link,
        again.link
    );
    let watched = core.watched_visits(tz).expect("today");
    assert_eq!(watched.len(), 1);
    assert_eq!(watched[0].appointment, a.appointment.id);
    assert_eq!(
        core.revoke_invite(a.appointment.id.0)
            .expect("revoke")
            .len(),
        1
    );
    assert!(
        core.show_invite(a.appointment.id.0)
            .expect("show")
            .is_none()
    );
    assert!(core.watched_visits(tz).expect("today").is_empty());

    // Audit: filtered newest first, ids only, and the chain verifies.
    let views = core
        .audit_events(&AuditFilter {
            action: Some("patient.".into()),
            limit: None,
        })
        .expect("audit");
    let actions: Vec<_> = views.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["patient.update", "patient.view", "patient.create"]
    );
    let all = core.audit_events(&AuditFilter::default()).expect("all");
    let text = serde_json::to_string(&all).expect("json");
    for phi in ["Ada", "Lovelace", "1980-12-10", "follow-up", "second"] {
        assert!(!text.contains(phi), "audit carries {phi}");
    }
    assert!(matches!(
        core.audit_verify().expect("verify"),
        bedside_store::AuditVerdict::Ok { .. }
    ));

    // Settings: relay checked, idle lock capped by policy and applied at once.
    let s = core.settings().expect("settings");
    assert_eq!(
        (
            s.relay_url.as_deref(),
            s.idle_lock_minutes,
            s.idle_lock_max_minutes
        ),
        (None, 10, 10)
    );
    let bad = Settings {
        relay_url: Some("http://relay.example.org".into()),
        ..s.clone()
    };
    assert_eq!(
        core.save_settings(&bad).expect_err("http").code(),
        "invalid_input"
    );
    let long = Settings {
        idle_lock_minutes: 11,
        ..s.clone()
    };
    assert_eq!(
        core.save_settings(&long).expect_err("cap").code(),
        "invalid_input"
    );
    let saved = core
        .save_settings(&Settings {
            relay_url: Some("https://relay.example.org/".into()),
            idle_lock_minutes: 2,
            idle_lock_max_minutes: 0,
            devices: SavedDevices::default(),
        })
        .expect("save");
    assert_eq!(
        saved.relay_url.as_deref(),
        Some("https://relay.example.org")
    );
    assert_eq!(
        core.relay_for_invites(Some("http://127.0.0.1:9"))
            .expect("r"),
        "https://relay.example.org"
    );
    clock.advance(119);
    assert!(!core.tick());
    clock.advance(1);
    assert!(core.tick(), "the 2-minute idle lock applies at once");
    assert_eq!(
        core.list_patients().expect_err("locked").code(),
        "not_signed_in"
    );
}

/// Policy `KnockRequiresDateOfBirth` reaches the patient page through the
/// signed token: the page reads the flag from the token it was given.
#[test]
fn the_date_of_birth_policy_is_signed_into_the_invite() {
    use bedside_store::{NewAppointment, NewPatient};
    let env = env_with(Policy {
        knock_requires_dob: true,
        ..Policy::default()
    });
    let totp = enrolled(&env, "dr.dob");
    let mut u = env
        .profiles
        .sign_in(None, &pw(PW), Some(&totp.code_at(now(&env))), false)
        .expect("in");
    let p = u
        .store()
        .add_patient(&NewPatient {
            name: "Dob Patient".into(),
            dob: chrono::NaiveDate::from_ymd_opt(1980, 2, 3),
            ..Default::default()
        })
        .expect("patient");
    let start = chrono::DateTime::from_timestamp(T0 + 3 * 3600, 0).expect("time");
    let a = u
        .store()
        .add_appointment(
            &NewAppointment {
                patient: p,
                start,
                tz: "Europe/London".into(),
                duration_min: 20,
                reason: None,
            },
            false,
        )
        .expect("appointment");
    let link =
        invites::create(&env.profiles, &mut u, a, "https://relay.example.org").expect("invite");
    assert!(link.link.len() <= 200, "{} characters", link.link.len());
    let token = link
        .link
        .split("/j/")
        .nth(1)
        .and_then(|t| t.split('#').next())
        .expect("token");
    let claims = bedside_visit::invite::peek(token).expect("token");
    assert!(claims.knock_requires_dob);
}

/// The device choice lives in the profile's encrypted settings: saved per kind, read
/// back after a lock and a new sign-in, left alone by the relay/idle form, cleared back
/// to the default; bad ids are refused and a damaged stored value reads as no choice.
#[test]
fn device_choices_round_trip_through_the_encrypted_settings() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut core = signed_in_core(dir.path(), &clock);
    assert_eq!(
        core.settings().expect("settings").devices,
        SavedDevices::default()
    );
    let mic = SavedDevice::new("alsa_input.usb-Headset-00.mono", "USB Headset\n").expect("ok");
    assert_eq!(mic.name, "USB Headset", "control characters are dropped");
    let cam = SavedDevice::new("v4l:/dev/video2", "").expect("ok");
    assert_eq!(cam.name, "v4l:/dev/video2", "a blank name becomes the id");
    core.save_device(DeviceSlot::Microphone, Some(mic.clone()))
        .expect("save mic");
    let all = core
        .save_device(DeviceSlot::Camera, Some(cam.clone()))
        .expect("save cam");
    assert_eq!(
        all,
        SavedDevices {
            microphone: Some(mic.clone()),
            speaker: None,
            camera: Some(cam.clone()),
        }
    );
    // The relay/idle form does not touch the devices, whatever it sends.
    let s = core.settings().expect("settings");
    core.save_settings(&Settings {
        devices: SavedDevices::default(),
        ..s
    })
    .expect("save settings");
    assert_eq!(core.settings().expect("settings").devices, all);
    // Refused: an empty, over-long or control-character id; nothing changes.
    for bad in [
        String::new(),
        "x".repeat(crate::desk::MAX_DEVICE_ID + 1),
        "a\nb".into(),
    ] {
        let e = core
            .save_device(
                DeviceSlot::Speaker,
                Some(SavedDevice {
                    id: bad,
                    name: "n".into(),
                }),
            )
            .expect_err("bad id");
        assert_eq!(e.code(), "invalid_input");
    }
    assert_eq!(core.saved_devices().expect("devices"), all);
    // Audited by key only.
    let audit = serde_json::to_string(
        &core
            .audit_events(&AuditFilter {
                action: Some("setting.".into()),
                limit: None,
            })
            .expect("audit"),
    )
    .expect("json");
    assert!(audit.contains("device.microphone") && !audit.contains("USB Headset"));

    // Locked: nothing to read; after unlocking, the same choice, from the database.
    core.lock();
    assert_eq!(
        core.saved_devices().expect_err("locked").code(),
        "not_signed_in"
    );
    core.sign_in("dr.d", &pw(PW), None).expect("unlock");
    assert_eq!(core.settings().expect("settings").devices, all);

    // Back to the default for one kind.
    let all = core
        .save_device(DeviceSlot::Microphone, None)
        .expect("clear");
    assert_eq!(all.microphone, None);
    assert_eq!(all.camera, Some(cam));
    // A damaged stored value (not JSON, or a bad id inside) is no choice, not an error.
    let u = core.unlocked().expect("unlocked");
    u.store()
        .set_setting("device.speaker", "{not json")
        .expect("raw");
    u.store()
        .set_setting("device.camera", r#"{"id":"","name":"x"}"#)
        .expect("raw");
    let read = core.saved_devices().expect("devices");
    assert_eq!((read.speaker, read.camera), (None, None));
}
