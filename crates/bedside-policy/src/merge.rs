//! Merging policy layers into effective values (no IO).
//!
//! Precedence: managed > recommended > user setting > default. Within a
//! level, later layers win (files are read in name order, like `conf.d`).
//! A value of the wrong type or out of range is ignored and reported
//! `invalid`; a key no policy has is reported `unknown`; a value that would
//! loosen a floor is ignored and reported `below_floor`. None is fatal.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{self, POLICIES};

/// Mandatory or recommended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The user cannot change it.
    Mandatory,
    /// A default the user may change.
    Recommended,
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// Bedside's built-in default.
    Default,
    /// The user's own setting.
    User,
    /// A platform policy location (a file path, a registry key, a plist).
    Platform {
        /// Where exactly.
        location: String,
    },
    /// An organisation-signed bundle.
    SignedBundle {
        /// Its version.
        version: u64,
    },
}

/// One layer of policy values.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Where it came from.
    pub source: Source,
    /// Managed or recommended.
    pub level: Level,
    /// Name → value.
    pub values: Map<String, Value>,
}

/// How a value fared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// In force.
    Ok,
    /// Ignored: wrong type or out of range.
    Invalid(String),
    /// Ignored: no such policy.
    Unknown,
    /// Ignored: it would loosen a floor.
    BelowFloor(String),
}

/// One row of the Policy page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyEntry {
    /// The policy name.
    pub name: String,
    /// The value (effective, or the one that was refused).
    pub value: Value,
    /// Where it came from.
    pub source: Source,
    /// Mandatory or recommended (`None` for defaults and user settings).
    pub level: Option<Level>,
    /// What happened to it.
    pub status: Status,
}

/// The outcome of a merge.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Effective {
    /// One entry per known policy, with the value in force.
    pub entries: Vec<PolicyEntry>,
    /// Values that were ignored (invalid, unknown, below a floor).
    pub problems: Vec<PolicyEntry>,
}

impl Effective {
    /// The value in force for `name` (`Null` when unset).
    pub fn get(&self, name: &str) -> &Value {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map_or(&Value::Null, |e| &e.value)
    }

    /// A boolean policy (false when unset).
    pub fn bool(&self, name: &str) -> bool {
        self.get(name).as_bool().unwrap_or(false)
    }

    /// An integer policy (0 when unset).
    pub fn int(&self, name: &str) -> i64 {
        self.get(name).as_i64().unwrap_or(0)
    }

    /// A string policy.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).as_str()
    }

    /// The status of the first value reported for `name` (unknown, invalid,
    /// below floor), if any was.
    pub fn problem(&self, name: &str) -> Option<&Status> {
        self.problems
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.status)
    }

    /// Whether the user may change `name` (no mandatory policy sets it).
    pub fn user_may_change(&self, name: &str) -> bool {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .is_none_or(|e| e.level != Some(Level::Mandatory))
    }
}

/// Merges the user's settings and the policy layers.
pub fn merge(user: &Map<String, Value>, layers: &[Layer]) -> Effective {
    let mut out = Effective::default();
    let user_layer = Layer {
        source: Source::User,
        level: Level::Recommended,
        values: user.clone(),
    };
    // Report unknown keys once per layer.
    for layer in layers.iter().chain(std::iter::once(&user_layer)) {
        for (k, v) in &layer.values {
            if schema::find(k).is_none() {
                out.problems.push(PolicyEntry {
                    name: k.clone(),
                    value: v.clone(),
                    source: layer.source.clone(),
                    level: level_of(layer),
                    status: Status::Unknown,
                });
            }
        }
    }
    // Highest precedence first: managed (last file first), recommended, user.
    let mut ordered: Vec<&Layer> = Vec::new();
    ordered.extend(layers.iter().rev().filter(|l| l.level == Level::Mandatory));
    ordered.extend(
        layers
            .iter()
            .rev()
            .filter(|l| l.level == Level::Recommended),
    );
    ordered.push(&user_layer);
    for def in POLICIES {
        let mut chosen = None;
        for layer in &ordered {
            let Some(v) = layer.values.get(def.name) else {
                continue;
            };
            let refused = |status| PolicyEntry {
                name: def.name.into(),
                value: v.clone(),
                source: layer.source.clone(),
                level: level_of(layer),
                status,
            };
            if let Err(why) = schema::validate(def, v) {
                out.problems.push(refused(Status::Invalid(why)));
                continue;
            }
            if let Some((ok, why)) = def.floor
                && !ok(v)
            {
                out.problems.push(refused(Status::BelowFloor(why.into())));
                continue;
            }
            if chosen.is_none() {
                chosen = Some(PolicyEntry {
                    name: def.name.into(),
                    value: v.clone(),
                    source: layer.source.clone(),
                    level: level_of(layer),
                    status: Status::Ok,
                });
            }
        }
        out.entries.push(chosen.unwrap_or_else(|| PolicyEntry {
            name: def.name.into(),
            value: (def.default)(),
            source: Source::Default,
            level: None,
            status: Status::Ok,
        }));
    }
    out
}

