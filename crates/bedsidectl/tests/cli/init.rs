//! Creating a profile: refusals leave nothing behind, and a failed `init`
//! never strands a profile whose TOTP secret nobody has seen.

use crate::support::{Clinic, PASSWORD};

fn profile_dirs(clinic: &Clinic) -> usize {
    std::fs::read_dir(clinic.path().join("profiles")).map_or(0, |d| d.count())
}

#[test]
fn init_refusals_leave_nothing_behind() {
    let Some(clinic) = Clinic::new("init_refusals_leave_nothing_behind") else {
        return;
    };
    let line = format!("{PASSWORD}\n");
    let line = line.as_str();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--username", "dr.a", "--display-name", "A"],
            "short\n",
            "at least 12 characters",
        ),
        (
            &["--username", "Dr A", "--display-name", "A"],
            line,
            "username",
        ),
        (&["--username", "", "--display-name", "A"], line, "username"),
        (
            &["--username", "dr.a", "--display-name", " "],
            line,
            "display name",
        ),
        (
            &["--username", "dr.a", "--display-name", "A\u{7}"],
            line,
            "display name",
        ),
        (
            &[
                "--username",
                "dr.a",
                "--display-name",
                "A",
                "--escrow-public-key",
                "garbage",
            ],
            line,
            "escrow",
        ),
        (
            // A base64url key may start with `-`: it must reach the key
            // parser, not be taken for a flag.
            &[
                "--username",
                "dr.a",
                "--display-name",
                "A",
                "--escrow-public-key",
                "-garbage",
            ],
            line,
            "escrow",
        ),
        (
            &["--username", "dr.a", "--display-name", "A"],
            "",
            "standard input",
        ),
    ];
    for (args, stdin, fragment) in cases {
        clinic
            .cmd()
            .args(["init", "--password-stdin"])
            .args(*args)
            .stdin(*stdin)
            .user_error()
            .says(&[fragment]);
        assert_eq!(
            profile_dirs(&clinic),
            0,
            "a refused init left a profile: {args:?}"
        );
    }
    let p = clinic.init("dr.a");
    clinic
        .cmd()
        .args([
            "init",
            "--username",
            "dr.a",
            "--display-name",
            "Again",
            "--password-stdin",
        ])
        .stdin(p.password_line())
        .user_error()
        .says(&["already exists"]);
    assert_eq!(profile_dirs(&clinic), 1);
}

/// If the QR file cannot be written, the person must still be able to
/// finish enrolling: either the secret was printed anyway, or nothing was
/// created and `init` can simply be run again.
#[test]
fn init_with_an_unwritable_qr_path_can_be_finished() {
    let Some(clinic) = Clinic::new("init_with_an_unwritable_qr_path_can_be_finished") else {
        return;
    };
    let bad = clinic.path().join("no-such-dir").join("enrol.png");
    let first = clinic
        .cmd()
        .args([
            "init",
            "--username",
            "dr.qr",
            "--display-name",
            "QR",
            "--password-stdin",
            "--qr",
        ])
        .arg(&bad)
        .stdin(format!("{PASSWORD}\n"))
        .env_error();
    first.says(&["enrol.png"]);
    if first.stdout.contains("otpauth://") {
        return;
    }
    let good = clinic.path().join("enrol.png");
    let retry = clinic
        .cmd()
        .args([
            "init",
            "--username",
            "dr.qr",
            "--display-name",
            "QR",
            "--password-stdin",
            "--qr",
        ])
        .arg(&good)
        .stdin(format!("{PASSWORD}\n"))
        .run();
    assert_eq!(
        retry.code,
        Some(0),
        "the first init created the profile but never showed its TOTP secret, \
         and no command shows it again: {retry}"
    );
}
