//! The whole working day through the CLI: enrol, sign in, patients with
//! awkward names, appointments across time zones, notes, the audit log, lock.

use serde_json::Value;

use crate::support::{Clinic, Profile};

/// Names that break naive SQL, shell, JSON, case folding or bidi handling.
fn awkward_names() -> Vec<String> {
    let mut long = String::from("ZQXWORKFLOW-long ");
    while long.len() < 10 * 1024 {
        long.push_str("Ωmega Ørsted ñandú 名前 ");
    }
    vec![
        r#"Conan "The Doc" O'Brien-ZQXWORKFLOW"#.to_owned(),
        "'); DROP TABLE patients;--".to_owned(),
        "Zoë 🩺👩🏽‍⚕️ Nguyễn".to_owned(),
        "محمد عبد الله".to_owned(),
        "שרה כהן \u{200f}(ZQXWORKFLOW)".to_owned(),
        r"100%_Real\Name".to_owned(),
        long,
    ]
}

fn add_patient(p: &Profile<'_>, s: &str, name: &str, dob: &str, extra: &[&str]) -> i64 {
    p.with(s)
        .json()
        .args(["patient", "add", "--name", name, "--dob", dob])
        .args(extra)
        .ok()
        .id()
}

fn show(p: &Profile<'_>, s: &str, what: &str, id: i64) -> Value {
    p.with(s)
        .json()
        .args([what, "show", &id.to_string()])
        .ok()
        .json()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|a| a["id"].as_i64().expect("an id"))
        .collect()
}

