//! macOS managed preferences: `/Library/Managed Preferences/<bundle id>.plist`, which macOS
//! writes from a configuration profile an MDM pushes (the `.mobileconfig` from
//! [`crate::templates`]). Everything there is enforced, so it is one mandatory layer; the same
//! merge then applies precedence, validation and floors, and reports unknown keys.
//!
//! [`layer_from_plist`] is the pure conversion (tested on every OS). The file read is
//! compiled on macOS only (`read`): the same size and ownership checks as the Linux files,
//! then `plist` (XML or binary).

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::merge::{Layer, Level, Source};
use crate::sources::SourceProblem;
use crate::templates::BUNDLE_ID;

/// Where macOS puts computer-wide managed preferences.
pub const MANAGED_PREFERENCES: &str = "/Library/Managed Preferences";

/// `/Library/Managed Preferences/<bundle id>.plist`.
pub fn plist_path() -> PathBuf {
    PathBuf::from(MANAGED_PREFERENCES).join(format!("{BUNDLE_ID}.plist"))
}

/// Converts a managed-preferences dictionary into one mandatory layer. Values plist has and
/// JSON has not (data, dates, UIDs) are reported and left out; everything else goes to the
/// merge as is, so wrong types and unknown names are reported there, like on Linux.
pub fn layer_from_plist(
    value: &plist::Value,
    location: &str,
) -> (Option<Layer>, Vec<SourceProblem>) {
    let Some(dict) = value.as_dictionary() else {
        return (
            None,
            vec![SourceProblem {
                path: PathBuf::from(location),
                reason: "expected a dictionary of policy names to values".into(),
            }],
        );
    };
    let mut values = Map::new();
    let mut problems = Vec::new();
    for (name, v) in dict {
        match to_json(v) {
            Some(json) => {
                values.insert(name.clone(), json);
            }
            None => problems.push(SourceProblem {
                path: PathBuf::from(format!("{location}: {name}")),
                reason: "a data, date or UID value is not a policy value; ignored".into(),
            }),
        }
    }
    let layer = Layer {
        source: Source::Platform {
            location: location.to_owned(),
        },
        level: Level::Mandatory,
        values,
    };
    (Some(layer), problems)
}

fn to_json(v: &plist::Value) -> Option<Value> {
    use plist::Value as P;
    match v {
        P::Boolean(b) => Some(Value::Bool(*b)),
        P::Integer(i) => i
            .as_signed()
            .map(Value::from)
            .or_else(|| i.as_unsigned().map(Value::from)),
        P::Real(r) => serde_json::Number::from_f64(*r).map(Value::Number),
        P::String(s) => Some(Value::String(s.clone())),
        P::Array(a) => a
            .iter()
            .map(to_json)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        P::Dictionary(d) => d
            .iter()
            .map(|(k, v)| to_json(v).map(|j| (k.clone(), j)))
            .collect::<Option<Map<_, _>>>()
            .map(Value::Object),
        _ => None,
    }
}

/// Reads the managed preferences, if any (absent file: no policy).
#[cfg(target_os = "macos")]
pub fn read() -> (Vec<Layer>, Vec<SourceProblem>) {
    let path = plist_path();
    if !path.exists() {
        return (Vec::new(), Vec::new());
    }
    let location = path.display().to_string();
    let parsed = crate::sources::read_bytes(&path).and_then(|bytes| {
        plist::Value::from_reader(std::io::Cursor::new(bytes))
            .map_err(|_| "not a valid property list".to_owned())
    });
    match parsed {
        Ok(value) => {
            let (layer, problems) = layer_from_plist(&value, &location);
            (layer.into_iter().collect(), problems)
        }
        Err(reason) => (Vec::new(), vec![SourceProblem { path, reason }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::{Status, merge};

    fn parse(xml: &str) -> plist::Value {
        plist::Value::from_reader(std::io::Cursor::new(xml.as_bytes())).expect("plist")
    }

    #[test]
    fn the_mdm_payload_converts_to_a_valid_mandatory_layer() {
        // The payload dictionary of our own .mobileconfig is what macOS writes to the file.
        let profile = parse(&crate::templates::mobileconfig());
        let payload = profile
            .as_dictionary()
            .and_then(|d| d.get("PayloadContent"))
            .and_then(|c| c.as_array())
            .and_then(|a| a.first())
            .and_then(|p| p.as_dictionary())
            .expect("payload")
            .iter()
            .filter(|(k, _)| !k.starts_with("Payload"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<plist::Dictionary>();
        let (layer, problems) =
            layer_from_plist(&plist::Value::Dictionary(payload), "/Library/x.plist");
        assert!(problems.is_empty(), "{problems:?}");
        let layer = layer.expect("layer");
        assert_eq!(layer.level, Level::Mandatory);
        let e = merge(&Map::new(), &[layer]);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!(e.int("IdleLockMinutes"), 10);
    }

    #[test]
    fn values_merge_like_linux_files_and_problems_are_reported() {
        let value = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>IdleLockMinutes</key><integer>4</integer>
  <key>TotpRequired</key><true/>
  <key>AllowedRelayOrigins</key><array><string>https://relay.clinic.example</string></array>
  <key>PasswordMinLength</key><string>twenty</string>
  <key>WaitingRoomEnabled</key><false/>
  <key>Teleport</key><true/>
  <key>EscrowPublicKey</key><data>AAEC</data>
  <key>MediaMaxBitrateKbps</key><real>1000.5</real>
</dict></plist>"#,
        );
        let (layer, problems) = layer_from_plist(&value, "/Library/Managed Preferences/b.plist");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].path.ends_with("b.plist: EscrowPublicKey"));
        let e = merge(&Map::new(), &[layer.expect("layer")]);
        assert_eq!(e.int("IdleLockMinutes"), 4);
        assert_eq!(
            e.get("AllowedRelayOrigins"),
            &serde_json::json!(["https://relay.clinic.example"])
        );
        assert!(
            !e.user_may_change("IdleLockMinutes"),
            "managed preferences are mandatory"
        );
        let status = |n: &str| e.problem(n).cloned();
        assert_eq!(status("Teleport"), Some(Status::Unknown));
        assert!(matches!(
            status("PasswordMinLength"),
            Some(Status::Invalid(_))
        ));
        assert!(matches!(
            status("MediaMaxBitrateKbps"),
            Some(Status::Invalid(_))
        ));
        assert!(matches!(
            status("WaitingRoomEnabled"),
            Some(Status::BelowFloor(_))
        ));
        assert!(e.bool("WaitingRoomEnabled"), "the floor holds");
    }

    #[test]
    fn a_file_that_is_not_a_dictionary_is_reported() {
        let (layer, problems) = layer_from_plist(&plist::Value::Boolean(true), "/x.plist");
        assert!(layer.is_none());
        assert!(problems[0].reason.contains("dictionary"));
    }

    #[test]
    fn the_path_uses_the_bundle_identifier() {
        assert_eq!(
            plist_path(),
            PathBuf::from("/Library/Managed Preferences/health.bedside.desktop.plist")
        );
    }
}
