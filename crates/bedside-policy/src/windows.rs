//! Windows policy: `HKLM\SOFTWARE\Policies\Bedside` (mandatory) and its `Recommended` subkey,
//! where Group Policy puts what the ADMX from [`crate::templates`] describes: booleans and
//! numbers as `REG_DWORD`, strings as `REG_SZ`, lists as a subkey of numbered `REG_SZ` values
//! (`…\Bedside\AllowedRelayOrigins\1`, `…\2`); a `REG_MULTI_SZ` list is accepted too.
//!
//! [`layer_from_registry`] is the pure conversion from registry values (modelled by
//! [`RegValue`], tested on every OS); `read` is the registry read, compiled on Windows only
//! (`windows-registry`). The layers go through the same merge as the Linux files: precedence,
//! validation, floors, unknown names reported. `HKLM\SOFTWARE\Policies` is writable by
//! administrators only, which is the check the Linux reader makes with file modes.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::merge::{Layer, Level, Source};
use crate::schema::{self, Kind};
use crate::sources::SourceProblem;

/// The mandatory policy key under `HKEY_LOCAL_MACHINE`.
pub const KEY: &str = r"SOFTWARE\Policies\Bedside";
/// The recommended policies' subkey of [`KEY`].
pub const RECOMMENDED: &str = "Recommended";

