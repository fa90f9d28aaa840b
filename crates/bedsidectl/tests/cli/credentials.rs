//! Changing the password, and an admin setting a new one with the escrow key.

use crate::support::{Clinic, Profile};

fn signin_with(p: &Profile<'_>, password: &str) -> crate::support::Cmd {
    p.cmd()
        .args(["signin", "--password-stdin", "--totp", &p.totp.peek()])
        .stdin(format!("{password}\n"))
}

fn audit_actions(p: &Profile<'_>, session: &str) -> Vec<String> {
    p.with(session)
        .json()
        .args(["audit", "export"])
        .ok()
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

#[test]
fn escrow_recovery() {
    let Some(clinic) = Clinic::new("escrow_recovery") else {
        return;
    };
    let key = clinic.path().join("escrow.key");
    let out = clinic
        .cmd()
        .json()
        .args(["escrow", "keygen", "--private-out"])
        .arg(&key)
        .ok();
    let public = out.json()["public_key"]
        .as_str()
        .expect("keygen prints the public key")
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private key readable by others");
    }
    // keygen never overwrites a key.
    clinic
        .cmd()
        .args(["escrow", "keygen", "--private-out"])
        .arg(&key)
        .env_error()
        .says(&["escrow.key"]);
    let wrong_key = clinic.path().join("other.key");
    clinic
        .cmd()
        .args(["escrow", "keygen", "--private-out"])
        .arg(&wrong_key)
        .ok();
    let not_a_key = clinic.path().join("not-a-key.txt");
    std::fs::write(&not_a_key, "hello\n").expect("write a decoy");

    let mut p = clinic.init_with("dr.escrow", &["--escrow-public-key", &public]);
    let s = p.ready();
    let pid = p
        .with(&s)
        .json()
        .args([
            "patient",
            "add",
            "--name",
            "Escrowed Patient",
            "--dob",
            "1985-05-05",
        ])
        .ok()
        .id();
    let wrap = p.dir().join("bedside.wrap");
    let wrap_before = std::fs::read(&wrap).expect("wrap");
    let new_password = "a brand new passphrase 2";

    // The wrong key, a file that is no key, a missing file: refused, nothing changed.
    let recover = |key: &std::path::Path, password: &str| {
        p.cmd()
            .args(["recover", "--password-stdin", "--escrow-key"])
            .arg(key)
            .stdin(format!("{password}\n"))
    };
    let out = recover(&wrong_key, new_password).run();
    assert!(matches!(out.code, Some(1 | 2)), "{out}");
    out.says(&["escrow key does not open this profile"]);
    recover(&not_a_key, new_password)
        .run()
        .says(&["not a Bedside escrow private key"]);
    recover(&clinic.path().join("missing.key"), new_password)
        .env_error()
        .says(&["missing.key"]);
    recover(&key, "short")
        .user_error()
        .says(&["at least 12 characters"]);
    assert_eq!(
        std::fs::read(&wrap).expect("wrap"),
        wrap_before,
        "a refused recovery changed the wrap file"
    );
    p.with(&s).args(["patient", "list"]).ok();

    // The right key: new password set, sessions ended.
    let out = recover(&key, new_password).json().ok();
    assert_eq!(out.json()["recovered"], true, "{out}");
    p.with(&s)
        .args(["patient", "list"])
        .user_error()
        .says(&["expired or was locked"]);
    signin_with(&p, &p.password)
        .user_error()
        .says(&["The password or the code is incorrect."]);
    p.password = new_password.to_owned();
    let s = p.signin();
    let patient = p
        .with(&s)
        .json()
        .args(["patient", "show", &pid.to_string()])
        .ok()
        .json();
    assert_eq!(patient["name"], "Escrowed Patient");
    let actions = audit_actions(&p, &s);
    for a in ["escrow.seal", "recover.escrow"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    // The failed sign-in with the old password was recorded as well.
    assert!(actions.iter().any(|x| x == "signin.failed"), "{actions:?}");
}

#[test]
fn recovery_without_escrow_is_refused() {
    let Some(clinic) = Clinic::new("recovery_without_escrow_is_refused") else {
        return;
    };
    let key = clinic.path().join("escrow.key");
    clinic
        .cmd()
        .args(["escrow", "keygen", "--private-out"])
        .arg(&key)
        .ok();
    let p = clinic.init("dr.noescrow");
    let out = p
        .cmd()
        .args(["recover", "--password-stdin", "--escrow-key"])
        .arg(&key)
        .stdin("a brand new passphrase 2\n")
        .run();
    assert!(matches!(out.code, Some(1 | 2)), "{out}");
    out.says(&["no escrow"]);
}

#[test]
fn password_change() {
    let Some(clinic) = Clinic::new("password_change") else {
        return;
    };
    let mut p = clinic.init("dr.change");
    let s = p.ready();
    let wrap = p.dir().join("bedside.wrap");
    let db = p.dir().join("bedside.db");
    let wrap_before = std::fs::read(&wrap).expect("wrap");
    let new_password = "another long passphrase";
    let change = |old: &str, new: &str| {
        p.with(&s)
            .args(["password", "change", "--password-stdin"])
            .stdin(format!("{old}\n{new}\n"))
    };

    // The old password wrong; the new one too short; only one line.
    change("not the password at all", new_password)
        .user_error()
        .says(&["The password or the code is incorrect."]);
    change(&p.password, "short")
        .user_error()
        .says(&["at least 12 characters"]);
    p.with(&s)
        .args(["password", "change", "--password-stdin"])
        .stdin(format!("{}\n", p.password))
        .user_error()
        .says(&["2 line(s)"]);
    assert_eq!(std::fs::read(&wrap).expect("wrap"), wrap_before);
    p.with(&s).args(["patient", "list"]).ok();

    // A real change: the database is not re-encrypted, only rewrapped.
    let db_before = std::fs::read(&db).expect("db");
    let out = change(&p.password, new_password).json().ok();
    assert_eq!(out.json()["changed"], true, "{out}");
    assert_ne!(std::fs::read(&wrap).expect("wrap"), wrap_before);
    let db_after = std::fs::read(&db).expect("db");
    // Page 1 carries the salt; the key is the same, so SQLCipher's salt is too.
    assert_eq!(db_after[..16], db_before[..16], "database re-keyed");
    p.with(&s)
        .args(["patient", "list"])
        .user_error()
        .says(&["expired or was locked"]);
    signin_with(&p, &p.password)
        .user_error()
        .says(&["The password or the code is incorrect."]);
    p.password = new_password.to_owned();
    let s = p.signin();
    let actions = audit_actions(&p, &s);
    assert!(
        actions.iter().any(|a| a == "password.change"),
        "{actions:?}"
    );
}
