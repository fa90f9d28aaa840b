//! TypeScript bindings for the types the UI receives from and sends to the commands.
//!
//! The IPC types derive `schemars::JsonSchema` in test builds (the crates' `ts` feature), so
//! their JSON Schema follows every serde attribute (`tag`, `rename_all`, `flatten`,
//! `skip_serializing_if`, `default`). This module turns those schemas into TypeScript and
//! checks the result into `ui/src/lib/generated/bindings.ts`; the staleness test fails when
//! the file differs from what the code generates. Regenerate with
//! `BEDSIDE_BLESS=1 cargo test -p bedside-desktop bindings`.
//!
//! Output types use the *serialize* contract (an `Option` field is always present, as
//! `null`, unless it is skipped when empty); input types use the *deserialize* contract (a
//! field with a serde default may be left out). A property serde skips when `None` is
//! optional and, when present, not `null`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// Where the generated file lives, from `src-tauri`.
const OUTPUT: &str = "../ui/src/lib/generated/bindings.ts";

/// `PolicyRow::level`: `bedside_policy::Level` in snake case, or `null`.
pub(crate) fn policy_level(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": ["mandatory", "recommended", null] })
}

/// Collects the definitions of the given root types under one contract.
struct Collector {
    generator: SchemaGenerator,
}

impl Collector {
    fn new(settings: SchemaSettings) -> Self {
        Self {
            generator: settings.into_generator(),
        }
    }

    fn add<T: JsonSchema>(&mut self) -> &mut Self {
        let schema = self.generator.subschema_for::<T>();
        assert!(
            schema.get("$ref").is_some(),
            "{} should be a named definition",
            T::schema_name()
        );
        self
    }

    fn definitions(&self) -> Map<String, Value> {
        self.generator.definitions().clone()
    }
}

/// Every definition the UI sees, by name, sorted.
fn definitions() -> Map<String, Value> {
    let mut out = Collector::new(SchemaSettings::draft2020_12().for_serialize());
    out.add::<bedside_core::ProfileSummary>()
        .add::<bedside_core::SessionState>()
        .add::<crate::commands::Enrolment>()
        .add::<crate::commands::PasswordPolicy>()
        .add::<crate::IpcError>()
        .add::<bedside_store::Patient>()
        .add::<bedside_store::AppointmentView>()
        .add::<bedside_store::Note>()
        .add::<crate::commands::InviteView>()
        .add::<bedside_store::AuditEvent>()
        .add::<bedside_store::AuditVerdict>()
        .add::<bedside_core::Settings>()
        .add::<crate::waiting::WaitingEvent>()
        .add::<crate::policy::PolicyView>()
        .add::<crate::updater::UpdateStatus>()
        .add::<crate::visit::VisitUpdate>()
        .add::<crate::devices::DeviceList>()
        .add::<crate::devices::MonitorStatus>()
        .add::<crate::hotplug::DevicesChanged>();
    let mut inputs = Collector::new(SchemaSettings::draft2020_12().for_deserialize());
    inputs
        .add::<bedside_core::PatientInput>()
        .add::<bedside_core::AppointmentInput>()
        .add::<bedside_core::AuditFilter>()
        .add::<crate::devices::DeviceSlot>();
    let mut all = out.definitions();
    all.values_mut().for_each(skipped_are_never_null);
    for (name, schema) in inputs.definitions() {
        if let Some(existing) = all.get(&name) {
            assert_eq!(existing, &schema, "{name} differs between input and output");
        }
        all.insert(name, schema);
    }
    // Sorted by name (serde_json's map is a BTreeMap without `preserve_order`).
    all
}

/// Under the serialize contract a property is optional only when serde skips it
/// (`skip_serializing_if`); every skip in these types is `Option::is_none` (or `Not::not`
/// for a flag), so a property that is present is never `null`: drop `null` from its type.
fn skipped_are_never_null(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            let required: Vec<String> = m
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                for (key, prop) in props.iter_mut() {
                    if !required.contains(key) {
                        drop_null(prop);
                    }
                }
            }
            m.values_mut().for_each(skipped_are_never_null);
        }
        Value::Array(a) => a.iter_mut().for_each(skipped_are_never_null),
        _ => {}
    }
}

