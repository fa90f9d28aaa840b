//! One test per policy that changes behaviour today: each sets the policy the
//! way an admin would (a managed layer, merged by `bedside-policy`) and shows
//! the core behaving differently. Policies whose feature is not built yet are
//! listed in docs/admin.md ("takes effect with ...").

use std::sync::Arc;

use bedside_vault::{EscrowPrivateKey, KdfParams, MemoryKeychain, Password, Totp, TotpSecret};
use serde_json::json;

use crate::clock::ManualClock;
use crate::*;

const T0: i64 = 1_790_000_000;
const PW: &str = "correct horse battery";

/// The policy an admin's managed file with `v` gives.
fn managed(v: serde_json::Value) -> Policy {
    let layer = bedside_policy::Layer {
        source: bedside_policy::Source::Platform {
            location: "/etc/bedside/policies/managed/10-test.json".into(),
        },
        level: bedside_policy::Level::Mandatory,
        values: v.as_object().cloned().unwrap_or_default(),
    };
    let e = bedside_policy::merge(&serde_json::Map::new(), &[layer]);
    assert!(e.problems.is_empty(), "{:?}", e.problems);
    Policy::from_effective(&e)
}

fn core(dir: &std::path::Path, clock: &ManualClock, policy: Policy) -> Core {
    Core::new(
        dir.to_owned(),
        Arc::new(MemoryKeychain::new()),
        Arc::new(clock.clone()),
        policy,
        KdfChoice::Fixed(KdfParams::DANGER_TEST_ONLY),
    )
}

fn new_profile(user: &str) -> NewProfile {
    NewProfile {
        username: user.into(),
        display_name: "Dr Policy".into(),
        password: Password::new(PW),
    }
}

fn totp_of(e: &TotpEnrolment) -> Totp {
    Totp::new(TotpSecret::from_bytes(
        data_encoding::BASE32_NOPAD
            .decode(e.secret_base32.as_bytes())
            .expect("b32"),
    ))
}

/// A signed-in core under `policy`.
fn signed_in(dir: &std::path::Path, clock: &ManualClock, policy: Policy) -> Core {
    let mut c = core(dir, clock, policy);
    let e = c.create_profile(new_profile("dr.pol")).expect("create");
    c.confirm_totp(
        "dr.pol",
        &Password::new(PW),
        &totp_of(&e).code_at(T0 as u64),
    )
    .expect("confirm");
    c
}

#[test]
fn idle_lock_minutes_sets_when_the_app_locks_and_a_change_applies_live() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = signed_in(dir.path(), &clock, managed(json!({ "IdleLockMinutes": 2 })));
    clock.advance(119);
    assert!(!c.tick());
    clock.advance(1);
    assert!(c.tick(), "locked after 2 minutes, not the default 10");

    // Live: a running, signed-in core gets a shorter period from a new policy.
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = signed_in(dir.path(), &clock, Policy::default());
    clock.advance(4 * 60);
    assert!(!c.tick(), "the default 10 minutes have not passed");
    c.set_policy(managed(json!({ "IdleLockMinutes": 3 })));
    assert!(c.tick(), "4 idle minutes are past the new 3-minute period");
    assert_eq!(c.session_state(), SessionState::Locked);
}

#[test]
fn totp_required_decides_whether_an_unenrolled_profile_may_sign_in() {
    for (required, allowed) in [(true, false), (false, true)] {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = ManualClock::at(T0);
        let mut c = core(
            dir.path(),
            &clock,
            managed(json!({ "TotpRequired": required })),
        );
        c.create_profile(new_profile("dr.nototp")).expect("create");
        let r = c.sign_in("dr.nototp", &Password::new(PW), None);
        assert_eq!(r.is_ok(), allowed, "TotpRequired={required}: {r:?}");
        if !allowed {
            assert!(matches!(r, Err(CoreError::TotpNotEnrolled)), "{r:?}");
        }
    }
}

#[test]
fn password_min_length_refuses_shorter_passwords_at_creation() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = core(
        dir.path(),
        &clock,
        managed(json!({ "PasswordMinLength": 24 })),
    );
    assert_eq!(c.min_password_length(), 24);
    let r = c.create_profile(new_profile("dr.short")); // 21 characters
    assert!(
        matches!(r, Err(CoreError::WeakPassword { min: 24 })),
        "{r:?}"
    );
    c.set_policy(managed(json!({ "PasswordMinLength": 20 })));
    c.create_profile(new_profile("dr.short"))
        .expect("accepted under the looser policy");
}

