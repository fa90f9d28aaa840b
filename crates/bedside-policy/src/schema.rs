//! The policy schema: one table, the source of truth for parsing, merging,
//! the Policy page, `bedsidectl policy show` and the admin templates.

use serde_json::{Value, json};

/// A policy's value type, with its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// true / false.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A string (non-empty, at most 2 KiB).
    String,
    /// An `https://` URL (or `http://` on loopback).
    Url,
    /// A list of URLs.
    UrlList,
    /// A list of TURN/STUN URLs (`turn:`, `turns:`, `stun:`).
    IceUrlList,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A base64url key of 32 bytes (X25519 or Ed25519 public key).
    Key32,
    /// A version `MAJOR.MINOR.PATCH`.
    Version,
    /// A minisign public key, as `tauri signer generate` writes it (base64 of the
    /// two-line `.pub` file) or as minisign prints it (the bare `RW…` line).
    MinisignKey,
}

/// A floor: the check a value must pass, and why (for the Policy page).
pub type Floor = (fn(&Value) -> bool, &'static str);

/// One policy.
#[derive(Clone, Copy, Debug)]
pub struct PolicyDef {
    /// The name admins write (CamelCase, like Chrome's).
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The default value (JSON), or `null` for "unset".
    pub default: fn() -> Value,
    /// A value no policy may go below/loosen past, if any: `(floor, why)`.
    pub floor: Option<Floor>,
    /// One line for admins.
    pub description: &'static str,
}

fn t() -> Value {
    json!(true)
}
fn f() -> Value {
    json!(false)
}
fn null() -> Value {
    Value::Null
}
fn must_be_true(v: &Value) -> bool {
    v == &json!(true)
}

macro_rules! int {
    ($v:expr) => {{
        fn d() -> Value {
            json!($v)
        }
        d
    }};
}

/// Every policy.
pub const POLICIES: &[PolicyDef] = &[
    PolicyDef {
        name: "WaitingRoomEnabled",
        kind: Kind::Bool,
        default: t,
        floor: Some((must_be_true, "every visit has a waiting room")),
        description: "Every visit starts in a waiting room (cannot be turned off).",
    },
    PolicyDef {
        name: "CallAuthenticationEnabled",
        kind: Kind::Bool,
        default: t,
        floor: Some((must_be_true, "calls are always authenticated")),
        description: "Offer/answer tags and the SAS protect every call (cannot be turned off).",
    },
    PolicyDef {
        name: "EncryptionAtRestEnabled",
        kind: Kind::Bool,
        default: t,
        floor: Some((must_be_true, "data is always encrypted at rest")),
        description: "The local database is encrypted (cannot be turned off).",
    },
    PolicyDef {
        name: "InviteMaxLifetimeHours",
        kind: Kind::Int { min: 1, max: 168 },
        default: int!(24),
        floor: None,
        description: "Longest an invite link may stay valid.",
    },
    PolicyDef {
        name: "InviteMaxDevices",
        kind: Kind::Int { min: 1, max: 4 },
        default: int!(1),
        floor: None,
        description: "Devices a link admits before further ones need explicit admission.",
    },
    PolicyDef {
        name: "KnockRequiresDateOfBirth",
        kind: Kind::Bool,
        default: f,
        floor: None,
        description: "Patients give their date of birth as well as their name when they knock.",
    },
    PolicyDef {
        name: "IdleLockMinutes",
        kind: Kind::Int { min: 1, max: 60 },
        default: int!(10),
        floor: None,
        description: "Minutes without activity before the app locks.",
    },
    PolicyDef {
        name: "TotpRequired",
        kind: Kind::Bool,
        default: t,
        floor: None,
        description: "Sign-in needs a code from an authenticator app.",
    },
    PolicyDef {
        name: "PasswordMinLength",
        kind: Kind::Int { min: 8, max: 128 },
        default: int!(12),
        floor: None,
        description: "Minimum password length in characters.",
    },
    PolicyDef {
        name: "RelayUrl",
        kind: Kind::Url,
        default: null,
        floor: None,
        description: "The relay to use; unset means the embedded relay on this computer.",
    },
    PolicyDef {
        name: "AllowedRelayOrigins",
        kind: Kind::UrlList,
        default: null,
        floor: None,
        description: "Relays users may choose; unset means any https relay.",
    },
    PolicyDef {
        name: "TurnServers",
        kind: Kind::IceUrlList,
        default: null,
        floor: None,
        description: "TURN/STUN servers offered to calls (credentials come from the relay).",
    },
    PolicyDef {
        name: "MediaMaxBitrateKbps",
        kind: Kind::Int { min: 64, max: 8000 },
        default: int!(2500),
        floor: None,
        description: "Upper bound for the video bitrate of a call.",
    },
    PolicyDef {
        name: "AllowH264",
        kind: Kind::Bool,
        default: f,
        floor: None,
        description: "Offer H.264 in addition to VP8 (mind H.264 licensing).",
    },
    PolicyDef {
        name: "NotificationsShowNames",
        kind: Kind::Bool,
        default: f,
        floor: None,
        description: "Notifications may show patients' names (otherwise \"A patient is waiting\").",
    },
    PolicyDef {
        name: "EscrowPublicKey",
        kind: Kind::Key32,
        default: null,
        floor: None,
        description: "X25519 key the database key is also sealed to, for recovery.",
    },
    PolicyDef {
        name: "UpdateUrl",
        kind: Kind::Url,
        default: null,
        floor: None,
        description: "Where the app looks for signed updates.",
    },
    PolicyDef {
        name: "UpdatePublicKey",
        kind: Kind::MinisignKey,
        default: null,
        floor: None,
        description: "The minisign public key update artifacts must be signed with (tauri signer generate).",
    },
    PolicyDef {
        name: "UpdateChannel",
        kind: Kind::Choice(&["stable", "beta"]),
        default: || json!("stable"),
        floor: None,
        description: "Which release channel to follow.",
    },
    PolicyDef {
        name: "MinimumVersion",
        kind: Kind::Version,
        default: null,
        floor: None,
        description: "Older versions refuse to start visits and ask for an update.",
    },
    PolicyDef {
        name: "AuditCheckpointIntervalMinutes",
        kind: Kind::Int { min: 1, max: 1440 },
        default: int!(60),
        floor: None,
        description: "How often the audit chain's head is checkpointed outside the database.",
    },
    PolicyDef {
        name: "DataRetentionDays",
        kind: Kind::Int {
            min: 30,
            max: 36500,
        },
        default: int!(3650),
        floor: None,
        description: "How long finished visits' records are kept.",
    },
];

/// Looks a policy up by name.
pub fn find(name: &str) -> Option<&'static PolicyDef> {
    POLICIES.iter().find(|p| p.name == name)
}

fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let bare = host.rsplit_once(':').map_or(host, |(h, _)| h);
    !host.is_empty()
        && match scheme {
            "https" => true,
            "http" => matches!(bare, "127.0.0.1" | "localhost" | "[::1]"),
            _ => false,
        }
}

/// The 42 bytes of a minisign Ed25519 public key (`Ed`, key id, key) in either
/// accepted spelling (see [`Kind::MinisignKey`]), or `None`.
pub fn minisign_key_bytes(s: &str) -> Option<Vec<u8>> {
    let b64 = &data_encoding::BASE64;
    let bare = |line: &str| {
        b64.decode(line.trim().as_bytes())
            .ok()
            .filter(|k| k.len() == 42 && k.starts_with(b"Ed"))
    };
    let s = s.trim();
    bare(s).or_else(|| {
        let text = b64.decode(s.as_bytes()).ok()?;
        let text = String::from_utf8(text).ok()?;
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let first = lines.next()?;
        let key = if first.starts_with("untrusted comment:") {
            lines.next()?
        } else {
            first
        };
        if lines.next().is_some() {
            return None;
        }
        bare(key)
    })
}

/// Checks a value against a policy's type; `Err` says why, in admin terms.
pub fn validate(def: &PolicyDef, v: &Value) -> Result<(), String> {
    match def.kind {
        Kind::Bool => v
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| "expected true or false".into()),
        Kind::Int { min, max } => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            Some(_) => Err(format!("expected a number from {min} to {max}")),
            None => Err("expected a whole number".into()),
        },
        Kind::String => match v.as_str() {
            Some(s) if !s.trim().is_empty() && s.len() <= 2048 => Ok(()),
            _ => Err("expected a non-empty string".into()),
        },
        Kind::Url => match v.as_str() {
            Some(s) if is_url(s) => Ok(()),
            _ => Err("expected an https:// URL".into()),
        },
        Kind::UrlList => match v.as_array() {
            Some(a) if !a.is_empty() && a.iter().all(|u| u.as_str().is_some_and(is_url)) => Ok(()),
            _ => Err("expected a list of https:// URLs".into()),
        },
        Kind::IceUrlList => match v.as_array() {
            Some(a)
                if !a.is_empty()
                    && a.iter().all(|u| {
                        u.as_str().is_some_and(|s| {
                            ["turn:", "turns:", "stun:"]
                                .iter()
                                .any(|p| s.starts_with(p))
                                && s.len() > 6
                        })
                    }) =>
            {
                Ok(())
            }
            _ => Err("expected a list of turn:, turns: or stun: URLs".into()),
        },
        Kind::Choice(options) => match v.as_str() {
            Some(s) if options.contains(&s) => Ok(()),
            _ => Err(format!("expected one of: {}", options.join(", "))),
        },
        Kind::Key32 => match v
            .as_str()
            .and_then(|s| data_encoding::BASE64URL_NOPAD.decode(s.as_bytes()).ok())
        {
            Some(b) if b.len() == 32 => Ok(()),
            _ => Err("expected a 32-byte key in base64url".into()),
        },
        Kind::Version => match v.as_str() {
            Some(s)
                if s.split('.').count() == 3 && s.split('.').all(|p| p.parse::<u32>().is_ok()) =>
            {
                Ok(())
            }
            _ => Err("expected a version such as 1.4.0".into()),
        },
        Kind::MinisignKey => match v.as_str().and_then(minisign_key_bytes) {
            Some(_) => Ok(()),
            None => Err(
                "expected a minisign public key (the .pub file from tauri signer generate)".into(),
            ),
        },
    }
}

