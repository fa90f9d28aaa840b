//! No PHI in logs: a tracing layer sees every event and span field while a
//! workload full of marker strings runs through the core; none may appear.
//! (The same idea as str0m's `tests/pii.rs`.)

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use bedside_core::clock::SystemClock;
use bedside_core::{KdfChoice, NewProfile, Policy, Profiles};
use bedside_store::time::parse_date;
use bedside_store::{NewAppointment, NewPatient, PatientUpdate};
use bedside_vault::{KdfParams, MemoryKeychain, Password, Totp, TotpSecret};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

const MARKERS: &[&str] = &[
    "PHIMARK-NAME",
    "PHIMARK-NOTE",
    "PHIMARK-REASON",
    "PHIMARK-MAIL",
    "1944-04-04",
    "PHIMARK-PW",
];

#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<String>>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>>
    tracing_subscriber::Layer<S> for Collected
{
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut s = String::from(event.metadata().target());
        event.record(&mut Text(&mut s));
        self.0.lock().expect("lock").push(s);
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut s = String::from(attrs.metadata().name());
        attrs.record(&mut Text(&mut s));
        self.0.lock().expect("lock").push(s);
    }
}

#[test]
fn workload_logs_carry_no_phi() {
    // A CPU-heavy store workload: not while a browser test measures frame rates.
    let _slot = crate::patient::BROWSER.blocking_lock();
    let collected = Collected::default();
    let subscriber = tracing_subscriber::registry()
        .with(collected.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(subscriber, workload);
    let lines = collected.0.lock().expect("lock").clone();
    assert!(lines.len() >= 8, "the workload logs something: {lines:?}");
    for line in &lines {
        for m in MARKERS {
            assert!(!line.contains(m), "PHI marker {m:?} in a log line: {line}");
        }
    }
}

/// The filter the desktop app and bedsidectl install: at any level `BEDSIDE_LOG` may give, the
/// WebRTC stack's lines (which carry the patient's ICE candidates, i.e. IP addresses) stay out;
/// Bedside's own lines, the embedded relay's included, come through.
#[test]
fn a_log_level_never_lets_dependencies_log_addresses() {
    use bedside_core::logging::log_directive;
    for setting in [None, Some("info"), Some("debug"), Some("trace")] {
        let collected = Collected::default();
        let filter = tracing_subscriber::EnvFilter::try_new(log_directive(setting, "info"))
            .expect("a valid directive");
        let subscriber = tracing_subscriber::registry()
            .with(collected.clone())
            .with(filter);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                target: "rtc_ice::agent",
                "Ignoring remote candidate with tcpType active: tcp4 host 198.51.100.7:9"
            );
            tracing::warn!(target: "rtc_dtls::handshake", "from 198.51.100.7:50000");
            tracing::debug!(target: "webrtc::peer_connection", "198.51.100.7");
            tracing::info!(target: "bedside_media::peer", "ours: state");
            tracing::info!(target: "bedside_relay", "ours: relay");
            tracing::error!(target: "rtc_srtp", "a dependency's error");
        });
        let lines = collected.0.lock().expect("lock").clone();
        assert!(
            lines.iter().all(|l| !l.contains("198.51.100.7")),
            "{setting:?}: a dependency logged an address: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("bedside_media::peer")),
            "{setting:?}: Bedside's own line was dropped: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("bedside_relay")),
            "{setting:?}: the relay's line was dropped: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("rtc_srtp")),
            "{setting:?}: a dependency's error was dropped: {lines:?}"
        );
    }
}

fn workload() {
    let dir = tempfile::tempdir().expect("tmp");
    let profiles = Profiles::new(
        dir.path(),
        Arc::new(MemoryKeychain::new()),
        Arc::new(SystemClock),
        Policy::default(),
        KdfChoice::Fixed(KdfParams::DANGER_TEST_ONLY),
    );
    let pw = Password::new("PHIMARK-PW long enough");
    let e = profiles
        .create(
            &NewProfile {
                username: "dr.log".into(),
                display_name: "Dr Log".into(),
                password: pw.clone(),
            },
            None,
        )
        .expect("create");
    let secret = data_encoding::BASE32_NOPAD
        .decode(e.secret_base32.as_bytes())
        .expect("b32");
    let totp = Totp::new(TotpSecret::from_bytes(secret));
    let now = chrono::Utc::now().timestamp() as u64;
    let mut u = profiles
        .confirm_totp(None, &pw, &totp.code_at(now - 30))
        .expect("confirm");
    // Failures log too; they must not log what was typed.
    let _ = profiles.sign_in(
        None,
        &Password::new("PHIMARK-PW wrong guess"),
        Some("000000"),
        false,
    );
    let s = u.store();
    let dob = parse_date("dob", "1944-04-04").expect("date");
    let p = s
        .add_patient(&NewPatient {
            name: "PHIMARK-NAME Ada".into(),
            dob: Some(dob),
            email: Some("PHIMARK-MAIL@example.org".into()),
            ..Default::default()
        })
        .expect("add");
    s.update_patient(
        p,
        &PatientUpdate {
            name: Some("PHIMARK-NAME Ada B".into()),
            ..Default::default()
        },
    )
    .expect("update");
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let a = s
        .add_appointment(
            &NewAppointment {
                patient: p,
                start,
                tz: "Europe/Paris".into(),
                duration_min: 20,
                reason: Some("PHIMARK-REASON".into()),
            },
            false,
        )
        .expect("book");
    let _ = s.add_appointment(
        &NewAppointment {
            patient: p,
            start,
            tz: "Europe/Paris".into(),
            duration_min: 20,
            reason: Some("PHIMARK-REASON".into()),
        },
        false,
    );
    s.set_note(a, "PHIMARK-NOTE first").expect("note");
    s.set_note(a, "PHIMARK-NOTE second").expect("note");
    let _ = s.search_patients("PHIMARK-NAME");
    let _ = s.list_day(start.date_naive(), "Europe/Paris");
    // Errors built from PHI-bearing input do not echo it.
    let bad = parse_date("date of birth", "1944-04-04x").expect_err("bad date");
    tracing::warn!(error = %bad, "as a shell would log a user error");
    let _ = s.add_patient(&NewPatient {
        name: "PHIMARK-NAME".repeat(10_000),
        dob: Some(dob),
        ..Default::default()
    });
    u.lock();
}