#[test]
fn full_workflow() {
    let Some(clinic) = Clinic::new("full_workflow") else {
        return;
    };
    let qr = clinic.path().join("enrol.png");
    let mut p = clinic.init_with("dr.flow", &["--qr", qr.to_str().expect("UTF-8 path")]);

    // Enrolment: an otpauth URI an authenticator app accepts, and the QR code.
    let uri = p.init["otpauth_uri"].as_str().expect("otpauth_uri");
    let secret = p.init["secret"].as_str().expect("secret");
    assert!(
        uri.starts_with(&format!("otpauth://totp/Bedside:dr.flow?secret={secret}&")),
        "{uri}"
    );
    for part in ["issuer=Bedside", "algorithm=SHA1", "digits=6", "period=30"] {
        assert!(uri.contains(part), "{part} in {uri}");
    }
    let png = std::fs::read(&qr).expect("--qr wrote the file");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "the first chunk is IHDR");
    assert_eq!(
        &png[png.len() - 8..png.len() - 4],
        b"IEND",
        "ends with IEND"
    );

    // Signing in before TOTP is confirmed is refused, plainly.
    p.cmd()
        .args(["signin", "--password-stdin", "--totp", &p.totp.peek()])
        .stdin(p.password_line())
        .user_error()
        .says(&["Two-step sign-in is not set up yet"]);
    let s = p.ready();
    let s = s.as_str();

    // Patients: every awkward name comes back byte for byte.
    let mut patients = vec![];
    for (i, name) in awkward_names().into_iter().enumerate() {
        let phone = format!("+44 20 7946 {i:04}");
        let email = format!("p{i}+ZQXWORKFLOW@example.org");
        let id = add_patient(
            &p,
            s,
            &name,
            "1980-02-29",
            &["--phone", &phone, "--email", &email, "--mrn", "MRN-'\"-1"],
        );
        let v = show(&p, s, "patient", id);
        assert_eq!(v["id"], id);
        assert_eq!(v["name"].as_str(), Some(name.as_str()), "name round trip");
        assert_eq!(v["dob"], "1980-02-29");
        assert_eq!(v["phone"].as_str(), Some(phone.as_str()));
        assert_eq!(v["email"].as_str(), Some(email.as_str()));
        assert_eq!(v["mrn"], "MRN-'\"-1");
        patients.push((id, name));
    }
    // The table survived the injection attempt, and the text form works too.
    let all = p.with(s).json().args(["patient", "list"]).ok().json();
    assert_eq!(all.as_array().map(Vec::len), Some(patients.len()));
    let text = p
        .with(s)
        .args(["patient", "show", &patients[1].0.to_string()])
        .ok();
    assert!(
        text.stdout.contains("name: '); DROP TABLE patients;--"),
        "{text}"
    );

    // Search: case-insensitive (also beyond ASCII), LIKE wildcards literal.
    let search = |q: &str| -> Vec<String> {
        names(
            &p.with(s)
                .json()
                .args(["patient", "list", "--search", q])
                .ok()
                .json(),
        )
    };
    assert_eq!(search("o'BRIEN"), vec![patients[0].1.clone()]);
    assert_eq!(search("ZOË"), vec![patients[2].1.clone()]);
    assert_eq!(search("عبد"), vec![patients[3].1.clone()]);
    assert_eq!(search("%"), vec![patients[5].1.clone()], "% is literal");
    assert_eq!(search("_"), vec![patients[5].1.clone()], "_ is literal");
    assert_eq!(search("ΩMEGA ØRSTED"), vec![patients[6].1.clone()]);
    assert!(search("no such person").is_empty());

    // Appointments. 23:30 UTC on 1 December is 08:30 on 2 December in Tokyo.
    let pid = patients[0].0.to_string();
    let book = |start: &str, tz: &str, extra: &[&str]| {
        p.with(s)
            .json()
            .args([
                "appointment",
                "add",
                "--patient",
                &pid,
                "--start",
                start,
                "--tz",
                tz,
                "--duration",
                "30m",
            ])
            .args(extra)
            .run()
    };
    let late = book(
        "2026-12-01T23:30:00Z",
        "Asia/Tokyo",
        &["--reason", "ZQXWORKFLOW review"],
    )
    .id();
    let clash = book("2026-12-01T23:45:00Z", "UTC", &[]);
    assert_eq!(clash.code, Some(1), "{clash}");
    let e = clash.error();
    assert_eq!(e["code"], "overlap", "{clash}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("appointment {late}"))),
        "names the other appointment: {clash}"
    );
    let forced = book("2026-12-01T23:45:00Z", "UTC", &["--force"]);
    assert_eq!(forced.code, Some(0), "{forced}");
    let forced = forced.id();

    // Local times: Europe/London is UTC+0 in December, UTC+1 in July.
    let winter = book("2026-12-03T09:00", "Europe/London", &[]).id();
    assert_eq!(
        show(&p, s, "appointment", winter)["start"],
        "2026-12-03T09:00:00Z"
    );
    let summer = book("2026-07-03T09:00", "Europe/London", &[]).id();
    let v = show(&p, s, "appointment", summer);
    assert_eq!(v["start"], "2026-07-03T08:00:00Z");
    assert_eq!(v["tz"], "Europe/London");

    // Reschedule, then cancel and no-show.
    p.with(s)
        .args([
            "appointment",
            "reschedule",
            &forced.to_string(),
            "--start",
            "2026-12-02T10:00",
            "--duration",
            "1h",
        ])
        .ok();
    let v = show(&p, s, "appointment", forced);
    assert_eq!(
        v["start"], "2026-12-02T10:00:00Z",
        "local in its own zone (UTC)"
    );
    assert_eq!(v["duration_min"], 60);
    p.with(s)
        .args(["appointment", "cancel", &forced.to_string()])
        .ok();
    assert_eq!(show(&p, s, "appointment", forced)["status"], "cancelled");
    p.with(s)
        .args(["appointment", "cancel", &forced.to_string()])
        .user_error()
        .says(&["cancelled"]);
    p.with(s)
        .args([
            "appointment",
            "reschedule",
            &forced.to_string(),
            "--start",
            "2026-12-05T10:00:00Z",
        ])
        .user_error()
        .says(&["cancelled"]);
    p.with(s)
        .args(["appointment", "no-show", &summer.to_string()])
        .ok();
    assert_eq!(show(&p, s, "appointment", summer)["status"], "no_show");
    p.with(s)
        .args(["appointment", "cancel", &summer.to_string()])
        .user_error()
        .says(&["no_show"]);
    // A cancelled slot is free again without --force.
    assert_eq!(book("2026-12-02T10:00:00Z", "UTC", &[]).code, Some(0));

    // Day listings follow the requested zone.
    let day = |d: &str, tz: &str| -> Value {
        p.with(s)
            .json()
            .args(["appointment", "list", "--day", d, "--tz", tz])
            .ok()
            .json()
    };
    let tokyo = day("2026-12-02", "Asia/Tokyo");
    assert!(ids(&tokyo).contains(&late), "{tokyo}");
    let entry = tokyo
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == late))
        .expect("listed");
    assert_eq!(entry["local_start"], "2026-12-02T08:30:00+09:00");
    assert_eq!(entry["patient_name"].as_str(), Some(patients[0].1.as_str()));
    assert!(!ids(&day("2026-12-01", "Asia/Tokyo")).contains(&late));
    assert!(ids(&day("2026-12-01", "UTC")).contains(&late));
    assert!(!ids(&day("2026-12-02", "UTC")).contains(&late));
    // BEDSIDE_TZ is the default zone.
    let env_tz = p
        .with(s)
        .env("BEDSIDE_TZ", "Asia/Tokyo")
        .json()
        .args(["appointment", "list", "--day", "2026-12-02"])
        .ok()
        .json();
    assert_eq!(ids(&env_tz), ids(&tokyo));
    let week = p
        .with(s)
        .json()
        .args(["appointment", "list", "--day", "2026-12-02", "--week"])
        .ok()
        .json();
    for id in [late, forced, winter] {
        assert!(ids(&week).contains(&id), "week has {id}: {week}");
    }
    assert!(!ids(&week).contains(&summer));

    // Notes keep every version.
    let note = |text: &str| {
        p.with(s)
            .json()
            .args(["note", "set", &late.to_string(), "--text-stdin"])
            .stdin(text)
            .ok()
            .json()
    };
    let v1 = "ZQXWORKFLOW first draft\nline two: «quotes» 'single' \"double\"\n";
    let v2 = "ZQXWORKFLOW second draft — مراجعة\n";
    assert_eq!(note(v1)["version"], 1);
    assert_eq!(note(v2)["version"], 2);
    let latest = p
        .with(s)
        .json()
        .args(["note", "show", &late.to_string()])
        .ok()
        .json();
    assert_eq!(latest["text"], v2);
    let history = p
        .with(s)
        .json()
        .args(["note", "history", &late.to_string()])
        .ok()
        .json();
    let texts: Vec<&str> = history
        .as_array()
        .expect("history is an array")
        .iter()
        .map(|n| n["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, [v1, v2]);

    // The audit log holds together and carries ids, never PHI.
    let verify = p.with(s).args(["audit", "verify"]).ok();
    let count: i64 = verify
        .stdout
        .trim()
        .strip_prefix("OK ")
        .and_then(|r| r.strip_suffix(" events"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("OK <count> events: {verify}"));
    assert!(count > 20, "{verify}");
    let export = p.with(s).json().args(["audit", "export"]).ok();
    let events = export.json();
    let events = events.as_array().expect("audit export --json is an array");
    assert!(events.len() as i64 >= count);
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    for a in [
        "profile.create",
        "signin",
        "session.start",
        "patient.create",
        "patient.view",
        "appointment.create",
        "appointment.reschedule",
        "appointment.cancelled",
        "appointment.no_show",
        "note.save",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    for marker in ["ZQXWORKFLOW", "DROP TABLE", "Zoë", "محمد", "1980-02-29"] {
        assert!(
            !export.stdout.contains(marker),
            "PHI {marker:?} in the audit export"
        );
    }

    // Lock ends the session.
    let locked = p.with(s).json().arg("lock").ok().json();
    assert!(locked["sessions_ended"].as_u64() >= Some(1), "{locked}");
    p.with(s)
        .args(["patient", "list"])
        .user_error()
        .says(&["expired or was locked"]);
}