/// A signed-in core with one appointment three hours ahead; returns its id.
fn with_appointment(c: &mut Core) -> bedside_store::AppointmentId {
    use bedside_store::{NewAppointment, NewPatient};
    let u = c.unlocked().expect("signed in");
    let p = u
        .store()
        .add_patient(&NewPatient {
            name: "Policy Patient".into(),
            dob: chrono::NaiveDate::from_ymd_opt(1980, 2, 3),
            ..Default::default()
        })
        .expect("patient");
    let start = chrono::DateTime::from_timestamp(T0 + 3 * 3600, 0).expect("time");
    u.store()
        .add_appointment(
            &NewAppointment {
                patient: p,
                start,
                tz: "UTC".into(),
                duration_min: 60,
                reason: None,
            },
            false,
        )
        .expect("appointment")
}

#[test]
fn invite_max_lifetime_and_max_devices_shape_the_signed_token() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = signed_in(
        dir.path(),
        &clock,
        managed(json!({ "InviteMaxLifetimeHours": 1, "InviteMaxDevices": 3 })),
    );
    let a = with_appointment(&mut c);
    let profiles = c.profiles_layer().clone();
    let u = c.unlocked().expect("signed in");
    let link = invites::create(&profiles, u, a, "https://relay.example.org").expect("invite");
    // Default: open 15 min before, close an hour after the end (2 h 15 min).
    // Policy: never more than one hour after opening.
    assert_eq!(link.expires - link.not_before, 3600);
    let token = link
        .link
        .split("/j/")
        .nth(1)
        .and_then(|t| t.split('#').next())
        .expect("token");
    let pk = data_encoding::BASE64URL_NOPAD
        .decode(
            invites::clinic_public_key(&profiles, u)
                .expect("pk")
                .as_bytes(),
        )
        .expect("b64");
    let claims = bedside_visit::invite::verify(token, [pk.as_slice()], link.not_before as u64)
        .expect("valid");
    assert_eq!(claims.max_devices, 3);
}

#[test]
fn allowed_relay_origins_limits_where_invites_may_point() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = signed_in(
        dir.path(),
        &clock,
        managed(json!({ "AllowedRelayOrigins": ["https://relay.clinic.example"] })),
    );
    let a = with_appointment(&mut c);
    let profiles = c.profiles_layer().clone();
    let u = c.unlocked().expect("signed in");
    let refused = invites::create(&profiles, u, a, "https://relay.attacker.example");
    assert!(
        matches!(&refused, Err(CoreError::Invalid { field: "relay", .. })),
        "{refused:?}"
    );
    invites::create(&profiles, u, a, "https://relay.clinic.example/").expect("the allowed relay");
    // Without the policy any https relay is fine.
    let mut profiles = profiles;
    profiles.set_policy(Policy::default());
    invites::create(&profiles, u, a, "https://relay.attacker.example").expect("no list, no limit");
}

#[test]
fn minimum_version_makes_an_outdated_app_refuse_to_start_visits() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = signed_in(
        dir.path(),
        &clock,
        managed(json!({ "MinimumVersion": "99.0.0" })),
    );
    let a = with_appointment(&mut c);
    let mut profiles = c.profiles_layer().clone();
    let u = c.unlocked().expect("signed in");
    let refused = invites::create(&profiles, u, a, "https://relay.example.org");
    let e = refused.expect_err("too old");
    assert_eq!(e.code(), "update_required");
    assert!(e.to_string().starts_with("Update required"), "{e}");
    // This very version (and anything below it) is fine.
    profiles.set_policy(managed(
        json!({ "MinimumVersion": env!("CARGO_PKG_VERSION") }),
    ));
    invites::create(&profiles, u, a, "https://relay.example.org").expect("up to date");
    let p = managed(json!({ "MinimumVersion": "1.10.0" }));
    assert!(
        p.check_version("1.9.7").is_err(),
        "compared as numbers, not text"
    );
    assert!(p.check_version("1.10.0").is_ok() && p.check_version("2.0.0-beta.1").is_ok());
}

#[test]
fn escrow_public_key_seals_every_new_profile_for_recovery() {
    let (sk, pk) = EscrowPrivateKey::generate().expect("keygen");
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let mut c = core(
        dir.path(),
        &clock,
        managed(json!({ "EscrowPublicKey": pk.encode() })),
    );
    c.create_profile(new_profile("dr.esc")).expect("create");
    let new = Password::new("recovered with the org key");
    c.profiles_layer()
        .recover(Some("dr.esc"), &sk, &new)
        .expect("the escrow key opens the database key");

    // Without the policy, there is no escrow box to recover from.
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = core(dir.path(), &clock, Policy::default());
    c.create_profile(new_profile("dr.noesc")).expect("create");
    assert!(
        c.profiles_layer()
            .recover(Some("dr.noesc"), &sk, &new)
            .is_err()
    );
}