/// Removes `null` from a schema's `type` list or `anyOf`/`oneOf` alternatives.
fn drop_null(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    if let Some(Value::Array(types)) = m.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            m.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = m.get_mut(key) {
            alts.retain(|a| a.get("type").and_then(Value::as_str) != Some("null"));
        }
    }
}

/// Renders doc text as a JSDoc block with the given indent.
fn jsdoc(indent: &str, schema: &Value) -> String {
    let Some(text) = schema.get("description").and_then(Value::as_str) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    match lines.as_slice() {
        [one] => format!("{indent}/** {one} */\n"),
        many => {
            let mut s = format!("{indent}/**\n");
            for l in many {
                if l.is_empty() {
                    s.push_str(&format!("{indent} *\n"));
                } else {
                    s.push_str(&format!("{indent} * {l}\n"));
                }
            }
            s.push_str(&format!("{indent} */\n"));
            s
        }
    }
}

/// A JSON literal as a TypeScript literal type.
fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// The name a `$ref` points at.
fn ref_name(r: &str) -> String {
    r.rsplit('/').next().unwrap_or(r).to_owned()
}

/// Joins union members, dropping duplicates.
fn union(members: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for m in members {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    seen.join(" | ")
}

/// The properties of an object schema as `{ a: T; b?: U }` members, one per line.
fn members(schema: &Value, indent: &str) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut s = String::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        // A union's tag first (`{ kind: 'state'; ... }`), then the rest by name.
        let mut props: Vec<(&String, &Value)> = props.iter().collect();
        props.sort_by_key(|(_, p)| p.get("const").is_none());
        for (key, prop) in props {
            s.push_str(&jsdoc(indent, prop));
            let optional = if required.contains(&key.as_str()) {
                ""
            } else {
                "?"
            };
            s.push_str(&format!("{indent}{key}{optional}: {};\n", ts(prop)));
        }
    }
    s
}

/// `minItems == maxItems` (up to 16): the length of a fixed-size array.
fn fixed_len(schema: &Value) -> Option<usize> {
    let min = schema.get("minItems")?.as_u64()?;
    let max = schema.get("maxItems")?.as_u64()?;
    (min == max && (1..=16).contains(&min)).then(|| usize::try_from(min).ok())?
}

/// An object schema inline: `{ a: T; b?: U }`.
fn inline_object(schema: &Value) -> String {
    let body = members(schema, "");
    let parts: Vec<&str> = body
        .lines()
        .filter(|l| !l.trim_start().starts_with("/**"))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    if parts.is_empty() {
        "Record<string, never>".into()
    } else {
        format!("{{ {} }}", parts.join("; "))
    }
}

/// One JSON type name (with the rest of the schema) as TypeScript.
fn ts_of_type(name: &str, schema: &Value) -> String {
    match name {
        "string" => "string".into(),
        "integer" | "number" => "number".into(),
        "boolean" => "boolean".into(),
        "null" => "null".into(),
        "array" => {
            if let Some(items) = schema.get("prefixItems").and_then(Value::as_array) {
                let items: Vec<String> = items.iter().map(ts).collect();
                format!("[{}]", items.join(", "))
            } else if let (Some(n), Some(items)) = (fixed_len(schema), schema.get("items")) {
                // A Rust array (`[u32; 2]`): a tuple of that many.
                format!("[{}]", vec![ts(items); n].join(", "))
            } else {
                let inner = schema
                    .get("items")
                    .map(ts)
                    .unwrap_or_else(|| "unknown".into());
                if inner.contains(' ') {
                    format!("({inner})[]")
                } else {
                    format!("{inner}[]")
                }
            }
        }
        "object" => {
            if schema.get("properties").is_some() {
                inline_object(schema)
            } else {
                match schema.get("additionalProperties") {
                    Some(v) if v.is_object() => format!("Record<string, {}>", ts(v)),
                    _ => "Record<string, unknown>".into(),
                }
            }
        }
        other => panic!("unsupported JSON Schema type {other}"),
    }
}