/// A registry value as read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegValue {
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_QWORD`.
    Qword(u64),
    /// `REG_SZ` or `REG_EXPAND_SZ` (not expanded).
    Sz(String),
    /// `REG_MULTI_SZ`.
    MultiSz(Vec<String>),
    /// Any other type (`REG_BINARY`, …), by name: reported, never used.
    Other(String),
}

/// A registry key as read: its values and (one level of) subkeys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegKey {
    /// Name → value.
    pub values: Vec<(String, RegValue)>,
    /// Subkeys by name (list policies; `Recommended` under the mandatory key).
    pub subkeys: Vec<(String, RegKey)>,
}

/// The policy's own spelling of `name` (registry names are case-insensitive), or `name`.
fn canonical(name: &str) -> (String, Option<Kind>) {
    match schema::POLICIES
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
    {
        Some(p) => (p.name.to_owned(), Some(p.kind)),
        None => (name.to_owned(), None),
    }
}

fn convert(kind: Option<Kind>, v: &RegValue) -> Result<Value, String> {
    let number = |n: u64| match (kind, n) {
        // Group Policy's enabled/disabled values.
        (Some(Kind::Bool), 0) => Value::Bool(false),
        (Some(Kind::Bool), 1) => Value::Bool(true),
        // Anything else stays a number: the merge reports it invalid where a boolean is due.
        _ => Value::from(n),
    };
    match v {
        RegValue::Dword(n) => Ok(number(u64::from(*n))),
        RegValue::Qword(n) => Ok(number(*n)),
        RegValue::Sz(s) => Ok(Value::String(s.clone())),
        RegValue::MultiSz(items) => Ok(Value::Array(
            items
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.clone()))
                .collect(),
        )),
        RegValue::Other(ty) => Err(format!("a {ty} value is not a policy value; ignored")),
    }
}

/// A list policy written as a subkey of numbered `REG_SZ` values, in number order.
fn list(sub: &RegKey, location: &str, problems: &mut Vec<SourceProblem>) -> Value {
    let mut items: Vec<(u32, String)> = Vec::new();
    for (n, v) in &sub.values {
        match (n.parse::<u32>(), v) {
            (Ok(i), RegValue::Sz(s)) => items.push((i, s.clone())),
            _ => problems.push(SourceProblem {
                path: PathBuf::from(format!(r"{location}\{n}")),
                reason: "list entries are REG_SZ values named 1, 2, 3, …; ignored".into(),
            }),
        }
    }
    items.sort_by_key(|(i, _)| *i);
    Value::Array(items.into_iter().map(|(_, s)| Value::String(s)).collect())
}

/// Converts one policy key (`location` names it, e.g. `HKLM\SOFTWARE\Policies\Bedside`) into a
/// layer at `level`. A mandatory key's `Recommended` subkey is not part of it (it is its own
/// layer); a list given both as a value and as a subkey is taken from the subkey.
pub fn layer_from_registry(
    key: &RegKey,
    location: &str,
    level: Level,
) -> (Layer, Vec<SourceProblem>) {
    let mut values = Map::new();
    let mut problems = Vec::new();
    for (name, v) in &key.values {
        let (name, kind) = canonical(name);
        match convert(kind, v) {
            Ok(json) => {
                values.insert(name, json);
            }
            Err(reason) => problems.push(SourceProblem {
                path: PathBuf::from(format!(r"{location}\{name}")),
                reason,
            }),
        }
    }
    for (name, sub) in &key.subkeys {
        if level == Level::Mandatory && name.eq_ignore_ascii_case(RECOMMENDED) {
            continue;
        }
        let (name, _) = canonical(name);
        let at = format!(r"{location}\{name}");
        let items = list(sub, &at, &mut problems);
        values.insert(name, items);
    }
    let layer = Layer {
        source: Source::Platform {
            location: location.to_owned(),
        },
        level,
        values,
    };
    (layer, problems)
}

/// Reads `HKLM\SOFTWARE\Policies\Bedside` and its `Recommended` subkey (absent: no policy).
#[cfg(windows)]
pub fn read() -> (Vec<Layer>, Vec<SourceProblem>) {
    let mut layers = Vec::new();
    let mut problems = Vec::new();
    let recommended = format!(r"{KEY}\{RECOMMENDED}");
    for (path, level) in [
        (recommended.as_str(), Level::Recommended),
        (KEY, Level::Mandatory),
    ] {
        let Ok(key) = windows_registry::LOCAL_MACHINE.open(path) else {
            continue;
        };
        let (layer, p) = layer_from_registry(&read_key(&key, 1), &format!(r"HKLM\{path}"), level);
        layers.push(layer);
        problems.extend(p);
    }
    (layers, problems)
}

/// The values of `key` and, `depth` levels down, of its subkeys.
#[cfg(windows)]
fn read_key(key: &windows_registry::Key, depth: u8) -> RegKey {
    use windows_registry::Type;
    let mut out = RegKey::default();
    if let Ok(values) = key.values() {
        for (name, value) in values {
            let ty = value.ty();
            let v = match ty {
                Type::U32 => u32::try_from(value).map(RegValue::Dword),
                Type::U64 => u64::try_from(value).map(RegValue::Qword),
                Type::String | Type::ExpandString => String::try_from(value).map(RegValue::Sz),
                Type::MultiString => Vec::<String>::try_from(value).map(RegValue::MultiSz),
                Type::Bytes => Ok(RegValue::Other("REG_BINARY".into())),
                Type::Other(n) => Ok(RegValue::Other(format!("type {n}"))),
            };
            let v = v.unwrap_or_else(|_| RegValue::Other(format!("{ty:?} (unreadable)")));
            out.values.push((name, v));
        }
    }
    if depth > 0
        && let Ok(names) = key.keys()
    {
        for name in names {
            if let Ok(sub) = key.open(&name) {
                let sub = read_key(&sub, depth - 1);
                out.subkeys.push((name, sub));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::{Status, merge};

    const AT: &str = r"HKLM\SOFTWARE\Policies\Bedside";

    fn sz(s: &str) -> RegValue {
        RegValue::Sz(s.into())
    }

    /// What Group Policy writes for the ADMX: DWORDs, REG_SZ, a list subkey, Recommended.
    fn group_policy() -> RegKey {
        RegKey {
            values: vec![
                ("IdleLockMinutes".into(), RegValue::Dword(5)),
                ("TotpRequired".into(), RegValue::Dword(1)),
                ("KnockRequiresDateOfBirth".into(), RegValue::Dword(0)),
                ("UpdateChannel".into(), sz("beta")),
                ("relayurl".into(), sz("https://relay.clinic.example")),
                ("WaitingRoomEnabled".into(), RegValue::Dword(0)),
                ("NotificationsShowNames".into(), RegValue::Dword(7)),
                ("Teleport".into(), RegValue::Dword(1)),
                (
                    "EscrowPublicKey".into(),
                    RegValue::Other("REG_BINARY".into()),
                ),
            ],
            subkeys: vec![
                (
                    "AllowedRelayOrigins".into(),
                    RegKey {
                        values: vec![
                            ("2".into(), sz("https://b.example")),
                            ("10".into(), sz("https://c.example")),
                            ("1".into(), sz("https://a.example")),
                            ("x".into(), sz("https://ignored.example")),
                        ],
                        subkeys: vec![],
                    },
                ),
                (
                    "Recommended".into(),
                    RegKey {
                        values: vec![("IdleLockMinutes".into(), RegValue::Dword(30))],
                        subkeys: vec![],
                    },
                ),
            ],
        }
    }

    #[test]
    fn group_policy_values_merge_like_linux_files() {
        let root = group_policy();
        let (managed, problems) = layer_from_registry(&root, AT, Level::Mandatory);
        let recommended_key = &root.subkeys[1].1;
        let (recommended, more) = layer_from_registry(
            recommended_key,
            &format!(r"{AT}\Recommended"),
            Level::Recommended,
        );
        assert!(more.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| {
            p.path
                .to_string_lossy()
                .ends_with(r"Bedside\EscrowPublicKey")
        }));
        assert!(
            problems
                .iter()
                .any(|p| p.path.to_string_lossy().ends_with(r"AllowedRelayOrigins\x"))
        );
        assert!(!managed.values.contains_key("Recommended"), "its own layer");

        let e = merge(&Map::new(), &[recommended, managed]);
        assert_eq!(e.int("IdleLockMinutes"), 5, "managed beats recommended");
        assert!(e.bool("TotpRequired"));
        assert!(!e.bool("KnockRequiresDateOfBirth"));
        assert_eq!(e.str("UpdateChannel"), Some("beta"));
        assert_eq!(
            e.str("RelayUrl"),
            Some("https://relay.clinic.example"),
            "registry names are case-insensitive"
        );
        assert_eq!(
            e.get("AllowedRelayOrigins"),
            &serde_json::json!([
                "https://a.example",
                "https://b.example",
                "https://c.example"
            ])
        );
        let status = |n: &str| e.problem(n).cloned();
        assert_eq!(status("Teleport"), Some(Status::Unknown));
        assert!(matches!(
            status("WaitingRoomEnabled"),
            Some(Status::BelowFloor(_))
        ));
        assert!(matches!(
            status("NotificationsShowNames"),
            Some(Status::Invalid(_))
        ));
        assert!(e.bool("WaitingRoomEnabled"), "the floor holds");
    }

    #[test]
    fn recommended_alone_can_be_changed_by_the_user() {
        let key = RegKey {
            values: vec![("IdleLockMinutes".into(), RegValue::Qword(20))],
            subkeys: vec![],
        };
        let (layer, _) = layer_from_registry(&key, AT, Level::Recommended);
        let e = merge(&Map::new(), &[layer]);
        assert_eq!(e.int("IdleLockMinutes"), 20);
        assert!(e.user_may_change("IdleLockMinutes"));
    }

    #[test]
    fn a_multi_string_list_is_accepted_and_empty_entries_dropped() {
        let key = RegKey {
            values: vec![(
                "TurnServers".into(),
                RegValue::MultiSz(vec!["turn:turn.example.org:3478".into(), String::new()]),
            )],
            subkeys: vec![],
        };
        let (layer, problems) = layer_from_registry(&key, AT, Level::Mandatory);
        assert!(problems.is_empty());
        let e = merge(&Map::new(), &[layer]);
        assert_eq!(
            e.get("TurnServers"),
            &serde_json::json!(["turn:turn.example.org:3478"])
        );
        assert!(e.problems.is_empty(), "{:?}", e.problems);
    }
}
