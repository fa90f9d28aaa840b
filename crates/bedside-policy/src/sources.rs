//! Platform policy sources — the only IO in this crate.
//!
//! Linux: `/etc/bedside/policies/managed/*.json` and
//! `/etc/bedside/policies/recommended/*.json`, read in file-name order, plus
//! organisation-signed bundles `/etc/bedside/policies/managed/*.bundle.json`
//! verified against the keys pinned in `/etc/bedside/policies/keys/*.pub`
//! (base64url Ed25519 public keys). A file that cannot be read or parsed is
//! reported and skipped; the others still apply. Files and directories that
//! other users may write (group- or world-writable) are refused, as sshd's
//! `StrictModes` does: a policy any local user can edit is no policy.
//!
//! macOS and Windows add their own store first ([`read_os`]): managed
//! preferences ([`crate::macos`]) and `HKLM\SOFTWARE\Policies\Bedside`
//! ([`crate::windows`]). Those layers go through the same merge, so precedence,
//! validation, floors and unknown-key reports are the same everywhere.
//!
//! Signed bundles take precedence over plain managed files. The caller keeps
//! a [`Remembered`] copy of the last bundle applied (it decides where: the
//! desktop app uses its data directory): a bundle older than it is refused and
//! reported, and the remembered one — re-verified — stays in force in its place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::{self, BundleError};
use crate::merge::{Layer, Level, Source};

/// A source file that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceProblem {
    /// The file.
    pub path: PathBuf,
    /// Why, in admin terms.
    pub reason: String,
}

/// The default Linux policy root.
pub const LINUX_ROOT: &str = "/etc/bedside/policies";
const MAX_FILE: u64 = 256 * 1024;

/// Reads `<root>/managed/*.json` and `<root>/recommended/*.json`.
pub fn read_dir_layers(root: &Path) -> (Vec<Layer>, Vec<SourceProblem>) {
    let mut layers = Vec::new();
    let mut problems = Vec::new();
    for (sub, level) in [
        ("recommended", Level::Recommended),
        ("managed", Level::Mandatory),
    ] {
        let dir = root.join(sub);
        let Some(files) = list(&dir, ".json", &mut problems) else {
            continue;
        };
        for path in files.into_iter().filter(|p| !is_bundle(p)) {
            match read_file(&path) {
                Ok(values) => layers.push(Layer {
                    source: Source::Platform {
                        location: path.display().to_string(),
                    },
                    level,
                    values,
                }),
                Err(reason) => problems.push(SourceProblem { path, reason }),
            }
        }
    }
    (layers, problems)
}

fn is_bundle(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".bundle.json"))
}

/// The files in `dir` whose names end with `suffix`, sorted; `None` when the
/// directory is absent or refused (the refusal goes to `problems`).
fn list(dir: &Path, suffix: &str, problems: &mut Vec<SourceProblem>) -> Option<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).ok()?;
    if let Err(reason) = check_mode(dir) {
        problems.push(SourceProblem {
            path: dir.to_owned(),
            reason,
        });
        return None;
    }
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix) && !n.starts_with('.'))
        })
        .collect();
    files.sort();
    Some(files)
}

/// Refuses files and directories other users may write.
#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.permissions().mode() & 0o022 != 0 {
        return Err("writable by other users; refused (chmod go-w)".into());
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path) -> Result<(), String> {
    Ok(())
}

/// Reads a policy source file: size-limited, mode-checked.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE {
        return Err("larger than 256 KiB".into());
    }
    check_mode(path)?;
    std::fs::read(path).map_err(|e| e.to_string())
}

fn read_file(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let bytes = read_bytes(path)?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("expected a JSON object of policy names to values".into()),
        Err(e) => Err(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )),
    }
}

/// The last signed bundle applied, as the caller keeps it between runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// Its version: no lower version is applied again.
    pub version: u64,
    /// The bundle text, re-verified whenever it is used.
    pub bundle: String,
}

/// The bundle in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct AppliedBundle {
    /// Its version.
    pub version: u64,
    /// The file it came from, or `remembered` when an older file was refused
    /// and the remembered bundle stays in force.
    pub location: String,
}

/// A bundle that was not applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct RefusedBundle {
    /// The file.
    pub location: String,
    /// Why, in admin terms.
    pub reason: String,
}

