//! Bad input gets a clear one-line error and exit 1: never a panic, never a
//! backtrace, never a silent success.

use crate::support::{Clinic, Out};

#[test]
fn bad_input_is_refused_clearly() {
    let Some(clinic) = Clinic::new("bad_input_is_refused_clearly") else {
        return;
    };
    let mut p = clinic.init("dr.input");
    let s = p.ready();
    let s = s.as_str();
    let pid = p
        .with(s)
        .json()
        .args([
            "patient",
            "add",
            "--name",
            "Valid Person",
            "--dob",
            "1990-01-01",
        ])
        .ok()
        .id()
        .to_string();
    let aid = p
        .with(s)
        .json()
        .args([
            "appointment",
            "add",
            "--patient",
            &pid,
            "--start",
            "2026-12-01T09:00:00Z",
            "--tz",
            "UTC",
            "--duration",
            "20m",
        ])
        .ok()
        .id()
        .to_string();

    // Each case: arguments, the error code in `--json`, a fragment of the
    // message.
    let add_appt = |patient: &str, start: &str, tz: &str, duration: &str| -> Vec<String> {
        [
            "appointment",
            "add",
            "--patient",
            patient,
            "--start",
            start,
            "--tz",
            tz,
            "--duration",
            duration,
        ]
        .map(String::from)
        .to_vec()
    };
    let add_patient = |dob: &str| -> Vec<String> {
        ["patient", "add", "--name", "Someone", "--dob", dob]
            .map(String::from)
            .to_vec()
    };
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (add_patient("2026-02-30"), "invalid_input", "date of birth"),
        (add_patient("30/01/2026"), "invalid_input", "YYYY-MM-DD"),
        (add_patient("yesterday"), "invalid_input", "YYYY-MM-DD"),
        (add_patient("2999-01-01"), "invalid_input", "future"),
        (add_patient("1700-01-01"), "invalid_input", "1880"),
        (
            v(&["patient", "add", "--name", "   ", "--dob", "1990-01-01"]),
            "invalid_input",
            "name",
        ),
        (
            v(&["appointment", "list", "--day", "2026-02-30"]),
            "invalid_input",
            "day",
        ),
        (
            v(&[
                "appointment",
                "list",
                "--day",
                "2026-12-01",
                "--tz",
                "Mars/Olympus",
            ]),
            "invalid_input",
            "IANA",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00:00Z", "Mars/Olympus", "20m"),
            "invalid_input",
            "IANA",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00", "Europe/Londres", "20m"),
            "invalid_input",
            "IANA",
        ),
        (
            add_appt(&pid, "2026-02-30T09:00:00Z", "UTC", "20m"),
            "usage",
            "start",
        ),
        (
            add_appt(&pid, "next tuesday", "UTC", "20m"),
            "usage",
            "start",
        ),
        // 01:30 on 29 March 2026 does not exist in London (clocks go forward).
        (
            add_appt(&pid, "2026-03-29T01:30", "Europe/London", "20m"),
            "usage",
            "daylight-saving",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00:00Z", "UTC", "0m"),
            "invalid_input",
            "duration",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00:00Z", "UTC", "25h"),
            "invalid_input",
            "duration",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00:00Z", "UTC", "twenty"),
            "invalid_input",
            "duration",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00:00Z", "UTC", "5s"),
            "invalid_input",
            "duration",
        ),
        (
            add_appt(&pid, "2026-12-02T09:00:00Z", "UTC", "1h30"),
            "invalid_input",
            "duration",
        ),
        (
            add_appt("abc", "2026-12-02T09:00:00Z", "UTC", "20m"),
            "usage",
            "not a number",
        ),
        (
            add_appt("999999", "2026-12-02T09:00:00Z", "UTC", "20m"),
            "not_found",
            "patient 999999 not found",
        ),
        (v(&["patient", "show", "abc"]), "usage", "not a number"),
        (v(&["patient", "show", "1.5"]), "usage", "not a number"),
        (
            v(&["patient", "show", "99999999999999999999"]),
            "usage",
            "not a number",
        ),
        (
            v(&["patient", "show", "999999"]),
            "not_found",
            "patient 999999 not found",
        ),
        (v(&["appointment", "show", "x1"]), "usage", "not a number"),
        (
            v(&["appointment", "show", "999999"]),
            "not_found",
            "appointment 999999 not found",
        ),
        (
            v(&["appointment", "cancel", "999999"]),
            "not_found",
            "appointment 999999 not found",
        ),
        (
            v(&["appointment", "no-show", "0"]),
            "not_found",
            "appointment 0 not found",
        ),
        (
            v(&[
                "appointment",
                "reschedule",
                "999999",
                "--start",
                "2026-12-02T09:00:00Z",
            ]),
            "not_found",
            "appointment 999999 not found",
        ),
        (
            v(&[
                "appointment",
                "reschedule",
                &aid,
                "--start",
                "2026-12-02T09:00:00Z",
                "--duration",
                "0",
            ]),
            "invalid_input",
            "duration",
        ),
        (
            v(&[
                "appointment",
                "reschedule",
                &aid,
                "--start",
                "2026-12-02T09:00",
                "--tz",
                "Nowhere/Special",
            ]),
            "invalid_input",
            "IANA",
        ),
        (
            v(&["note", "show", "999999"]),
            "not_found",
            "appointment 999999 not found",
        ),
        (v(&["note", "show", "seven"]), "usage", "not a number"),
    ];
    for (i, (args, code, fragment)) in cases.iter().enumerate() {
        // The text form carries the same message; a third of the cases
        // check it, to keep the suite quick.
        if i % 3 == 0 {
            let plain = p.with(s).args(args).user_error();
            plain.says(&[fragment]);
            one_line(&plain);
        }
        let json = p.with(s).json().args(args).user_error();
        one_line(&json);
        let e = json.error();
        assert_eq!(e["code"], *code, "{json}");
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains(fragment)),
            "{json}"
        );
    }
    // A malformed date of birth is still PHI: it is not echoed back.
    p.with(s)
        .args(["patient", "add", "--name", "Someone", "--dob", "30/01/2026"])
        .user_error()
        .stderr
        .contains("30/01/2026")
        .then(|| panic!("the bad date of birth was echoed"));

    // note set for a missing appointment, with text on stdin.
    p.with(s)
        .args(["note", "set", "999999", "--text-stdin"])
        .stdin("a note")
        .user_error()
        .says(&["appointment 999999 not found"]);
    // A note that is not UTF-8.
    p.with(s)
        .args(["note", "set", &aid, "--text-stdin"])
        .stdin(vec![0xff, 0xfe, b'x'])
        .user_error()
        .says(&["UTF-8"]);

    // Nothing above changed anything.
    let patients = p.with(s).json().args(["patient", "list"]).ok().json();
    assert_eq!(patients.as_array().map(Vec::len), Some(1), "{patients}");
    let appt = p
        .with(s)
        .json()
        .args(["appointment", "show", &aid])
        .ok()
        .json();
    assert_eq!(appt["start"], "2026-12-01T09:00:00Z");
    assert_eq!(appt["status"], "booked");

    // TOTP is confirmed once.
    p.cmd()
        .args([
            "totp",
            "confirm",
            "--password-stdin",
            "--code",
            &p.totp.peek(),
        ])
        .stdin(p.password_line())
        .user_error()
        .says(&["already set up"]);

    // Sessions: missing, garbage, well-formed but unknown.
    let no_session = p.cmd().json().args(["patient", "list"]).user_error();
    assert_eq!(no_session.error()["code"], "not_signed_in", "{no_session}");
    p.cmd()
        .args(["patient", "list"])
        .user_error()
        .says(&["Not signed in", "bedsidectl signin"]);
    for garbage in [
        "",
        "garbage",
        "bds1....",
        "bds1.x.y.z",
        "bds1.💥.💥.💥",
        &format!("{s}extra"),
        &format!("{s}.extra"),
    ] {
        let out = p
            .with(garbage)
            .json()
            .args(["patient", "list"])
            .user_error();
        let code = out.error()["code"].clone();
        assert!(
            code == "session_invalid" || code == "not_signed_in",
            "{garbage:?}: {out}"
        );
    }
    // Same shape as a real token, unknown session id: refused as expired.
    let mut parts: Vec<String> = s.split('.').map(String::from).collect();
    assert_eq!(parts.len(), 4, "bds1.<profile>.<session>.<token>: {s}");
    parts[2] = "0".repeat(32);
    let out = p
        .with(&parts.join("."))
        .json()
        .args(["patient", "list"])
        .user_error();
    assert_eq!(out.error()["code"], "session_expired", "{out}");
    // The real session id with another token: refused.
    let mut parts: Vec<String> = s.split('.').map(String::from).collect();
    parts[3] = data_encoding::BASE64URL_NOPAD.encode(&[7u8; 32]);
    let out = p
        .with(&parts.join("."))
        .json()
        .args(["patient", "list"])
        .user_error();
    assert_eq!(out.error()["code"], "session_invalid", "{out}");
    // After all that, the real session still works.
    p.with(s).args(["patient", "list"]).ok();
}

fn one_line(out: &Out) {
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "one line: {out}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {out}");
}

/// Mistakes caught by the argument parser are the user's errors too: exit 1
/// (2 means the environment is at fault), a message, and JSON under `--json`.
#[test]
fn command_line_mistakes_exit_1() {
    let Some(clinic) = Clinic::new("command_line_mistakes_exit_1") else {
        return;
    };
    let cases: &[&[&str]] = &[
        &["patient", "show"],
        &["patient", "frobnicate"],
        &["appointment", "add", "--patient", "1"],
        &["appointment", "no-show", "-1"],
        &["signin", "--totp", "123456"],
    ];
    for args in cases {
        let out = clinic.cmd().args(*args).run();
        assert_eq!(
            out.code,
            Some(1),
            "a usage mistake is the user's error: {out}"
        );
        assert!(!out.stderr.trim().is_empty(), "{out}");
        let out = clinic.cmd().json().args(*args).run();
        assert_eq!(out.code, Some(1), "{out}");
        assert!(out.error()["message"].is_string(), "{out}");
    }
}
