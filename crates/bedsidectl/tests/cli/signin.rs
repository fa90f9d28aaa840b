//! Sign-in failures: one message for a wrong password or code, lockout after
//! five, and no way around a missing keychain item.

use std::process::Command;

use bedside_vault::{KeychainError, SecretStore, SystemKeychain};

use crate::support::{Clinic, Profile};

const INCORRECT: &str = "The password or the code is incorrect.";

fn signin(p: &Profile<'_>, password: &str, code: &str) -> crate::support::Cmd {
    p.cmd()
        .args(["signin", "--password-stdin", "--totp", code])
        .stdin(format!("{password}\n"))
}

#[test]
fn wrong_password_or_code_then_lockout() {
    let Some(clinic) = Clinic::new("wrong_password_or_code_then_lockout") else {
        return;
    };
    let mut p = clinic.init("dr.lockout");
    p.confirm();

    // Each code works once: the one just used is refused (failure 1).
    let code = p.totp.next();
    signin(&p, &p.password, &code).ok();
    let out = signin(&p, &p.password, &code).user_error();
    assert_eq!(out.stderr, format!("bedsidectl: {INCORRECT}\n"), "{out}");

    // Wrong password with a valid code, twice: the same sentence.
    for wrong in [
        "correct horse battery stapl",
        "Correct horse battery staple",
    ] {
        let out = signin(&p, wrong, &p.totp.peek()).user_error();
        assert_eq!(out.stderr, format!("bedsidectl: {INCORRECT}\n"), "{out}");
        assert!(out.stdout.is_empty(), "{out}");
    }
    // The right password with a wrong code, then a malformed code: the same
    // sentence, so the message does not tell which factor was wrong.
    let out = signin(&p, &p.password, &p.totp.wrong()).user_error();
    assert_eq!(out.stderr, format!("bedsidectl: {INCORRECT}\n"), "{out}");
    let out = signin(&p, &p.password, "12345").json().user_error();
    assert_eq!(out.error()["code"], "signin_failed", "{out}");
    assert_eq!(out.error()["message"], INCORRECT, "{out}");

    // Five failures: now even the right password and code wait.
    let out = signin(&p, &p.password, &p.totp.peek()).user_error();
    let secs: u64 = out
        .stderr
        .split("Try again in ")
        .nth(1)
        .and_then(|r| r.strip_suffix(" seconds.\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("\"Try again in N seconds.\": {out}"));
    assert!((1..=30).contains(&secs), "first wait is 30 s: {out}");
    let out = signin(&p, &p.password, &p.totp.peek()).json().user_error();
    assert_eq!(out.error()["code"], "locked_out", "{out}");
    // The lockout covers TOTP confirmation too.
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
        .says(&["Try again in"]);
}

/// Deletes the profile's keychain item the way a keyring reset would, with
/// the Secret Service's own tool.
fn delete_keychain_item(p: &Profile<'_>) {
    let status = Command::new("secret-tool")
        .args([
            "clear",
            "service",
            bedside_vault::keychain::SERVICE,
            "username",
            &p.keychain_item(),
        ])
        .status()
        .expect("run secret-tool (package libsecret-tools)");
    assert!(status.success(), "secret-tool clear: {status}");
    let keychain = SystemKeychain::new().expect("the test keychain");
    assert!(
        matches!(
            keychain.get(&p.keychain_item()),
            Err(KeychainError::Missing { .. })
        ),
        "secret-tool removed the item bedside uses"
    );
}

fn snapshot(clinic: &Clinic) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    clinic
        .files()
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).expect("read a data file");
            (f, bytes)
        })
        .collect()
}

#[test]
fn missing_keychain_item_is_an_environment_error_without_fallback() {
    let Some(clinic) =
        Clinic::new("missing_keychain_item_is_an_environment_error_without_fallback")
    else {
        return;
    };
    let mut p = clinic.init("dr.nokey");
    let s = p.ready();
    p.with(&s)
        .args([
            "patient",
            "add",
            "--name",
            "Kept Safe",
            "--dob",
            "1970-01-01",
        ])
        .ok();
    delete_keychain_item(&p);
    let before = snapshot(&clinic);

    // Sign-in: exit 2, naming the keyring and the way out.
    let out = signin(&p, &p.password, &p.totp.peek()).env_error();
    out.says(&["Secret Service keyring", "missing", "bedsidectl recover"]);
    assert!(!out.stderr.contains(super::support::PASSWORD), "{out}");
    let out = signin(&p, &p.password, &p.totp.peek()).json().env_error();
    assert_eq!(out.error()["code"], "keychain_unavailable", "{out}");
    // An open session cannot carry on without the item either.
    p.with(&s)
        .args(["patient", "list"])
        .env_error()
        .says(&["Secret Service keyring"]);
    p.cmd()
        .args([
            "totp",
            "confirm",
            "--password-stdin",
            "--code",
            &p.totp.peek(),
        ])
        .stdin(p.password_line())
        .env_error()
        .says(&["Secret Service keyring"]);

    // No fallback: no new or changed file, no new keychain item, no lockout.
    let after = snapshot(&clinic);
    let names =
        |v: &[(std::path::PathBuf, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(&before), "files appeared or vanished");
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert!(a == b, "{} changed", path.display());
    }
    let keychain = SystemKeychain::new().expect("the test keychain");
    assert!(
        matches!(
            keychain.get(&p.keychain_item()),
            Err(KeychainError::Missing { .. })
        ),
        "no keychain item was silently re-created"
    );
}