#[test]
fn a_signed_bundle_from_the_platform_reaches_a_running_core() {
    use ring::signature::KeyPair;
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
        .expect("keygen");
    let key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
    let root = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(root.path().join("managed")).expect("mkdir");
    std::fs::create_dir_all(root.path().join("keys")).expect("mkdir");
    std::fs::write(
        root.path().join("keys/org.pub"),
        data_encoding::BASE64URL_NOPAD.encode(key.public_key().as_ref()),
    )
    .expect("write");
    let bundle = |version, minutes: u32| {
        bedside_policy::bundle::sign(
            &key,
            version,
            json!({ "IdleLockMinutes": minutes })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    };
    std::fs::write(root.path().join("managed/org.bundle.json"), bundle(3, 2)).expect("write");
    let loaded = Policy::load_from(root.path(), Some(data.path()));
    assert_eq!(loaded.policy.idle_lock_minutes, 2);
    assert!(data.path().join(REMEMBERED_BUNDLE_FILE).is_file());
    // A later read with an older bundle in place: refused, version 3 stays.
    std::fs::write(root.path().join("managed/org.bundle.json"), bundle(2, 60)).expect("write");
    let again = Policy::load_from(root.path(), Some(data.path()));
    assert_eq!(again.policy.idle_lock_minutes, 2);
    assert_eq!(again.bundle.refused.len(), 1);
    assert!(
        again.differs_from(&loaded),
        "the refusal is news for the Policy page"
    );

    let clock = ManualClock::at(T0);
    let mut c = signed_in(data.path(), &clock, Policy::default());
    c.set_policy(again.policy);
    clock.advance(120);
    assert!(c.tick(), "the bundle's 2 minutes apply to the running core");
}

#[test]
fn data_retention_days_purges_visits_that_are_over_at_sign_in() {
    /// A finished visit `days_ago` with a note; returns its id.
    fn finished_visit(c: &mut Core, patient: i64, days_ago: i64) -> i64 {
        let start = chrono::DateTime::from_timestamp(T0 - days_ago * 86_400, 0).expect("time");
        let a = c
            .book(AppointmentInput {
                patient,
                local_start: start.format("%Y-%m-%dT%H:%M").to_string(),
                tz: "UTC".into(),
                duration_min: 20,
                reason: None,
                force: true,
            })
            .expect("book");
        let id = a.appointment.id.0;
        c.set_status(id, "in_progress").expect("start");
        c.set_status(id, "finished").expect("finish");
        c.save_note(id, "seen").expect("note");
        id
    }

    let run = |policy: Policy| {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = ManualClock::at(T0);
        let mut c = signed_in(dir.path(), &clock, policy);
        let p = c
            .create_patient(PatientInput {
                name: "Retained Patient".into(),
                dob: "1970-01-01".into(),
                phone: None,
                email: None,
                mrn: None,
            })
            .expect("patient");
        let old = finished_visit(&mut c, p.id.0, 40);
        let recent = finished_visit(&mut c, p.id.0, 10);
        // The purge runs at sign-in: lock, then unlock (within the TOTP re-auth period).
        c.lock();
        c.sign_in("dr.pol", &Password::new(PW), None)
            .expect("unlock");
        let kept = |c: &mut Core, id: i64| c.appointment(id, "UTC").is_ok();
        let result = (kept(&mut c, old), kept(&mut c, recent));
        assert!(c.note(recent).expect("note").is_some());
        assert!(c.view_patient(p.id.0).is_ok(), "patients are not purged");
        result
    };

    assert_eq!(
        run(managed(json!({ "DataRetentionDays": 30 }))),
        (false, true),
        "30 days: the 40-day-old visit goes, the 10-day-old one stays"
    );
    assert_eq!(
        run(Policy::default()),
        (true, true),
        "the default (3650 days) keeps both"
    );
}

#[test]
fn audit_checkpoint_interval_sets_how_often_the_head_is_written_outside_the_database() {
    /// Lines in the checkpoint file after a change, 4 and 5 minutes later.
    fn lines_after(policy: Policy) -> (usize, usize, usize, Core, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = ManualClock::at(T0);
        let mut c = signed_in(dir.path(), &clock, policy);
        let count = |c: &mut Core| {
            let path = c
                .unlocked()
                .expect("signed in")
                .store_ref()
                .audit_checkpoint_path();
            std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
        };
        let at_sign_in = count(&mut c);
        c.create_patient(PatientInput {
            name: "Audited Patient".into(),
            dob: "1970-01-01".into(),
            phone: None,
            email: None,
            mrn: None,
        })
        .expect("patient");
        clock.advance(4 * 60);
        c.touch();
        c.tick();
        let after_4 = count(&mut c);
        clock.advance(60);
        c.touch();
        c.tick();
        let after_5 = count(&mut c);
        assert!(at_sign_in >= 1, "a checkpoint at sign-in");
        (at_sign_in, after_4, after_5, c, dir)
    }

    let (start, four, five, mut c, _dir) =
        lines_after(managed(json!({ "AuditCheckpointIntervalMinutes": 5 })));
    assert_eq!((four, five), (start, start + 1), "every 5 minutes");
    let (start, four, five, _, _d) = lines_after(Policy::default());
    assert_eq!((four, five), (start, start), "the default waits 60 minutes");

    // What the checkpoints are for: events removed from the end of the log
    // leave a valid chain, but not a valid checkpoint.
    let head = c.audit_events(&AuditFilter::default()).expect("events")[0].seq;
    c.unlocked()
        .expect("signed in")
        .store()
        .danger_execute_raw(&format!(
            "DELETE FROM audit_events WHERE seq >= {}",
            head - 1
        ))
        .expect("truncate");
    assert!(matches!(
        c.audit_verify().expect("verify"),
        bedside_store::AuditVerdict::CheckpointMismatch { .. }
    ));
}

#[test]
fn relay_url_points_new_invites_at_the_policy_relay_and_a_change_applies_without_restart() {
    const EMBEDDED: &str = "http://127.0.0.1:9";
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::at(T0);
    let relay_a = "https://relay-a.clinic.example";
    let relay_b = "https://relay-b.clinic.example";
    let mut c = signed_in(dir.path(), &clock, managed(json!({ "RelayUrl": relay_a })));
    // The user's own relay setting and the embedded relay give way to policy.
    let mut s = c.settings().expect("settings");
    s.relay_url = Some("https://relay-mine.example".into());
    c.save_settings(&s).expect("saved");
    assert_eq!(c.relay_for_invites(Some(EMBEDDED)).expect("relay"), relay_a);
    let first = with_appointment(&mut c);
    let origin = c.relay_for_invites(Some(EMBEDDED)).expect("relay");
    let (link, _) = c.create_invite(first.0, &origin).expect("invite");
    assert!(
        link.link.starts_with(&format!("{relay_a}/j/")),
        "{}",
        link.link
    );

    // The watcher swaps in a new RelayUrl: the next invite uses it, no restart.
    c.set_policy(managed(json!({ "RelayUrl": relay_b })));
    let second = {
        use bedside_store::NewAppointment;
        let u = c.unlocked().expect("signed in");
        let p = u.store_ref().list_patients().expect("patients")[0].id;
        u.store()
            .add_appointment(
                &NewAppointment {
                    patient: p,
                    start: chrono::DateTime::from_timestamp(T0 + 5 * 3600, 0).expect("time"),
                    tz: "UTC".into(),
                    duration_min: 30,
                    reason: None,
                },
                false,
            )
            .expect("appointment")
    };
    let origin = c.relay_for_invites(Some(EMBEDDED)).expect("relay");
    assert_eq!(origin, relay_b);
    let (link, _) = c.create_invite(second.0, &origin).expect("invite");
    assert!(
        link.link.starts_with(&format!("{relay_b}/j/")),
        "{}",
        link.link
    );

    // The waiting room watches each visit on the relay its link names: the earlier invite
    // stays on relay A (the patient holds that link), the new one is on relay B.
    let watched: Vec<(i64, String)> = c
        .watched_visits("UTC")
        .expect("visits")
        .into_iter()
        .map(|v| (v.appointment.0, v.invite.relay_origin.clone()))
        .collect();
    assert_eq!(
        watched,
        vec![
            (first.0, relay_a.to_owned()),
            (second.0, relay_b.to_owned())
        ]
    );
    // Regenerating the first link moves it to relay B.
    let (moved, replaced) = c.create_invite(first.0, &origin).expect("regenerate");
    assert!(moved.link.starts_with(relay_b));
    assert_eq!(
        replaced[0].relay_origin, relay_a,
        "the old link is revoked on its relay"
    );

    // Policy no longer names a relay: the user's setting, then the embedded relay.
    c.set_policy(managed(json!({})));
    assert_eq!(
        c.relay_for_invites(Some(EMBEDDED)).expect("relay"),
        "https://relay-mine.example"
    );
    s.relay_url = None;
    c.save_settings(&s).expect("saved");
    assert_eq!(
        c.relay_for_invites(Some(EMBEDDED)).expect("relay"),
        EMBEDDED
    );
}
