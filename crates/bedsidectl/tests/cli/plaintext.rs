//! Nothing readable at rest or in logs: after a workload with marker strings,
//! no file under the data directory holds a marker, the database key, the
//! keychain secret or the TOTP secret, in any common encoding; trace logs
//! hold no marker either.

use bedside_vault::{Password, SecretStore, SystemKeychain, WrapFile};
use data_encoding::{BASE32, BASE32_NOPAD, BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD};

use crate::support::{Clinic, Profile};

/// Every form in which `secret` could plausibly have been written out.
fn encodings(what: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut v = vec![(format!("{what} (raw)"), secret.to_vec())];
    for (name, text) in [
        ("hex", data_encoding::HEXLOWER.encode(secret)),
        ("HEX", data_encoding::HEXUPPER.encode(secret)),
        ("base64", BASE64.encode(secret)),
        ("base64 (no padding)", BASE64_NOPAD.encode(secret)),
        ("base64url", BASE64URL.encode(secret)),
        ("base64url (no padding)", BASE64URL_NOPAD.encode(secret)),
        ("base32", BASE32.encode(secret)),
        ("base32 (no padding)", BASE32_NOPAD.encode(secret)),
    ] {
        v.push((format!("{what} ({name})"), text.into_bytes()));
    }
    v
}

/// A marker as UTF-8 and as UTF-16LE.
fn marker_forms(marker: &str) -> Vec<(String, Vec<u8>)> {
    let utf16: Vec<u8> = marker.encode_utf16().flat_map(u16::to_le_bytes).collect();
    vec![
        (format!("{marker} (UTF-8)"), marker.as_bytes().to_vec()),
        (format!("{marker} (UTF-16LE)"), utf16),
    ]
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Patient, appointment and two note versions carrying markers; returns the
/// appointment id.
fn workload(p: &Profile<'_>, s: &str, markers: &[String]) -> String {
    let [name, email, phone, mrn, reason, note1, note2, ..] = markers else {
        panic!("seven markers")
    };
    let pid = p
        .with(s)
        .json()
        .args(["patient", "add", "--name"])
        .arg(format!("Ada {name} Lovelace"))
        .args(["--dob", "1985-12-10", "--email"])
        .arg(format!("{email}@example.org"))
        .args(["--phone", phone, "--mrn", mrn])
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
            "Europe/Paris",
            "--duration",
            "20m",
            "--reason",
        ])
        .arg(format!("follow-up {reason}"))
        .ok()
        .id()
        .to_string();
    for text in [note1, note2] {
        p.with(s)
            .args(["note", "set", &aid, "--text-stdin"])
            .stdin(format!("Seen today. {text}\nPlan: rest."))
            .ok();
    }
    p.with(s).args(["patient", "list", "--search", name]).ok();
    p.with(s).args(["patient", "show", &pid]).ok();
    p.with(s).args(["note", "history", &aid]).ok();
    p.with(s).args(["audit", "export"]).ok();
    aid
}

#[test]
fn no_plaintext_at_rest_or_in_logs() {
    let Some(clinic) = Clinic::new("no_plaintext_at_rest_or_in_logs") else {
        return;
    };
    let mut p = clinic.init("dr.scan");
    let s = p.ready();
    let markers: Vec<String> = (1001..=1009).map(|n| format!("ZQXMARKER{n}")).collect();
    let aid = workload(&p, &s, &markers);

    // One command at trace level: the log names ids, never the data.
    let traced = p
        .with(&s)
        .env("BEDSIDE_LOG", "trace")
        .args(["patient", "add", "--dob", "1999-09-09", "--name"])
        .arg(format!("Traced {}", markers[7]))
        .ok();
    assert!(!traced.stderr.is_empty(), "trace logging produced nothing");
    let traced_note = p
        .with(&s)
        .env("BEDSIDE_LOG", "trace")
        .args(["note", "set", &aid, "--text-stdin"])
        .stdin(format!("traced note {}", markers[8]))
        .ok();
    p.with(&s).arg("lock").ok();

    // The keys, read the way the app reads them.
    let keychain = SystemKeychain::new().expect("the test keychain");
    let ks = keychain
        .get_secret(&p.keychain_item())
        .expect("the profile's keychain secret");
    let db_key = WrapFile::read(&p.dir().join("bedside.wrap"))
        .expect("wrap file")
        .open(&Password::new(p.password.clone()), &ks)
        .expect("the password and keychain secret open the wrap");

    let mut needles = vec![];
    for m in &markers {
        needles.extend(marker_forms(m));
    }
    needles.extend(encodings("database key", db_key.expose()));
    needles.extend(encodings("keychain secret", ks.expose()));
    needles.extend(encodings("TOTP secret", p.totp.secret()));

    let files = clinic.files();
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().and_then(|n| n.to_str()).map(String::from))
        .collect();
    for expected in ["bedside.db", "bedside.wrap", "profile.json"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let mut leaks = vec![];
    for f in &files {
        let bytes = std::fs::read(f).expect("read a data file");
        for (what, needle) in &needles {
            if find(&bytes, needle) {
                leaks.push(format!("{what} in {}", f.display()));
            }
        }
    }
    assert!(leaks.is_empty(), "plaintext at rest:\n{}", leaks.join("\n"));

    for out in [&traced, &traced_note] {
        for (what, needle) in &needles {
            assert!(
                !find(out.stderr.as_bytes(), needle),
                "{what} in a trace log:\n{out}"
            );
        }
    }
}