/// A schema as a TypeScript type expression.
fn ts(schema: &Value) -> String {
    if schema == &Value::Bool(true) || schema.as_object().is_some_and(Map::is_empty) {
        return "unknown".into();
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return ref_name(r);
    }
    if let Some(c) = schema.get("const") {
        return literal(c);
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return union(e.iter().map(literal).collect());
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            return union(alts.iter().map(ts).collect());
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => ts_of_type(t, schema),
        Some(Value::Array(ts)) => union(
            ts.iter()
                .filter_map(Value::as_str)
                .map(|t| ts_of_type(t, schema))
                .collect(),
        ),
        _ if schema.get("properties").is_some() => inline_object(schema),
        _ => "unknown".into(),
    }
}

/// One definition as an exported TypeScript declaration.
fn declaration(name: &str, schema: &Value) -> String {
    let mut s = jsdoc("", schema);
    let is_interface = schema.get("type").and_then(Value::as_str) == Some("object")
        && schema.get("properties").is_some()
        && schema.get("oneOf").is_none()
        && schema.get("anyOf").is_none();
    if is_interface {
        s.push_str(&format!("export interface {name} {{\n"));
        s.push_str(&members(schema, "  "));
        s.push_str("}\n");
    } else if let Some(alts) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        s.push_str(&format!("export type {name} =\n"));
        for alt in alts {
            s.push_str(&jsdoc("  ", alt));
            s.push_str(&format!("  | {}\n", ts(alt)));
        }
        s.pop();
        s.push_str(";\n");
    } else {
        s.push_str(&format!("export type {name} = {};\n", ts(schema)));
    }
    s
}

/// The whole generated file.
pub(crate) fn typescript() -> String {
    let defs = definitions();
    let mut body = String::new();
    for (name, schema) in &defs {
        body.push('\n');
        body.push_str(&declaration(name, schema));
    }
    let mut s = String::from(
        "// Generated from the Rust IPC types by src-tauri/src/bindings.rs. Do not edit:\n\
         // regenerate with `BEDSIDE_BLESS=1 cargo test -p bedside-desktop bindings`.\n",
    );
    s.push_str(&body);
    s.push('\n');
    s.push_str(&commands(&defs));
    s
}