/// What happened to signed bundles, for the Policy page and `policy show`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct BundleReport {
    /// How many organisation keys are pinned.
    pub trusted_keys: usize,
    /// The bundle in force, if any.
    pub applied: Option<AppliedBundle>,
    /// Bundles refused (bad signature, older than the last applied, superseded).
    pub refused: Vec<RefusedBundle>,
    /// The highest version ever applied here (from the caller's memory).
    pub last_applied_version: Option<u64>,
}

/// Everything read from the platform's policy locations.
#[derive(Clone, Debug, Default)]
pub struct Platform {
    /// Layers to merge, lowest precedence first (a signed bundle last).
    pub layers: Vec<Layer>,
    /// Unreadable or refused files.
    pub problems: Vec<SourceProblem>,
    /// Signed bundles.
    pub bundle: BundleReport,
    /// A new memory for the caller to keep, when a newer bundle was applied.
    pub remember: Option<Remembered>,
}

/// The operating system's own policy store: macOS managed preferences.
#[cfg(target_os = "macos")]
pub fn read_os() -> (Vec<Layer>, Vec<SourceProblem>) {
    crate::macos::read()
}

/// The operating system's own policy store: the Windows registry.
#[cfg(windows)]
pub fn read_os() -> (Vec<Layer>, Vec<SourceProblem>) {
    crate::windows::read()
}

/// The operating system's own policy store: none on Linux (the directories are it).
#[cfg(not(any(target_os = "macos", windows)))]
pub fn read_os() -> (Vec<Layer>, Vec<SourceProblem>) {
    (Vec::new(), Vec::new())
}

/// Reads the OS store ([`read_os`]), then plain policy files, pinned keys and
/// signed bundles under `root`. Within a level later layers win: the files
/// under `root` over the OS store, a signed bundle over both.
pub fn read_platform(root: &Path, remembered: Option<&Remembered>) -> Platform {
    let (mut layers, mut problems) = read_os();
    let (dir_layers, dir_problems) = read_dir_layers(root);
    layers.extend(dir_layers);
    problems.extend(dir_problems);
    let keys = read_keys(&root.join("keys"), &mut problems);
    let mut report = BundleReport {
        trusted_keys: keys.len(),
        last_applied_version: remembered.map(|r| r.version),
        ..BundleReport::default()
    };
    let last = remembered.map(|r| r.version);
    let mut best: Option<(bundle::Bundle, String, String)> = None;
    let mut rolled_back = false;
    let files = list(&root.join("managed"), ".bundle.json", &mut problems).unwrap_or_default();
    for path in files {
        let location = path.display().to_string();
        let refuse = |reason: String| RefusedBundle {
            location: location.clone(),
            reason,
        };
        let bytes = match read_bytes(&path) {
            Ok(b) => b,
            Err(reason) => {
                report.refused.push(refuse(reason));
                continue;
            }
        };
        if keys.is_empty() {
            report.refused.push(refuse(format!(
                "no organisation key is pinned ({}/keys/*.pub); refused",
                root.display()
            )));
            continue;
        }
        match bundle::verify(&bytes, keys.iter().map(|k| k.as_slice()), last) {
            Ok(b) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                match &best {
                    Some((cur, _, cur_loc)) if cur.version >= b.version => {
                        report.refused.push(refuse(format!(
                            "superseded by version {} in {cur_loc}",
                            cur.version
                        )));
                    }
                    _ => {
                        if let Some((_, _, old_loc)) = best.take() {
                            report.refused.push(RefusedBundle {
                                location: old_loc,
                                reason: format!(
                                    "superseded by version {} in {location}",
                                    b.version
                                ),
                            });
                        }
                        best = Some((b, text, location.clone()));
                    }
                }
            }
            Err(e) => {
                rolled_back |= matches!(e, BundleError::Rollback { .. });
                report.refused.push(refuse(e.to_string()));
            }
        }
    }
    let mut remember = None;
    let chosen = match best {
        Some((b, text, location)) => {
            if last.is_none_or(|v| b.version > v) || remembered.is_some_and(|r| r.bundle != text) {
                remember = Some(Remembered {
                    version: b.version,
                    bundle: text,
                });
            }
            Some((b, location))
        }
        // Every file was older than the remembered bundle: it stays in force.
        None if rolled_back => remembered.and_then(|r| {
            bundle::verify(r.bundle.as_bytes(), keys.iter().map(|k| k.as_slice()), None)
                .ok()
                .map(|b| (b, "remembered".to_owned()))
        }),
        None => None,
    };
    if let Some((b, location)) = chosen {
        report.applied = Some(AppliedBundle {
            version: b.version,
            location,
        });
        layers.push(Layer {
            source: Source::SignedBundle { version: b.version },
            level: Level::Mandatory,
            values: b.policies,
        });
    }
    Platform {
        layers,
        problems,
        bundle: report,
        remember,
    }
}