/// The JSON Schema (draft 2020-12) of a policy file, generated from [`POLICIES`].
pub fn json_schema() -> Value {
    let mut props = serde_json::Map::new();
    for p in POLICIES {
        let mut s = match p.kind {
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::Int { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
            Kind::String | Kind::Key32 | Kind::Version | Kind::MinisignKey => {
                json!({ "type": "string", "minLength": 1 })
            }
            Kind::Url => json!({ "type": "string", "format": "uri" }),
            Kind::UrlList | Kind::IceUrlList => {
                json!({ "type": "array", "items": { "type": "string" }, "minItems": 1 })
            }
            Kind::Choice(options) => json!({ "type": "string", "enum": options }),
        };
        if let Some(obj) = s.as_object_mut() {
            obj.insert("description".into(), json!(p.description));
            let d = (p.default)();
            if !d.is_null() {
                obj.insert("default".into(), d);
            }
        }
        props.insert(p.name.into(), s);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Bedside policy",
        "type": "object",
        "properties": props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_names_unique() {
        let mut names = std::collections::BTreeSet::new();
        for p in POLICIES {
            assert!(names.insert(p.name), "duplicate {}", p.name);
            let d = (p.default)();
            if !d.is_null() {
                validate(p, &d).unwrap_or_else(|e| panic!("{}: default invalid: {e}", p.name));
            }
            if let Some((ok, _)) = p.floor {
                assert!(ok(&d), "{}: the default must satisfy the floor", p.name);
            }
        }
        assert_eq!(
            json_schema()["properties"].as_object().map(|o| o.len()),
            Some(POLICIES.len())
        );
    }

    #[test]
    fn validation_catches_wrong_types_and_ranges() {
        let idle = find("IdleLockMinutes").expect("policy");
        assert!(validate(idle, &json!(5)).is_ok());
        assert!(validate(idle, &json!(0)).is_err());
        assert!(validate(idle, &json!("5")).is_err());
        let relay = find("RelayUrl").expect("policy");
        assert!(validate(relay, &json!("https://relay.example.org")).is_ok());
        assert!(validate(relay, &json!("http://127.0.0.1:8080")).is_ok());
        assert!(validate(relay, &json!("http://relay.example.org")).is_err());
        let turn = find("TurnServers").expect("policy");
        assert!(validate(turn, &json!(["turn:turn.example.org:3478"])).is_ok());
        assert!(validate(turn, &json!(["https://x"])).is_err());
        let ch = find("UpdateChannel").expect("policy");
        assert!(validate(ch, &json!("nightly")).is_err());
        let v = find("MinimumVersion").expect("policy");
        assert!(validate(v, &json!("1.2.3")).is_ok());
        assert!(validate(v, &json!("1.2")).is_err());
    }

    #[test]
    fn update_public_key_takes_either_minisign_spelling() {
        let key = find("UpdatePublicKey").expect("policy");
        // `minisign -G` prints the bare line; `tauri signer generate` writes base64 of the file.
        let bare = "RWTX5qZvdPSepDGWg2bz8n6ArQnBMwgQK1geVosorcbLzcunD+KJ+cYe";
        let file = format!("untrusted comment: minisign public key: A49EF4746FA6E6D7\n{bare}\n");
        let tauri = data_encoding::BASE64.encode(file.as_bytes());
        assert!(validate(key, &json!(bare)).is_ok());
        assert!(validate(key, &json!(tauri)).is_ok());
        assert_eq!(minisign_key_bytes(bare), minisign_key_bytes(&tauri));
        // Wrong length, an Ed25519 key in base64url (the policy-bundle kind), free text.
        assert!(validate(key, &json!("RWTX5qZvdPSepDGWg2bz8n6ArQnB")).is_err());
        let ed = data_encoding::BASE64URL_NOPAD.encode(&[7u8; 32]);
        assert!(validate(key, &json!(ed)).is_err());
        assert!(validate(key, &json!("my update key")).is_err());
    }
}
