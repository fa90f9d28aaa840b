//! The real desktop window end to end: the built `bedside-desktop` binary under Xvfb, driven
//! through tauri-driver 2.1.0 and WebKitWebDriver (the official WebDriver route), with the
//! real Secret Service, SQLCipher and the embedded relay: first run → TOTP enrolment (the
//! code computed from the secret the screen shows) → a patient → an appointment → its
//! invite link and a note → the visit reason edited (and still there when the appointment is
//! opened again) → a `bedside://appointment/1` deep link, given to a second launch, opens
//! the appointment in this window → a Chromium patient (fake camera) knocks → admit → the visit room: the call
//! connects, the patient's video is decoded and painted in the window (the painted-frames
//! counter rises by ≥ 50 in 10 s), the window's SAS equals the patient page's, the patient
//! reads it back → one chat message each way (the patient's typed on the page, the
//! clinician's from the room's send box; both texts are then scanned for as PHI) → send back
//! to the waiting room (the patient's page shows the waiting state, the panel the patient
//! waiting) → admit again (a new call: frames painted again, the page decodes video again,
//! the same new SAS on both sides) → End visit → the appointment is finished → lock → unlock. A PNG screenshot is saved at each step under
//! `<target>/desktop-e2e/`, with the app's log and the desktop notifications it sent
//! (recorded by `dbus-monitor`: the knock's must name nobody); the log (at `debug`) holds no PHI and
//! no IP address but the embedded relay's. Last, WebKit's data directories for
//! the app (local storage, IndexedDB, caches, cookies) and the app's own files outside the
//! encrypted database are scanned for the PHI the journey typed: none may be there.
//!
//! Needs the debug binary (`cargo build -p bedside-desktop`; `cargo xtask test` builds it),
//! `tauri-driver` (`cargo xtask setup test` installs it), `WebKitWebDriver` and `Xvfb`.
//! `BEDSIDE_DESKTOP_BIN` overrides the binary's path.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::webdriver::{Driver, Proc, Xvfb, free_port, tool, wait_listening};

const PASSWORD: &str = "correct horse battery staple";
const PATIENT: &str = "Ada Lovelace-Testpatient";
/// What the patient types at the knock (PHI: must reach the panel and nothing else).
const KNOCK_NAME: &str = "Grace Knockmarker";
/// The clinical note typed on the appointment page (PHI: only the encrypted database keeps it).
const NOTE: &str = "Zebrafinch rash on the left forearm";
/// The visit reason after editing it on the appointment page (PHI, like the first one).
const REASON: &str = "Capybaramarker review of the rash";
/// Chat each way (PHI: scanned for in logs and on disk like the rest).
const PATIENT_CHAT: &str = "Quokkamarker itch since Tuesday";
const CLINICIAN_CHAT: &str = "Wombatmarker: please hold it to the camera";

/// The target directory this test binary runs from (`<target>/debug/deps/tests-…`).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .expect("exe")
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

fn totp_now(secret_base32: &str) -> String {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(secret_base32.trim().as_bytes())
        .expect("base32 secret");
    let totp = bedside_vault::Totp::new(bedside_vault::TotpSecret::from_bytes(bytes));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    totp.code_at(now)
}

fn desktop_bin() -> PathBuf {
    std::env::var_os("BEDSIDE_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/bedside-desktop"))
}

/// WebKitGTK and libsoup, loaded into the app's process, import SQLite. Were the app to export
/// the sqlite3_* symbols of its statically linked SQLCipher, they would call that build (its
/// crypto provider, its first-call set-up) instead of the system SQLite they were built for.
#[test]
fn the_app_keeps_its_sqlcipher_to_itself() {
    let bin = desktop_bin();
    assert!(
        bin.is_file(),
        "{} is missing: `cargo build -p bedside-desktop` (cargo xtask test does)",
        bin.display()
    );
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&bin)
        .output()
        .expect("run nm (binutils, installed with the C toolchain by `cargo xtask setup`)");
    assert!(out.status.success(), "nm failed: {out:?}");
    let exported = String::from_utf8_lossy(&out.stdout);
    // Guard the check itself: nm read the app's dynamic symbol table.
    assert!(
        exported.contains("_end"),
        "nm printed no symbols:\n{exported}"
    );
    let leaked: Vec<&str> = exported
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|name| name.starts_with("sqlite3") || name.starts_with("sqlcipher"))
        .collect();
    assert!(
        leaked.is_empty(),
        "the app exports its SQLCipher to the libraries it loads: {leaked:?}"
    );
}

