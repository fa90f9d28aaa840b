//! Platform policy sources — the only IO in this crate.
//!
//! Linux: `/etc/bedside/policies/managed/*.json` and
//! `/etc/bedside/policies/recommended/*.json`, read in file-name order. A
//! file that cannot be read or parsed is reported and skipped; the others
//! still apply. (macOS managed preferences and the Windows registry come
//! with the installers, issue 5/5.)

use std::path::{Path, PathBuf};

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
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
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

fn read_file(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE {
        return Err("larger than 256 KiB".into());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
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
}