/// Reads the pinned organisation keys: `*.pub` files of base64url Ed25519 public keys.
fn read_keys(dir: &Path, problems: &mut Vec<SourceProblem>) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for path in list(dir, ".pub", problems).unwrap_or_default() {
        let parsed = read_bytes(&path).and_then(|b| {
            let text = String::from_utf8_lossy(&b);
            data_encoding::BASE64URL_NOPAD
                .decode(text.trim().as_bytes())
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| "expected a 32-byte Ed25519 public key in base64url".to_owned())
        });
        match parsed {
            Ok(k) => keys.push(k),
            Err(reason) => problems.push(SourceProblem { path, reason }),
        }
    }
    keys
}

/// Loads the remembered bundle from `path` (absent or unreadable: none).
pub fn load_remembered(path: &Path) -> Option<Remembered> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Saves the remembered bundle atomically (temp file, fsync, rename).
pub fn save_remembered(path: &Path, r: &Remembered) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::merge;

    #[test]
    fn reads_managed_and_recommended_and_reports_bad_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("managed")).expect("mkdir");
        std::fs::create_dir_all(root.join("recommended")).expect("mkdir");
        std::fs::write(
            root.join("managed/10-org.json"),
            r#"{"IdleLockMinutes": 5}"#,
        )
        .expect("write");
        std::fs::write(
            root.join("managed/20-site.json"),
            r#"{"IdleLockMinutes": 3}"#,
        )
        .expect("write");
        std::fs::write(
            root.join("managed/30-broken.json"),
            r#"{"IdleLockMinutes": "#,
        )
        .expect("write");
        std::fs::write(root.join("managed/notes.txt"), "ignored").expect("write");
        std::fs::write(
            root.join("recommended/10.json"),
            r#"{"MediaMaxBitrateKbps": 900}"#,
        )
        .expect("write");
        let (layers, problems) = read_dir_layers(root);
        assert_eq!(layers.len(), 3);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].path.ends_with("30-broken.json"));
        assert!(
            problems[0].reason.contains("not valid JSON"),
            "{}",
            problems[0].reason
        );
        let e = merge(&serde_json::Map::new(), &layers);
        assert_eq!(e.int("IdleLockMinutes"), 3, "later managed file wins");
        assert_eq!(e.int("MediaMaxBitrateKbps"), 900);
    }

    #[test]
    fn a_missing_root_is_no_policy() {
        let (layers, problems) = read_dir_layers(Path::new("/nonexistent/bedside/policies"));
        assert!(layers.is_empty() && problems.is_empty());
    }

    fn keypair() -> (ring::signature::Ed25519KeyPair, String) {
        use ring::signature::KeyPair;
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .expect("keygen");
        let k = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let public = data_encoding::BASE64URL_NOPAD.encode(k.public_key().as_ref());
        (k, public)
    }

    fn signed(k: &ring::signature::Ed25519KeyPair, version: u64, v: serde_json::Value) -> String {
        bundle::sign(k, version, v.as_object().cloned().unwrap_or_default())
    }

    fn root_with_key(public: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("managed")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("keys")).expect("mkdir");
        std::fs::write(dir.path().join("keys/org.pub"), format!("{public}\n")).expect("write");
        dir
    }

    #[test]
    fn a_signed_bundle_applies_over_plain_managed_files_and_is_remembered() {
        let (k, public) = keypair();
        let dir = root_with_key(&public);
        let root = dir.path();
        std::fs::write(
            root.join("managed/10-plain.json"),
            r#"{"IdleLockMinutes": 20, "InviteMaxDevices": 2}"#,
        )
        .expect("write");
        std::fs::write(
            root.join("managed/org.bundle.json"),
            signed(&k, 4, serde_json::json!({ "IdleLockMinutes": 5 })),
        )
        .expect("write");
        let p = read_platform(root, None);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let e = merge(&serde_json::Map::new(), &p.layers);
        assert_eq!(
            e.int("IdleLockMinutes"),
            5,
            "the bundle wins over plain files"
        );
        assert_eq!(
            e.int("InviteMaxDevices"),
            2,
            "plain files still set the rest"
        );
        let idle = e
            .entries
            .iter()
            .find(|x| x.name == "IdleLockMinutes")
            .expect("entry");
        assert_eq!(idle.source, Source::SignedBundle { version: 4 });
        assert_eq!(p.bundle.trusted_keys, 1);
        assert_eq!(p.bundle.applied.as_ref().map(|a| a.version), Some(4));
        let mem = p.remember.expect("a first bundle is remembered");
        assert_eq!(mem.version, 4);
        // Read again with that memory: nothing new to remember.
        assert!(read_platform(root, Some(&mem)).remember.is_none());
        // The memory survives a save and a load.
        let path = root.join("state/policy-bundle.json");
        save_remembered(&path, &mem).expect("save");
        assert_eq!(load_remembered(&path), Some(mem));
    }

    #[test]
    fn an_older_bundle_is_refused_and_the_remembered_one_stays_in_force() {
        let (k, public) = keypair();
        let dir = root_with_key(&public);
        let root = dir.path();
        let v5 = signed(&k, 5, serde_json::json!({ "IdleLockMinutes": 3 }));
        std::fs::write(root.join("managed/org.bundle.json"), &v5).expect("write");
        let mem = read_platform(root, None).remember.expect("remembered");
        // Someone puts an older, validly signed bundle in its place.
        std::fs::write(
            root.join("managed/org.bundle.json"),
            signed(&k, 2, serde_json::json!({ "IdleLockMinutes": 60 })),
        )
        .expect("write");
        let p = read_platform(root, Some(&mem));
        assert_eq!(p.bundle.refused.len(), 1);
        assert!(
            p.bundle.refused[0]
                .reason
                .contains("older than the version in force (5)"),
            "{}",
            p.bundle.refused[0].reason
        );
        assert_eq!(
            p.bundle.applied,
            Some(AppliedBundle {
                version: 5,
                location: "remembered".into()
            })
        );
        assert!(p.remember.is_none(), "the memory never goes backwards");
        assert_eq!(
            merge(&serde_json::Map::new(), &p.layers).int("IdleLockMinutes"),
            3
        );
        // A newer one applies and is remembered.
        std::fs::write(
            root.join("managed/org.bundle.json"),
            signed(&k, 6, serde_json::json!({ "IdleLockMinutes": 4 })),
        )
        .expect("write");
        let p = read_platform(root, Some(&mem));
        assert_eq!(p.remember.map(|r| r.version), Some(6));
        assert_eq!(
            merge(&serde_json::Map::new(), &p.layers).int("IdleLockMinutes"),
            4
        );
    }

    #[test]
    fn bundles_need_a_pinned_key_and_a_good_signature() {
        let (k, public) = keypair();
        let (other, _) = keypair();
        let dir = root_with_key(&public);
        let root = dir.path();
        std::fs::write(
            root.join("managed/a.bundle.json"),
            signed(&other, 9, serde_json::json!({ "IdleLockMinutes": 60 })),
        )
        .expect("write");
        std::fs::write(
            root.join("managed/b.bundle.json"),
            signed(&k, 1, serde_json::json!({ "IdleLockMinutes": 7 })),
        )
        .expect("write");
        let p = read_platform(root, None);
        assert_eq!(p.bundle.applied.as_ref().map(|a| a.version), Some(1));
        assert!(
            p.bundle.refused[0].reason.contains("signature"),
            "{:?}",
            p.bundle.refused
        );
        // Without a pinned key no bundle applies, whatever it says.
        std::fs::remove_file(root.join("keys/org.pub")).expect("rm");
        let p = read_platform(root, None);
        assert!(p.bundle.applied.is_none() && p.layers.is_empty());
        assert_eq!(p.bundle.refused.len(), 2);
        assert!(p.bundle.refused[0].reason.contains("no organisation key"));
    }

    #[cfg(unix)]
    #[test]
    fn files_other_users_may_write_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("managed")).expect("mkdir");
        let f = root.join("managed/10.json");
        std::fs::write(&f, r#"{"IdleLockMinutes": 60}"#).expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let (layers, problems) = read_dir_layers(root);
        assert!(layers.is_empty());
        assert!(problems[0].reason.contains("writable by other users"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(root.join("managed"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let (layers, problems) = read_dir_layers(root);
        assert!(layers.is_empty() && problems.len() == 1, "{problems:?}");
        std::fs::set_permissions(root.join("managed"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert_eq!(read_dir_layers(root).0.len(), 1);
    }
}