#[test]
fn clinician_first_run_patient_appointment_invite_lock_unlock() {
    // The patient's Chromium shares the machine with the browser tests: one at a time.
    let _browser = crate::patient::BROWSER.blocking_lock();
    let bin = desktop_bin();
    let (Some(driver_bin), Some(_)) = (tool("tauri-driver"), tool("WebKitWebDriver")) else {
        panic!("tauri-driver or WebKitWebDriver is missing: run `cargo xtask setup test`");
    };
    assert!(
        bin.is_file(),
        "{} is missing: `cargo build -p bedside-desktop` (cargo xtask test does)",
        bin.display()
    );
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "run under dbus-run-session with an unlocked gnome-keyring (cargo xtask test does)"
    );

    // Two journeys at once (two checkouts sharing one CARGO_TARGET_DIR) would clear and write
    // the same screenshot directory: the second waits for the first (released on exit).
    let journey_lock =
        std::fs::File::create(target_dir().join("desktop-e2e.lock")).expect("journey lock file");
    journey_lock.lock().expect("journey lock");
    let shots = target_dir().join("desktop-e2e");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let data = tempfile::tempdir().expect("data dir");
    let policy = tempfile::tempdir().expect("empty policy dir");

    let xvfb = Xvfb::start("1400x900x24");
    let display = xvfb.display.clone();
    // Desktop notifications go over the session bus: record them (there is no notification
    // daemon here, so the app must also carry on when nobody shows them).
    let _notifications = Proc(
        Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(
                std::fs::File::create(shots.join("notifications.log"))
                    .map(Stdio::from)
                    .expect("notifications log"),
            )
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor"),
    );
    std::thread::sleep(Duration::from_millis(500));

    let (port, native) = (free_port(), free_port());
    let _driver = Proc(
        Command::new(&driver_bin)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &display)
            .env("NO_AT_BRIDGE", "1")
            .env("TZ", "UTC")
            .env("BEDSIDE_DATA_DIR", data.path())
            .env("BEDSIDE_POLICY_DIR", policy.path())
            // The visit room sends the test pattern (no capture here; chosen explicitly) from
            // loopback sockets, where the patient's Chromium finds it.
            .env("BEDSIDE_VIDEO_SOURCE", "test-pattern")
            .env("BEDSIDE_MEDIA_UDP", "127.0.0.1:0")
            // Bedside's crates at debug; dependencies stay at error (bedside_core::logging).
            .env("BEDSIDE_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(shots.join("app.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("tauri-driver"),
    );
    wait_listening(port, "tauri-driver", Duration::from_secs(20));
    let capabilities = json!({"capabilities": {"alwaysMatch": {
        "tauri:options": {"application": bin.to_string_lossy()}
    }}});
    // tauri-driver listens before WebKitWebDriver does: Driver::open retries until a session starts.
    let mut d = Driver::open(
        port,
        &capabilities,
        Instant::now() + Duration::from_secs(20),
        shots.clone(),
    );

    // First run: create the profile.
    d.wait("screen-first-run");
    // Page errors, reported if a screen never shows (messages only: no PHI is typed yet
    // when most screens render, and the report stays in the test output).
    d.js(
        "window.__e2eErrors = [];
         window.addEventListener('error', (e) => window.__e2eErrors.push(String(e.message)));
         window.addEventListener('unhandledrejection', (e) => window.__e2eErrors.push(String(e.reason)));
         return true;",
        json!([]),
    );
    d.fill("first-run-display-name", "Dr Alex Morgan");
    d.fill("first-run-username", "amorgan");
    d.fill("first-run-password", PASSWORD);
    d.fill("first-run-confirm", PASSWORD);
    d.step("first-run");
    d.click("first-run-submit");

    // TOTP enrolment: the code comes from the secret the screen shows.
    d.wait("screen-enrol-totp");
    d.wait("totp-qr");
    // The key sits in a collapsed "cannot scan?" section: read it from the DOM.
    let secret = d
        .js(
            "return document.querySelector('[data-testid=\"totp-secret\"]').textContent;",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .replace([' ', '\n'], "");
    assert!(secret.len() >= 16, "a base32 secret is shown");
    d.step("totp-enrolment");
    d.fill("totp-code", &totp_now(&secret));
    d.click("totp-submit");

    // Signed in: the desk with its schedule and the waiting room.
    d.wait("screen-schedule");
    d.wait("waiting-room");
    d.step("signed-in-schedule");

    // A patient.
    d.click("nav-patients");
    d.click("patient-add");
    d.fill("patient-name", PATIENT);
    d.fill("patient-dob", "1980-12-10");
    d.fill("patient-email", "ada@example.org");
    d.click("patient-save");
    assert_eq!(d.text("patient-detail-name"), PATIENT);
    d.step("patient-created");

    // An appointment in ten minutes (UTC, the window's zone here), so its link already
    // works (links open 15 minutes before), booked through the picker.
    d.click("nav-schedule");
    d.click("new-appointment");
    d.fill("picker-search", "lovelace");
    d.click("picker-option");
    assert!(d.text("picker-selected").contains(PATIENT));
    let start = chrono::Utc::now() + chrono::Duration::minutes(10);
    d.fill("book-start", &start.format("%Y-%m-%dT%H:%M").to_string());
    d.fill("book-duration", "30");
    d.fill("book-reason", "follow-up");
    d.step("booking-form");
    d.click("book-submit");
    d.wait("appointment-row");
    assert_eq!(d.text("appointment-status"), "Booked");
    d.step("appointment-booked");

    // Its invite link from the embedded relay, with a QR code.
    d.click("appointment-open");
    d.wait("screen-appointment");
    d.click("invite-create");
    d.wait("invite-qr");
    let link = d.value("invite-link");
    assert!(
        link.starts_with("http://127.0.0.1:") && link.contains("/j/") && link.contains('#'),
        "an invite link on the embedded relay: {}",
        link.len()
    );
    let mailto = d.js(
        "return document.querySelector('[data-testid=\"invite-email\"]').getAttribute('href');",
        json!([]),
    );
    let mailto = mailto.as_str().unwrap_or_default();
    let subject = mailto.split("subject=").nth(1).unwrap_or_default();
    assert!(
        subject.starts_with("Your%20video%20appointment%20link") && !subject.contains("Ada"),
        "the mail subject carries no PHI"
    );
    d.step("invite-created");
    // A note, autosaved as version 1 (the box is read-only until the saved note has loaded).
    d.wait_css("[data-testid=\"notes-text\"]:not([readonly])");
    d.fill("notes-text", NOTE);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !d.text("notes-status").contains("version 1") {
        assert!(Instant::now() < deadline, "the note was not saved");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The visit reason, edited in place: saved, and still there when the appointment is
    // opened again from the schedule.
    assert_eq!(d.text("appointment-reason"), "follow-up");
    d.click("appointment-reason-edit");
    d.fill("appointment-reason-input", REASON);
    d.step("reason-editing");
    d.click("appointment-reason-save");
    let deadline = Instant::now() + Duration::from_secs(15);
    while d.find("appointment-reason").is_none() || d.text("appointment-reason") != REASON {
        assert!(Instant::now() < deadline, "the edited reason is not shown");
        std::thread::sleep(Duration::from_millis(200));
    }
    d.click("nav-schedule");
    d.wait("appointment-row");
    d.click("appointment-open");
    d.wait("screen-appointment");
    assert_eq!(
        d.text("appointment-reason"),
        REASON,
        "the edited reason was saved"
    );
    d.wait("invite-qr");
    assert_eq!(
        d.value("invite-link"),
        link,
        "the same link after reopening"
    );
    d.step("reason-saved");

    // A `bedside://appointment/<id>` link, as a browser or mail client launches it: a second
    // `bedside-desktop` hands it to this one over the session bus (single instance) and
    // exits; the signed-in window opens that appointment. (A fresh profile's first
    // appointment has id 1; the page must name this patient.)
    d.click("nav-schedule");
    d.wait("appointment-row");
    assert!(
        d.find("screen-appointment").is_none(),
        "still on the appointment"
    );
    let mut second = Command::new(&bin)
        .arg("bedside://appointment/1")
        .env("DISPLAY", &display)
        .env("NO_AT_BRIDGE", "1")
        .env("TZ", "UTC")
        .env("BEDSIDE_DATA_DIR", data.path())
        .env("BEDSIDE_POLICY_DIR", policy.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("second launch");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait().expect("second launch status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second launch did not hand over its link and exit");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "second launch: {status}");
    d.wait("screen-appointment");
    let deadline = Instant::now() + Duration::from_secs(15);
    while d.find("appointment-patient").is_none() || d.text("appointment-patient") != PATIENT {
        assert!(
            Instant::now() < deadline,
            "the deep link did not open the appointment"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The whole page, as from the schedule: the same link and the saved note.
    d.wait("invite-qr");
    assert_eq!(
        d.value("invite-link"),
        link,
        "the link, opened by a deep link"
    );
    while d.value("notes-text") != NOTE {
        assert!(
            Instant::now() < deadline,
            "the note is not shown after the deep link"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d.step("deep-link-opened");

    // A real Chromium patient opens the link and knocks; the knock reaches the waiting-room
    // panel with the name the patient typed; the clinician admits and the call runs: the
    // patient's page measures 14 s of inbound media after its first decoded frame.
    let patient_shots = shots.join("patient");
    std::fs::create_dir_all(&patient_shots).expect("patient shots");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf();
    let mut patient = Proc(
        Command::new("node")
            .arg(workspace.join("tests/browser/call.mjs"))
            .arg(&link)
            .arg(&patient_shots)
            .args(["--name", KNOCK_NAME, "--seconds", "14", "--warmup", "1"])
            .args(["--chat-send", PATIENT_CHAT, "--chat-expect", CLINICIAN_CHAT])
            .arg("--send-back")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs tests/browser/call.mjs"),
    );
    // The page's step lines, as they come (the send-back below waits on them).
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = std::sync::Arc::clone(&lines);
        let stdout = patient.0.stdout.take().expect("patient stdout");
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().expect("lines").push(line);
            }
        })
    };
    let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let err_reader = {
        let errors = std::sync::Arc::clone(&errors);
        let mut stderr = patient.0.stderr.take().expect("patient stderr");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            errors.lock().expect("errors").push_str(&text);
        })
    };
    let patient_step = |name: &str, within: Duration| -> Value {
        let deadline = Instant::now() + within;
        loop {
            let found = lines
                .lock()
                .expect("lines")
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v["step"] == name);
            if let Some(v) = found {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the patient page did not reach step {name}: {:?}\n{}",
                lines.lock().expect("lines"),
                errors.lock().expect("errors")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    d.wait("waiting-entry");
    assert_eq!(d.text("waiting-name"), KNOCK_NAME);
    assert_eq!(d.text("waiting-state"), "Waiting");
    d.step("knock-in-waiting-room");
    // The knock raised a desktop notification, and it names nobody (default policy).
    let deadline = Instant::now() + Duration::from_secs(10);
    let notified = loop {
        let n = std::fs::read_to_string(shots.join("notifications.log")).unwrap_or_default();
        if n.contains("string \"A patient is waiting\"") || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        notified.contains("string \"A patient is waiting\""),
        "no knock notification on the session bus: {notified}"
    );
    d.click("waiting-admit");

    // The visit room opens; the call connects and the patient's video is painted.
    d.wait("screen-visit");
    let painted = |d: &Driver| {
        d.js(
            "return window.__bedsideVisit ? window.__bedsideVisit.painted : 0;",
            json!([]),
        )
        .as_u64()
        .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    while painted(&d) == 0 {
        if Instant::now() > deadline {
            d.shot("no-remote-video");
            panic!("no frame painted in the visit room within 40 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (p0, t0) = (painted(&d), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let (p1, dt) = (painted(&d), t0.elapsed().as_secs_f64());
    let visit = d.js("return window.__bedsideVisit;", json!([]));
    eprintln!(
        "visit room: {} frames painted in {dt:.1} s ({:.1} fps), renderer {}, {} received, \
         {:.1} ms a paint, {:.1} ms an acknowledgement; {}",
        p1 - p0,
        (p1 - p0) as f64 / dt,
        visit["renderer"],
        visit["received"],
        visit["paintMs"].as_f64().unwrap_or(0.0),
        visit["ackMs"].as_f64().unwrap_or(0.0),
        d.text("visit-quality-detail"),
    );
    d.step("visit-room");
    assert!(
        p1 - p0 >= 50,
        "only {} frames painted in {dt:.1} s",
        p1 - p0
    );
    assert_eq!(
        d.text("visit-source-note"),
        "Sending the test pattern (chosen for diagnostics)."
    );
    let window_sas = d.text("visit-sas");
    assert!(
        window_sas.len() >= 6,
        "a security code is shown: {window_sas:?}"
    );
    d.click("visit-sas-confirm");
    d.wait("visit-sas-confirmed");

    // Chat both ways on the call's data channel: the patient's message appears in the room,
    // the clinician answers from the send box, and the patient's page shows the answer.
    let chat_lines = |d: &Driver| {
        d.js(
            "return [...document.querySelectorAll('[data-testid=\"visit-chat-message\"]')]
               .map((e) => e.dataset.from + ':' + e.textContent);",
            json!([]),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !chat_lines(&d)
        .iter()
        .any(|l| l.starts_with("patient:") && l.contains(PATIENT_CHAT))
    {
        assert!(
            Instant::now() < deadline,
            "the patient's chat message did not reach the room: {:?}",
            chat_lines(&d)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d.fill("visit-chat-input", CLINICIAN_CHAT);
    d.click("visit-chat-send");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !chat_lines(&d)
        .iter()
        .any(|l| l.starts_with("clinician:") && l.contains(CLINICIAN_CHAT))
    {
        assert!(
            Instant::now() < deadline,
            "the clinician's chat message was not sent: {:?}",
            chat_lines(&d)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d.step("visit-chat");

    // The patient's measurement ends (its page showed the same code); then the patient is
    // sent back to the waiting room, and admitted again.
    let media = patient_step("media", Duration::from_secs(60));
    assert_eq!(
        media["sas"].as_str(),
        Some(window_sas.as_str()),
        "the same SAS on both sides"
    );
    patient_step("chat", Duration::from_secs(40));
    d.click("visit-send-back");
    d.wait("screen-schedule");
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.find("waiting-entry").is_none() || d.text("waiting-state") != "Waiting" {
        assert!(
            Instant::now() < deadline,
            "the patient is not waiting again in the panel"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(d.text("waiting-name"), KNOCK_NAME);
    let back = patient_step("sent_back", Duration::from_secs(30));
    assert_eq!(
        back["returned"], true,
        "the page says the clinic moved the patient back: {back}"
    );
    d.step("sent-back-to-lobby");
    // The new room publishes its own counters: drop the first room's.
    d.js("window.__bedsideVisit = undefined; return true;", json!([]));
    d.click("waiting-admit");
    d.wait("screen-visit");
    let deadline = Instant::now() + Duration::from_secs(40);
    while painted(&d) < 20 {
        if Instant::now() > deadline {
            d.shot("no-video-after-readmission");
            panic!("no video painted after admitting the patient again");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The new call's code is shown: the screenshot while the call runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.find("visit-sas").is_none() {
        assert!(Instant::now() < deadline, "no code shown after readmission");
        std::thread::sleep(Duration::from_millis(200));
    }
    d.step("readmitted");
    let again = patient_step("readmitted", Duration::from_secs(60));
    assert!(
        again["frames"].as_u64().unwrap_or(0) > 0 && again["pcs"].as_u64().unwrap_or(0) >= 2,
        "the page made a new call and decoded its video: {again}"
    );
    let new_sas = d.text("visit-sas");
    assert_eq!(
        again["sas"].as_str(),
        Some(new_sas.as_str()),
        "the same new code on both sides after readmission"
    );
    assert_ne!(new_sas, window_sas, "a new call has a new code");

    let child = &mut patient.0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the patient's call did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    let out = lines.lock().expect("lines").join("\n");
    let _ = err_reader.join();
    let err = errors.lock().expect("errors").clone();
    assert!(status.success(), "patient page: {out}\n{err}");
    assert!(out.contains("\"admitted\""), "{out}");
    let media: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["step"] == "media")
        .unwrap_or_else(|| panic!("no media step from the patient: {out}"));
    assert!(
        out.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| v["step"] == "chat" && v["received"] == true),
        "the patient's page did not show the clinician's chat message: {out}"
    );
    assert!(
        media["fps"].as_f64().unwrap_or(0.0) >= 20.0,
        "the patient decoded our test pattern: {media}"
    );
    // The patient's page closed: the device left the waiting room.
    d.wait("waiting-empty");

    // End visit: the appointment is finished in the schedule.
    d.click("visit-end");
    d.click("visit-end-confirm");
    d.wait("screen-schedule");
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.text("appointment-status") != "Finished" {
        assert!(
            Instant::now() < deadline,
            "the appointment is not finished after End visit"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d.step("visit-ended");
    // The visit's course is in the audit log, by appointment id only.
    d.click("nav-audit");
    d.fill("audit-filter", "visit.");
    d.click("audit-apply");
    d.wait("audit-row");
    let audit = d.text("audit-table");
    for action in [
        "visit.admit",
        "visit.call_start",
        "visit.sas_shown",
        "visit.sas_confirmed",
        "visit.send_back",
        "visit.end",
    ] {
        assert!(audit.contains(action), "{action} is not audited: {audit}");
    }
    d.click("nav-schedule");

    // Lock (the button; Ctrl+L does the same), then unlock with the password alone
    // (within the re-authentication window after the full sign-in).
    d.click("lock-button");
    d.wait("screen-sign-in");
    let title = d.cmd("GET", "/title", None);
    assert_eq!(
        title.as_str(),
        Some("Bedside"),
        "no PHI in the window title"
    );
    d.step("locked");
    d.fill("signin-password", PASSWORD);
    d.click("signin-submit");
    d.wait("screen-schedule");
    d.wait("appointment-row");
    d.step("unlocked");

    d.cmd("DELETE", "", None);
    // PHI never reaches the app's log (debug level here).
    let log = std::fs::read_to_string(shots.join("app.log")).unwrap_or_default();
    assert!(log.contains("waiting room"), "the log was captured");
    for phi in [
        KNOCK_NAME,
        "Knockmarker",
        PATIENT,
        "Lovelace",
        "1980-12-10",
        "follow-up",
        "Capybaramarker",
        "Zebrafinch",
        "Quokkamarker",
        "Wombatmarker",
    ] {
        assert!(!log.contains(phi), "the app log carries PHI ({phi})");
    }
    // Nor the patient's IP addresses (their ICE candidates; the WebRTC stack logs them at
    // info): the only address in the log is the embedded relay's own.
    let foreign: Vec<&str> = ipv4_addresses(&log)
        .into_iter()
        .filter(|line| !line.contains("embedded relay listening"))
        .collect();
    assert!(
        foreign.is_empty(),
        "the app log carries network addresses: {foreign:#?}"
    );
    let notified = std::fs::read_to_string(shots.join("notifications.log")).unwrap_or_default();
    for phi in [KNOCK_NAME, "Knockmarker", PATIENT, "Lovelace"] {
        assert!(
            !notified.contains(phi),
            "a notification carries PHI ({phi})"
        );
    }
    let pngs = std::fs::read_dir(&shots).expect("shots").count();
    assert!(pngs >= 15, "{pngs} screenshots in {}", shots.display());

    // PHI never lands in what WebKit keeps on disk for the window (local storage,
    // IndexedDB, caches, cookies, HSTS) nor in the app's files outside the encrypted
    // database (policy bundle state, auth state, audit checkpoints). The session is
    // deleted above, so the app has exited and WebKit has flushed its stores.
    let phi = [
        KNOCK_NAME,
        "Knockmarker",
        PATIENT,
        "Lovelace",
        "1980-12-10",
        "follow-up",
        REASON,
        "Capybaramarker",
        NOTE,
        "Zebrafinch",
        PATIENT_CHAT,
        "Quokkamarker",
        CLINICIAN_CHAT,
        "Wombatmarker",
    ];
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let xdg = |var: &str, fallback: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(fallback))
    };
    let mut webkit = Vec::new();
    for base in [
        xdg("XDG_DATA_HOME", ".local/share"),
        xdg("XDG_CACHE_HOME", ".cache"),
        xdg("XDG_CONFIG_HOME", ".config"),
    ] {
        // Tauri gives WebKit `<base>/<identifier>`; WebKitGTK's own default is `webkitgtk`.
        for name in [
            "health.bedside.desktop",
            "bedside-desktop",
            "Bedside",
            "webkitgtk",
        ] {
            let dir = base.join(name);
            if dir.is_dir() {
                webkit.push(dir);
            }
        }
    }
    assert!(
        !webkit.is_empty(),
        "no WebKit data directory for the app under {}",
        home.display()
    );
    let mut scanned = Vec::new();
    for dir in &webkit {
        scan_for_phi(dir, &phi, &|_| true, &mut scanned);
    }
    let app_files = scanned.len();
    let encrypted = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        [".db", ".db-wal", ".db-shm", ".db-journal"]
            .iter()
            .any(|ext| name.ends_with(ext))
    };
    scan_for_phi(data.path(), &phi, &|p| !encrypted(p), &mut scanned);
    eprintln!(
        "PHI scan: {app_files} WebKit files under {webkit:?}, {} app data files: {scanned:#?}",
        scanned.len() - app_files
    );
    assert!(app_files > 0, "WebKit left no files to scan in {webkit:?}");
}

/// The lines of `log` that hold a dotted-quad IPv4 address.
fn ipv4_addresses(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .any(|word| {
                    let parts: Vec<&str> = word.split('.').collect();
                    parts.len() == 4
                        && parts
                            .iter()
                            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
                })
        })
        .collect()
}

#[test]
fn ipv4_addresses_finds_candidates_and_not_times_or_versions() {
    let log = "2026-11-29T22:33:44.112384Z INFO starting version=\"0.1.0\"\n\
               INFO Ignoring remote candidate with tcpType active: tcp4 host 10.213.65.1:9\n\
               INFO round trip 2.5 ms, 1.2.3 fps\n\
               INFO embedded relay listening origin=http://127.0.0.1:39965";
    assert_eq!(
        ipv4_addresses(log),
        [
            "INFO Ignoring remote candidate with tcpType active: tcp4 host 10.213.65.1:9",
            "INFO embedded relay listening origin=http://127.0.0.1:39965",
        ]
    );
}

/// Reads every file under `dir` that `include` accepts, appends its path to
/// `scanned`, and fails if any holds one of `phi` as UTF-8 or UTF-16LE (WebKit's
/// local storage keeps UTF-16 in SQLite).
fn scan_for_phi(
    dir: &Path,
    phi: &[&str],
    include: &dyn Fn(&Path) -> bool,
    scanned: &mut Vec<PathBuf>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            scan_for_phi(&path, phi, include, scanned);
            continue;
        }
        if !kind.is_file() || !include(&path) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in phi {
            let utf16: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
            for pattern in [needle.as_bytes(), utf16.as_slice()] {
                assert!(
                    !bytes.windows(pattern.len()).any(|w| w == pattern),
                    "{} holds PHI ({needle})",
                    path.display()
                );
            }
        }
        scanned.push(path);
    }
}
