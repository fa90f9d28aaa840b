//! Workspace invariants from ARCHITECTURE.md, enforced: every Rust module
//! starts with a `//!` line, the core crates know nothing of Tauri, web
//! servers or async runtimes, the relay knows nothing of the clinician's
//! data (no store, vault or core), and `unsafe` lives only in the codec
//! crate's libvpx module, the SQLCipher provider's FFI module and the
//! DirectShow crate's COM module.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !matches!(name, "target" | "node_modules" | "gen" | "dist" | ".git") {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") && name != "build.rs" {
            out.push(p);
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_line() {
    let root = bedside_tests::workspace_root();
    let mut files = vec![];
    for d in ["crates", "src-tauri/src", "tests", "xtask/src"] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 20, "found the sources ({})", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a leading //! line: {missing:?}"
    );
}

#[test]
fn core_crates_know_nothing_of_tauri_or_servers_and_nothing_ships_test_support() {
    let root = bedside_tests::workspace_root();
    let out = std::process::Command::new(env!("CARGO"))
        // Not --offline: metadata reads the manifests of every platform's
        // dependencies, which a Linux build never downloads.
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let nodes = meta["resolve"]["nodes"].as_array().expect("nodes");
    let name_of = |id: &str| {
        id.split(['#', '@'])
            .filter(|s| !s.is_empty())
            .nth(1)
            .unwrap_or(id)
            .to_string()
    };
    let deps_of = |id: &str| -> Vec<String> {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| {
                n["deps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    // Normal dependencies only: dev-dependencies do not ship.
                    .filter(|d| {
                        d["dep_kinds"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|k| k["kind"].is_null())
                    })
                    .filter_map(|d| d["pkg"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let packages = meta["packages"].as_array().expect("packages");
    for core in [
        "bedside-vault",
        "bedside-store",
        "bedside-core",
        "bedside-visit",
        "bedside-protocol",
        "bedside-policy",
        "bedside-codec",
        "bedside-capture",
    ] {
        let id = packages
            .iter()
            .find(|p| p["name"] == core)
            .and_then(|p| p["id"].as_str())
            .expect("core crate")
            .to_owned();
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone()) {
                stack.extend(deps_of(&id));
            }
        }
        let names: Vec<String> = seen.iter().map(|id| name_of(id)).collect();
        for forbidden in ["tauri", "wry", "axum", "hyper", "tokio"] {
            assert!(
                !names.iter().any(|n| n == forbidden),
                "{core} must not depend on {forbidden} (it does, transitively)"
            );
        }
    }
    // Test support (a relay with a throwaway clinic key, a host that admits anyone with the
    // link) is for tests and benches only: no package may ship with it.
    let testkit = packages
        .iter()
        .find(|p| p["name"] == "bedside-testkit")
        .and_then(|p| p["id"].as_str())
        .expect("bedside-testkit");
    for package in packages {
        let name = package["name"].as_str().unwrap_or("?");
        let id = package["id"].as_str().expect("package id");
        assert!(
            !deps_of(id).iter().any(|d| d == testkit),
            "{name} depends on bedside-testkit outside [dev-dependencies]"
        );
    }
}

#[test]
fn the_relay_cannot_reach_patient_data() {
    let root = bedside_tests::workspace_root();
    let manifest = std::fs::read_to_string(root.join("crates/bedside-relay/Cargo.toml"))
        .expect("relay manifest");
    for forbidden in ["bedside-store", "bedside-vault", "bedside-core", "rusqlite"] {
        assert!(
            !manifest
                .lines()
                .any(|l| l.trim_start().starts_with(forbidden)),
            "the relay must not depend on {forbidden}: it holds no PHI"
        );
    }
}

#[test]
fn unsafe_code_lives_only_in_the_three_ffi_modules() {
    let root = bedside_tests::workspace_root();
    // The modules allowed to hold unsafe code (each says so itself).
    let allowed = [
        root.join("crates/bedside-codec/src/vp8.rs"),
        root.join("crates/bedside-sqlcipher/src/ffi.rs"),
        root.join("crates/bedside-dshow/src/graph.rs"),
    ];
    let mut files = vec![];
    for d in ["crates", "src-tauri/src", "tests", "xtask/src"] {
        rust_files(&root.join(d), &mut files);
    }
    let this_file = root.join("tests/tests/tidy.rs");
    let keyword = ["un", "safe"].concat();
    let offending: Vec<_> = files
        .iter()
        .filter(|f| !allowed.contains(f) && **f != this_file)
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            text.lines().any(|l| {
                let code = l.split("//").next().unwrap_or("");
                code.contains(&format!("{keyword} {{"))
                    || code.contains(&format!("{keyword} impl"))
                    || code.contains(&format!("{keyword} fn"))
                    || code.contains(&format!("{keyword} extern"))
                    || code.contains(&format!("{keyword}_code)"))
            })
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        offending.is_empty(),
        "unsafe code outside bedside-codec's vp8, bedside-sqlcipher's ffi and bedside-dshow's graph modules: {offending:?}"
    );
    for module in &allowed {
        let text = std::fs::read_to_string(module).expect("unsafe module");
        assert!(
            text.contains(&format!("#![allow({keyword}_code)]")),
            "{} opts in",
            module.display()
        );
    }

    // Every other crate takes the workspace lints (unsafe_code = forbid);
    // the codec, SQLCipher provider and DirectShow crates deny it and
    // enforce SAFETY comments.
    let mut manifests = vec![
        root.join("src-tauri/Cargo.toml"),
        root.join("tests/Cargo.toml"),
        root.join("xtask/Cargo.toml"),
    ];
    for e in std::fs::read_dir(root.join("crates"))
        .expect("crates")
        .flatten()
    {
        manifests.push(e.path().join("Cargo.toml"));
    }
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    assert!(workspace.contains(&format!("{keyword}_code = \"forbid\"")));
    for m in manifests {
        let text = std::fs::read_to_string(&m).expect("manifest");
        let name = m.strip_prefix(&root).unwrap_or(&m).display().to_string();
        if name.starts_with("crates/bedside-codec/")
            || name.starts_with("crates/bedside-sqlcipher/")
            || name.starts_with("crates/bedside-dshow/")
        {
            assert!(
                text.contains(&format!("{keyword}_code = \"deny\"")),
                "{name}"
            );
            assert!(
                text.contains("undocumented_unsafe_blocks = \"deny\""),
                "{name}"
            );
        } else {
            assert!(
                text.contains("[lints]\nworkspace = true"),
                "{name} must use the workspace lints"
            );
        }
    }
}
