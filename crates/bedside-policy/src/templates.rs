//! Admin templates generated from the schema: ADMX/ADML for Group Policy, a
//! `.mobileconfig` for MDM, and a Linux JSON example. One source of truth:
//! add a policy to [`crate::schema::POLICIES`] and every template follows.

use serde_json::Value;

use crate::schema::{Kind, POLICIES, PolicyDef};

/// The macOS preference domain (the app's bundle identifier).
pub const BUNDLE_ID: &str = "health.bedside.desktop";
const KEY: &str = r"Software\Policies\Bedside";
const KEY_RECOMMENDED: &str = r"Software\Policies\Bedside\Recommended";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn admx_policy(p: &PolicyDef, recommended: bool) -> String {
    let (name, key, category) = if recommended {
        (
            format!("{}_recommended", p.name),
            KEY_RECOMMENDED,
            "BedsideRecommended",
        )
    } else {
        (p.name.to_owned(), KEY, "Bedside")
    };
    let head = format!(
        "    <policy name=\"{name}\" class=\"Machine\" displayName=\"$(string.{n})\" explainText=\"$(string.{n}_Explain)\" key=\"{key}\"",
        n = p.name
    );
    let parent = format!(
        "      <parentCategory ref=\"{category}\" />\n      <supportedOn ref=\"SUPPORTED_BEDSIDE_1\" />\n"
    );
    match p.kind {
        Kind::Bool => format!(
            "{head} valueName=\"{n}\">\n{parent}      <enabledValue><decimal value=\"1\" /></enabledValue>\n      <disabledValue><decimal value=\"0\" /></disabledValue>\n    </policy>\n",
            n = p.name
        ),
        Kind::Int { min, max } => format!(
            "{head} presentation=\"$(presentation.{n})\">\n{parent}      <elements>\n        <decimal id=\"{n}\" valueName=\"{n}\" minValue=\"{min}\" maxValue=\"{max}\" />\n      </elements>\n    </policy>\n",
            n = p.name
        ),
        Kind::UrlList | Kind::IceUrlList => format!(
            "{head} presentation=\"$(presentation.{n})\">\n{parent}      <elements>\n        <list id=\"{n}\" key=\"{key}\\{n}\" valuePrefix=\"\" />\n      </elements>\n    </policy>\n",
            n = p.name
        ),
        Kind::Choice(options) => {
            let items: String = options
                .iter()
                .map(|o| {
                    format!(
                        "          <item displayName=\"$(string.{n}_{o})\"><value><string>{o}</string></value></item>\n",
                        n = p.name
                    )
                })
                .collect();
            format!(
                "{head} presentation=\"$(presentation.{n})\">\n{parent}      <elements>\n        <enum id=\"{n}\" valueName=\"{n}\">\n{items}        </enum>\n      </elements>\n    </policy>\n",
                n = p.name
            )
        }
        Kind::String | Kind::Url | Kind::Key32 | Kind::Version | Kind::MinisignKey => format!(
            "{head} presentation=\"$(presentation.{n})\">\n{parent}      <elements>\n        <text id=\"{n}\" valueName=\"{n}\" maxLength=\"2048\" />\n      </elements>\n    </policy>\n",
            n = p.name
        ),
    }
}

/// `bedside.admx`.
pub fn admx() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<policyDefinitions xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\" xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n  <policyNamespaces>\n    <target prefix=\"bedside\" namespace=\"Health.Bedside.Policies\" />\n  </policyNamespaces>\n  <resources minRequiredRevision=\"1.0\" />\n  <supportedOn>\n    <definitions>\n      <definition name=\"SUPPORTED_BEDSIDE_1\" displayName=\"$(string.SUPPORTED_BEDSIDE_1)\" />\n    </definitions>\n  </supportedOn>\n  <categories>\n    <category name=\"Bedside\" displayName=\"$(string.Bedside)\" />\n    <category name=\"BedsideRecommended\" displayName=\"$(string.BedsideRecommended)\" />\n  </categories>\n  <policies>\n",
    );
    for p in POLICIES {
        s.push_str(&admx_policy(p, false));
        // Floors cannot be recommended away either; offer them as mandatory only.
        if p.floor.is_none() {
            s.push_str(&admx_policy(p, true));
        }
    }
    s.push_str("  </policies>\n</policyDefinitions>\n");
    s
}

