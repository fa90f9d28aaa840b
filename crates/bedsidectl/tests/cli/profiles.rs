//! Two profiles in one data directory: chosen with `--profile`, refused as
//! ambiguous without it, and each one's session opens only its own data.

use crate::support::{Clinic, Profile};

fn names(p: &Profile<'_>, session: &str) -> Vec<String> {
    p.with(session)
        .json()
        .args(["patient", "list"])
        .ok()
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|x| x["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn two_profiles_are_isolated() {
    let Some(clinic) = Clinic::new("two_profiles_are_isolated") else {
        return;
    };
    let mut a = clinic.init("dr.a");
    let mut b = clinic.init("dr.b");
    assert_ne!(a.id, b.id);
    assert_ne!(
        a.init["secret"], b.init["secret"],
        "each has its own TOTP secret"
    );

    // Without --profile, commands that need one refuse, saying what to do.
    let ambiguous = [
        clinic
            .cmd()
            .args(["signin", "--password-stdin", "--totp", &a.totp.peek()])
            .stdin(a.password_line()),
        clinic
            .cmd()
            .args([
                "totp",
                "confirm",
                "--password-stdin",
                "--code",
                &a.totp.peek(),
            ])
            .stdin(a.password_line()),
        clinic.cmd().arg("lock"),
    ];
    for cmd in ambiguous {
        cmd.user_error().says(&["Several profiles", "--profile"]);
    }
    let out = clinic.cmd().json().arg("lock").user_error();
    assert_eq!(out.error()["code"], "profile_ambiguous", "{out}");
    let out = clinic
        .cmd()
        .json()
        .args(["--profile", "dr.nobody", "lock"])
        .user_error();
    assert_eq!(out.error()["code"], "no_profile", "{out}");

    // --profile and BEDSIDE_PROFILE both select.
    a.confirm();
    let code = b.totp.next();
    clinic
        .cmd()
        .env("BEDSIDE_PROFILE", "dr.b")
        .args(["totp", "confirm", "--password-stdin", "--code", &code])
        .stdin(b.password_line())
        .ok();
    let sa = a.signin();
    let sb = b.signin();
    let listed = clinic.cmd().json().arg("profiles").ok().json();
    let listed = listed.as_array().expect("profiles --json is an array");
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|p| p["totp_enabled"] == true),
        "{listed:?}"
    );

    a.with(&sa)
        .args([
            "patient",
            "add",
            "--name",
            "Alice Only",
            "--dob",
            "1990-01-01",
        ])
        .ok();
    b.with(&sb)
        .args([
            "patient",
            "add",
            "--name",
            "Bob Only",
            "--dob",
            "1991-01-01",
        ])
        .ok();
    assert_eq!(names(&a, &sa), ["Alice Only"]);
    assert_eq!(names(&b, &sb), ["Bob Only"]);
    // The token names its profile, so it also works without --profile.
    let plain = clinic.cmd().session(&sa).args(["patient", "list"]).ok();
    assert!(plain.stdout.contains("Alice Only") && !plain.stdout.contains("Bob"));

    // A's token pointed at B's profile: no such session there.
    let swap = |token: &str, to: &str| -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = to;
        parts.join(".")
    };
    let forged = swap(&sa, &b.id);
    let out = b
        .with(&forged)
        .json()
        .args(["patient", "list"])
        .user_error();
    assert!(
        out.error()["code"] == "session_expired" || out.error()["code"] == "session_invalid",
        "{out}"
    );
    // Even with A's session file copied into B's profile, B's keychain
    // secret does not open it.
    let session_id = sa.split('.').nth(2).expect("session id");
    let file = format!("{session_id}.json");
    std::fs::copy(
        a.dir().join("sessions").join(&file),
        b.dir().join("sessions").join(&file),
    )
    .expect("copy the session file");
    let out = b
        .with(&forged)
        .json()
        .args(["patient", "list"])
        .user_error();
    assert_eq!(out.error()["code"], "session_invalid", "{out}");
    assert_eq!(names(&b, &sb), ["Bob Only"]);

    // Locking A leaves B signed in.
    a.with(&sa).arg("lock").ok();
    a.with(&sa).args(["patient", "list"]).user_error();
    assert_eq!(names(&b, &sb), ["Bob Only"]);
}

/// `--profile B` with A's session token must not quietly act on A: a script
/// that selects B would otherwise file B's patients in A's records.
#[test]
fn profile_flag_must_match_the_session() {
    let Some(clinic) = Clinic::new("profile_flag_must_match_the_session") else {
        return;
    };
    let mut a = clinic.init("dr.first");
    let b = clinic.init("dr.second");
    let sa = a.ready();
    let out = b
        .with(&sa)
        .json()
        .args([
            "patient",
            "add",
            "--name",
            "Meant For Second",
            "--dob",
            "1990-01-01",
        ])
        .run();
    assert_eq!(
        names(&a, &sa),
        Vec::<String>::new(),
        "added to the wrong profile: {out}"
    );
    assert_eq!(out.code, Some(1), "refused as the user's error: {out}");
}
