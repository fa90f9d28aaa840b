//! The admin's signed-bundle workflow through the real binary: `policy keygen`, `policy sign`,
//! pinning the key, `policy show --json` — and an older bundle refused. Needs no keychain.

use serde_json::Value;

use crate::support::Cmd;

fn show(root: &std::path::Path, data: &std::path::Path) -> Value {
    let out = Cmd::new()
        .env("BEDSIDE_POLICY_DIR", root)
        .env("BEDSIDE_DATA_DIR", data)
        .args(["policy", "show"])
        .json()
        .run();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.json()
}

fn entry<'a>(shown: &'a Value, name: &str) -> &'a Value {
    shown["policies"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == name))
        .expect("policy listed")
}

#[test]
fn keygen_sign_pin_show_and_an_older_bundle_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (root, data) = (dir.path().join("policies"), dir.path().join("data"));
    std::fs::create_dir_all(root.join("managed")).expect("mkdir");
    std::fs::create_dir_all(root.join("keys")).expect("mkdir");
    let key = dir.path().join("org-policy.key");
    let out = Cmd::new()
        .args(["policy", "keygen", "--private-out"])
        .arg(&key)
        .json()
        .run();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let public = out.json()["public_key"].as_str().expect("key").to_owned();
    std::fs::write(root.join("keys/org.pub"), format!("{public}\n")).expect("pin");

    let sign = |version: &str, idle: u32| {
        let file = dir.path().join(format!("policy-{version}.json"));
        std::fs::write(&file, format!(r#"{{"IdleLockMinutes": {idle}}}"#)).expect("write");
        let out = Cmd::new()
            .args(["policy", "sign"])
            .arg(&file)
            .arg("--key")
            .arg(&key)
            .args(["--version", version])
            .run();
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        std::fs::write(root.join("managed/org.bundle.json"), &out.stdout).expect("place");
    };

    sign("2", 5);
    let shown = show(&root, &data);
    let idle = entry(&shown, "IdleLockMinutes");
    assert_eq!(idle["value"], 5);
    assert_eq!(idle["source"]["kind"], "signed_bundle");
    assert_eq!(idle["source"]["version"], 2);
    assert_eq!(idle["level"], "mandatory");
    assert_eq!(shown["bundle"]["applied"]["version"], 2);
    assert_eq!(shown["bundle"]["trusted_keys"], 1);

    // A captured older bundle, validly signed, put back in place: refused, version 2 stays.
    sign("1", 60);
    let shown = show(&root, &data);
    assert_eq!(entry(&shown, "IdleLockMinutes")["value"], 5);
    assert_eq!(shown["bundle"]["applied"]["location"], "remembered");
    let refused = shown["bundle"]["refused"][0]["reason"]
        .as_str()
        .unwrap_or("");
    assert!(
        refused.contains("older than the version in force (2)"),
        "{refused}"
    );

    // Without the pinned key nothing signed applies, and the default returns.
    std::fs::remove_file(root.join("keys/org.pub")).expect("unpin");
    let shown = show(&root, &data);
    assert_eq!(
        entry(&shown, "IdleLockMinutes")["source"]["kind"],
        "default"
    );
    assert!(shown["bundle"]["applied"].is_null());
}