fn level_of(layer: &Layer) -> Option<Level> {
    match layer.source {
        Source::User | Source::Default => None,
        _ => Some(layer.level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layer(level: Level, loc: &str, v: Value) -> Layer {
        Layer {
            source: Source::Platform {
                location: loc.into(),
            },
            level,
            values: v.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn precedence_managed_recommended_user_default() {
        let user = json!({ "IdleLockMinutes": 30, "PasswordMinLength": 14 })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let layers = [
            layer(
                Level::Recommended,
                "rec/10.json",
                json!({ "IdleLockMinutes": 20, "MediaMaxBitrateKbps": 1000 }),
            ),
            layer(
                Level::Mandatory,
                "man/10.json",
                json!({ "IdleLockMinutes": 5 }),
            ),
        ];
        let e = merge(&user, &layers);
        assert_eq!(e.int("IdleLockMinutes"), 5, "managed wins");
        assert!(!e.user_may_change("IdleLockMinutes"));
        assert_eq!(
            e.int("MediaMaxBitrateKbps"),
            1000,
            "recommended beats default"
        );
        assert!(e.user_may_change("MediaMaxBitrateKbps"));
        assert_eq!(e.int("PasswordMinLength"), 14, "user beats default");
        assert_eq!(e.int("InviteMaxDevices"), 1, "default");
        let idle = e
            .entries
            .iter()
            .find(|x| x.name == "IdleLockMinutes")
            .expect("entry");
        assert_eq!(
            idle.source,
            Source::Platform {
                location: "man/10.json".into()
            }
        );
        assert_eq!(idle.level, Some(Level::Mandatory));
        assert!(e.problems.is_empty());
    }

    #[test]
    fn later_files_win_within_a_level() {
        let layers = [
            layer(
                Level::Mandatory,
                "man/10.json",
                json!({ "IdleLockMinutes": 5 }),
            ),
            layer(
                Level::Mandatory,
                "man/20.json",
                json!({ "IdleLockMinutes": 7 }),
            ),
        ];
        assert_eq!(merge(&Map::new(), &layers).int("IdleLockMinutes"), 7);
    }

    #[test]
    fn invalid_and_unknown_are_reported_not_fatal() {
        let layers = [
            layer(
                Level::Mandatory,
                "man/10.json",
                json!({ "IdleLockMinutes": "five", "Teleport": true }),
            ),
            layer(
                Level::Recommended,
                "rec/10.json",
                json!({ "IdleLockMinutes": 15 }),
            ),
        ];
        let e = merge(&Map::new(), &layers);
        assert_eq!(
            e.int("IdleLockMinutes"),
            15,
            "the invalid managed value falls through"
        );
        assert!(
            e.problems
                .iter()
                .any(|p| p.name == "Teleport" && p.status == Status::Unknown)
        );
        assert!(
            e.problems
                .iter()
                .any(|p| p.name == "IdleLockMinutes" && matches!(p.status, Status::Invalid(_)))
        );
    }

    #[test]
    fn floors_cannot_be_loosened() {
        for name in [
            "WaitingRoomEnabled",
            "CallAuthenticationEnabled",
            "EncryptionAtRestEnabled",
        ] {
            let layers = [layer(
                Level::Mandatory,
                "man/evil.json",
                json!({ name: false }),
            )];
            let user = json!({ name: false })
                .as_object()
                .cloned()
                .unwrap_or_default();
            let e = merge(&user, &layers);
            assert!(e.bool(name), "{name} stays on");
            assert_eq!(
                e.problems
                    .iter()
                    .filter(|p| matches!(p.status, Status::BelowFloor(_)))
                    .count(),
                2
            );
        }
    }
}