/// Splits `text` at commas outside `<>`/`()`.
fn split_top(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A Rust type as written in a command signature, as TypeScript.
fn rust_ts(ty: &str, defs: &Map<String, Value>) -> String {
    let ty = ty.trim();
    let generic = |outer: &str| {
        ty.strip_prefix(outer)
            .and_then(|r| r.strip_prefix('<'))
            .and_then(|r| r.strip_suffix('>'))
    };
    if let Some(inner) = generic("Vec") {
        let inner = rust_ts(inner, defs);
        return if inner.contains(' ') {
            format!("({inner})[]")
        } else {
            format!("{inner}[]")
        };
    }
    if let Some(inner) = generic("Option") {
        return format!("{} | null", rust_ts(inner, defs));
    }
    if ty.starts_with("tauri::ipc::Channel<") {
        // A `Channel` object from `@tauri-apps/api/core`.
        return "unknown".into();
    }
    match ty {
        "()" => "void".into(),
        "String" => "string".into(),
        "bool" => "boolean".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "number".into(),
        path => {
            let name = path.rsplit("::").next().unwrap_or(path);
            assert!(
                defs.contains_key(name),
                "command type {path} has no generated binding"
            );
            name.to_owned()
        }
    }
}

/// `snake_case` → `camelCase`, as Tauri names command arguments.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every `#[tauri::command]` in `commands.rs`: its arguments (as the webview passes them,
/// without the `State`/`AppHandle` parameters Tauri injects) and what it resolves to. Read
/// from the source text, so a changed signature changes the bindings.
fn commands(defs: &Map<String, Value>) -> String {
    let source = include_str!("commands.rs");
    let mut s = String::from(
        "/** Every command: its arguments (camelCase, as Tauri maps them) and what it resolves to. */\n\
         export interface Commands {\n",
    );
    for chunk in source.split("#[tauri::command").skip(1) {
        let Some(after_fn) = chunk.split_once(" fn ").map(|(_, r)| r) else {
            panic!("a command without fn");
        };
        let (name, rest) = after_fn.split_once('(').expect("command name");
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i;
                break;
            }
        }
        let (params, tail) = rest.split_at(end);
        let signature_tail = tail[1..].split('{').next().unwrap_or_default().trim();
        let ret = match signature_tail.strip_prefix("->") {
            None => "()".to_owned(),
            Some(r) => {
                let r = r.trim();
                r.strip_prefix("Result<")
                    .and_then(|r| r.strip_suffix(", IpcError>"))
                    .unwrap_or(r)
                    .to_owned()
            }
        };
        let mut args = Vec::new();
        for param in split_top(params) {
            let (arg, ty) = param.split_once(':').expect("name: Type");
            let ty = ty.trim();
            if ty.starts_with("State<") || ty == "tauri::AppHandle" {
                continue;
            }
            args.push(format!("{}: {}", camel(arg.trim()), rust_ts(ty, defs)));
        }
        let args = if args.is_empty() {
            "Record<string, never>".to_owned()
        } else {
            format!("{{ {} }}", args.join("; "))
        };
        s.push_str(&format!(
            "  {}: {{ args: {args}; returns: {} }};\n",
            name.trim(),
            rust_ts(&ret, defs)
        ));
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `v`.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(ref_name(r));
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn bindings_refer_only_to_defined_or_listed_types() {
        let defs = definitions();
        let mut names = Vec::new();
        refs(&Value::Object(defs.clone()), &mut names);
        for n in names {
            assert!(defs.contains_key(&n), "{n} is referenced but not generated");
        }
    }

    #[test]
    fn bindings_hand_spelled_enums_match_serde() {
        use bedside_policy::Level;
        let levels = [Level::Mandatory, Level::Recommended]
            .map(|l| serde_json::to_value(l).expect("serialize level"));
        let schema = policy_level(&mut SchemaSettings::default().into_generator());
        let listed = schema
            .get("enum")
            .and_then(Value::as_array)
            .expect("enum list");
        for l in &levels {
            assert!(listed.contains(l), "{l} missing from policy_level");
        }
        assert_eq!(
            listed.len(),
            levels.len() + 1,
            "exactly the levels and null"
        );
    }

    #[test]
    fn bindings_follow_serde_shapes() {
        let ts = typescript();
        // Internally tagged enums become discriminated unions.
        assert!(ts.contains("| { state: 'locked' }"), "{ts}");
        assert!(ts.contains("| { status: 'ok'; count: number }"), "{ts}");
        // Serialized Options are always present; skipped ones are optional.
        assert!(ts.contains("  phone: string | null;"), "{ts}");
        assert!(ts.contains("  retry_after_secs?: number;"), "{ts}");
        // Inputs with serde defaults may leave fields out.
        assert!(ts.contains("  force?: boolean;"), "{ts}");
        // Flattened fields sit beside the outer ones.
        let view = ts
            .split("export interface AppointmentView {")
            .nth(1)
            .expect("AppointmentView");
        let view = view.split('}').next().unwrap_or_default();
        for key in [
            "id:",
            "patient:",
            "start:",
            "status:",
            "patient_name:",
            "local_start:",
        ] {
            assert!(view.contains(key), "AppointmentView lacks {key}");
        }
    }

    #[test]
    fn bindings_are_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(OUTPUT);
        let fresh = typescript();
        if std::env::var_os("BEDSIDE_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir generated");
            std::fs::write(&path, &fresh).expect("write bindings.ts");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == fresh,
            "ui/src/lib/generated/bindings.ts is stale; regenerate it with \
             `BEDSIDE_BLESS=1 cargo test -p bedside-desktop bindings`"
        );
    }
}