/// `en-US/bedside.adml`.
pub fn adml() -> String {
    let mut strings = String::new();
    let mut presentations = String::new();
    let mut add = |id: &str, text: &str| {
        strings.push_str(&format!(
            "      <string id=\"{id}\">{}</string>\n",
            xml_escape(text)
        ));
    };
    add("SUPPORTED_BEDSIDE_1", "Bedside 0.1 and later");
    add("Bedside", "Bedside");
    add(
        "BedsideRecommended",
        "Bedside - Default settings (users can override)",
    );
    for p in POLICIES {
        add(p.name, p.name);
        let mut explain = p.description.to_owned();
        if let Some((_, why)) = p.floor {
            explain.push_str(&format!(" This cannot be loosened: {why}."));
        }
        add(&format!("{}_Explain", p.name), &explain);
        if let Kind::Choice(options) = p.kind {
            for o in options {
                add(&format!("{}_{o}", p.name), o);
            }
        }
        let control = match p.kind {
            Kind::Bool => continue,
            Kind::Int { .. } => format!(
                "<decimalTextBox refId=\"{n}\">{n}</decimalTextBox>",
                n = p.name
            ),
            Kind::UrlList | Kind::IceUrlList => {
                format!("<listBox refId=\"{n}\">{n}</listBox>", n = p.name)
            }
            Kind::Choice(_) => {
                format!("<dropdownList refId=\"{n}\">{n}</dropdownList>", n = p.name)
            }
            _ => format!(
                "<textBox refId=\"{n}\"><label>{n}</label></textBox>",
                n = p.name
            ),
        };
        presentations.push_str(&format!(
            "      <presentation id=\"{}\">{control}</presentation>\n",
            p.name
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<policyDefinitionResources xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" revision=\"1.0\" schemaVersion=\"1.0\" xmlns=\"http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions\">\n  <displayName>Bedside</displayName>\n  <description>Bedside telehealth policies</description>\n  <resources>\n    <stringTable>\n{strings}    </stringTable>\n    <presentationTable>\n{presentations}    </presentationTable>\n  </resources>\n</policyDefinitionResources>\n"
    )
}

fn plist_value(v: &Value) -> Option<String> {
    Some(match v {
        Value::Bool(true) => "<true/>".into(),
        Value::Bool(false) => "<false/>".into(),
        Value::Number(n) => format!("<integer>{n}</integer>"),
        Value::String(s) => format!("<string>{}</string>", xml_escape(s)),
        Value::Array(a) => format!(
            "<array>{}</array>",
            a.iter().filter_map(plist_value).collect::<String>()
        ),
        _ => return None,
    })
}

/// Example values for every policy: the default where there is one, else a
/// sample that validates.
pub fn example_values() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for p in POLICIES {
        let d = (p.default)();
        let v = if d.is_null() {
            match p.kind {
                Kind::Url => Value::from("https://relay.example.org"),
                Kind::UrlList => Value::from(vec!["https://relay.example.org"]),
                Kind::IceUrlList => Value::from(vec!["turn:turn.example.org:3478"]),
                Kind::Key32 => Value::from(data_encoding::BASE64URL_NOPAD.encode(&[0u8; 32])),
                Kind::Version => Value::from("0.1.0"),
                // `Ed`, a key id and a key, all zero: the shape of a real key, not one.
                Kind::MinisignKey => {
                    let mut k = b"Ed".to_vec();
                    k.resize(42, 0);
                    Value::from(data_encoding::BASE64.encode(&k))
                }
                _ => Value::from("example"),
            }
        } else {
            d
        };
        m.insert(p.name.into(), v);
    }
    m
}

/// `bedside.mobileconfig`: a configuration profile with the managed preferences.
pub fn mobileconfig() -> String {
    let mut dict = String::new();
    for (k, v) in example_values() {
        if let Some(pv) = plist_value(&v) {
            dict.push_str(&format!("        <key>{k}</key>\n        {pv}\n"));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n    <dict>\n        <key>PayloadType</key>\n        <string>{BUNDLE_ID}</string>\n        <key>PayloadIdentifier</key>\n        <string>{BUNDLE_ID}.policy</string>\n        <key>PayloadUUID</key>\n        <string>6E0C8D4A-4B1F-4E8E-9B2A-BED51DE00001</string>\n        <key>PayloadVersion</key>\n        <integer>1</integer>\n{dict}    </dict>\n  </array>\n  <key>PayloadDisplayName</key>\n  <string>Bedside policy</string>\n  <key>PayloadIdentifier</key>\n  <string>{BUNDLE_ID}.profile</string>\n  <key>PayloadType</key>\n  <string>Configuration</string>\n  <key>PayloadUUID</key>\n  <string>6E0C8D4A-4B1F-4E8E-9B2A-BED51DE00000</string>\n  <key>PayloadVersion</key>\n  <integer>1</integer>\n</dict>\n</plist>\n"
    )
}

/// `linux-managed-example.json`: drop into `/etc/bedside/policies/managed/`.
pub fn linux_example() -> String {
    serde_json::to_string_pretty(&Value::Object(example_values())).unwrap_or_default() + "\n"
}

/// Every template with its file name.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("bedside.admx", admx()),
        ("en-US/bedside.adml", adml()),
        ("bedside.mobileconfig", mobileconfig()),
        ("linux-managed-example.json", linux_example()),
        (
            "policy.schema.json",
            serde_json::to_string_pretty(&crate::schema::json_schema()).unwrap_or_default() + "\n",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balanced(xml: &str, tag: &str) -> bool {
        xml.matches(&format!("<{tag} ")).count() + xml.matches(&format!("<{tag}>")).count()
            == xml.matches(&format!("</{tag}>")).count()
    }

    #[test]
    fn every_policy_is_in_every_template() {
        let (admx, adml, mc, json) = (admx(), adml(), mobileconfig(), linux_example());
        for p in POLICIES {
            assert!(
                admx.contains(&format!("policy name=\"{}\"", p.name)),
                "admx {}",
                p.name
            );
            assert!(
                adml.contains(&format!("<string id=\"{}_Explain\">", p.name)),
                "adml {}",
                p.name
            );
            assert!(
                mc.contains(&format!("<key>{}</key>", p.name)),
                "mobileconfig {}",
                p.name
            );
            assert!(json.contains(&format!("\"{}\"", p.name)), "json {}", p.name);
        }
        for tag in ["policy", "elements", "policyDefinitions", "categories"] {
            assert!(balanced(&admx, tag), "admx <{tag}> balanced");
        }
        assert!(balanced(&adml, "presentation"));
        assert!(balanced(&mc, "dict") && balanced(&mc, "array"));
    }

    #[test]
    fn adml_defines_every_string_the_admx_uses() {
        let (admx, adml) = (admx(), adml());
        for part in admx.split("$(string.").skip(1) {
            let id = part.split(')').next().unwrap_or_default();
            assert!(
                adml.contains(&format!("<string id=\"{id}\">")),
                "missing string {id}"
            );
        }
        for part in admx.split("$(presentation.").skip(1) {
            let id = part.split(')').next().unwrap_or_default();
            assert!(
                adml.contains(&format!("<presentation id=\"{id}\">")),
                "missing presentation {id}"
            );
        }
    }

    #[test]
    fn floors_are_not_offered_as_recommended() {
        let admx = admx();
        assert!(!admx.contains("WaitingRoomEnabled_recommended"));
        assert!(admx.contains("IdleLockMinutes_recommended"));
    }

    #[test]
    fn the_linux_example_is_a_valid_policy_file() {
        let v: Value = serde_json::from_str(&linux_example()).expect("json");
        let layer = crate::Layer {
            source: crate::Source::Platform {
                location: "example".into(),
            },
            level: crate::Level::Mandatory,
            values: v.as_object().cloned().unwrap_or_default(),
        };
        let e = crate::merge(&serde_json::Map::new(), &[layer]);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
    }
}
