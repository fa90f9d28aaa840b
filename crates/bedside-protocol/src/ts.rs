//! TypeScript generation: each protocol type knows its TypeScript text, and
//! the [`messages!`](crate::messages) macro defines a Rust enum and its TS
//! union from one declaration, so the two cannot drift apart.

/// A Rust type with a TypeScript spelling.
pub trait TsType {
    /// The TypeScript type expression.
    fn ts() -> String;
}

impl TsType for String {
    fn ts() -> String {
        "string".into()
    }
}

impl TsType for bool {
    fn ts() -> String {
        "boolean".into()
    }
}

macro_rules! ts_number {
    ($($t:ty),*) => {$(
        impl TsType for $t {
            fn ts() -> String {
                "number".into()
            }
        }
    )*};
}
ts_number!(u8, u16, u32, u64, i64);

impl<T: TsType> TsType for Vec<T> {
    fn ts() -> String {
        let inner = T::ts();
        if inner.contains(' ') {
            format!("({inner})[]")
        } else {
            format!("{inner}[]")
        }
    }
}

impl<T: TsType> TsType for Option<T> {
    fn ts() -> String {
        format!("{} | null", T::ts())
    }
}

/// `CamelCase` → `snake_case`, as serde's `rename_all = "snake_case"` does.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders doc lines as a JSDoc block with the given indent.
pub fn jsdoc(indent: &str, lines: &[&str]) -> String {
    let text: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    match text.as_slice() {
        [] => String::new(),
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

/// Defines a message enum (serde: internally tagged by `type`, variants in
/// `snake_case`) together with its TypeScript union and the list of known
/// type names. Every variant field needs a doc line and a type implementing
/// [`TsType`] and `Default` (the tests build a sample of each variant).
#[macro_export]
#[doc(hidden)]
macro_rules! messages {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:literal])*
                $variant:ident $({
                    $(
                        $(#[doc = $fdoc:literal])*
                        $field:ident : $ty:ty
                    ),* $(,)?
                })?
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                $variant $({
                    $(
                        $(#[doc = $fdoc])*
                        $field: $ty
                    ),*
                })?
            ),*
        }

        impl $crate::Message for $name {
            fn type_names() -> &'static [String] {
                static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
                NAMES.get_or_init(|| {
                    vec![$($crate::ts::snake_case(stringify!($variant))),*]
                })
            }

            fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)*
                }
            }

            fn typescript() -> String {
                let mut s = $crate::ts::jsdoc("", &[$($doc),*]);
                s.push_str(concat!("export type ", stringify!($name), " =\n"));
                $(
                    s.push_str(&$crate::ts::jsdoc("  ", &[$($vdoc),*]));
                    s.push_str("  | { type: \"");
                    s.push_str(&$crate::ts::snake_case(stringify!($variant)));
                    s.push('"');
                    $($(
                        s.push_str(concat!("; ", stringify!($field), ": "));
                        s.push_str(&<$ty as $crate::ts::TsType>::ts());
                    )*)?
                    s.push_str(" }\n");
                )*
                s.push_str(";\n");
                s
            }

            fn samples() -> Vec<Self> {
                vec![$(
                    Self::$variant $({ $($field: <$ty as Default>::default()),* })?
                ),*]
            }
        }
    };
}

/// Defines a plain struct (serde field names as written) with its
/// TypeScript interface.
#[macro_export]
#[doc(hidden)]
macro_rules! record {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                pub $field: $ty
            ),*
        }

        impl $crate::ts::TsType for $name {
            fn ts() -> String {
                stringify!($name).into()
            }
        }

        impl $name {
            /// The TypeScript declaration.
            pub fn typescript() -> String {
                let mut s = $crate::ts::jsdoc("", &[$($doc),*]);
                s.push_str(concat!("export interface ", stringify!($name), " {\n"));
                $(
                    s.push_str(&$crate::ts::jsdoc("  ", &[$($fdoc),*]));
                    s.push_str(concat!("  ", stringify!($field), ": "));
                    s.push_str(&<$ty as $crate::ts::TsType>::ts());
                    s.push_str(";\n");
                )*
                s.push_str("}\n");
                s
            }
        }
    };
}

/// Defines a string enum with explicit wire names (used for both serde and
/// TypeScript, so they agree by construction). The first variant is the
/// `Default`.
#[macro_export]
#[doc(hidden)]
macro_rules! names {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $(#[doc = $fdoc:literal])*
            $first:ident = $fwire:literal
            $(,
                $(#[doc = $vdoc:literal])*
                $variant:ident = $wire:literal
            )* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            $(#[doc = $fdoc])*
            #[default]
            #[serde(rename = $fwire)]
            $first,
            $(
                $(#[doc = $vdoc])*
                #[serde(rename = $wire)]
                $variant
            ),*
        }

        impl $crate::ts::TsType for $name {
            fn ts() -> String {
                stringify!($name).into()
            }
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[Self::$first $(, Self::$variant)*];

            /// The wire name.
            pub fn as_str(&self) -> &'static str {
                match self {
                    Self::$first => $fwire,
                    $(Self::$variant => $wire,)*
                }
            }

            /// The TypeScript declaration.
            pub fn typescript() -> String {
                let mut s = $crate::ts::jsdoc("", &[$($doc),*]);
                s.push_str(concat!("export type ", stringify!($name), " ="));
                for v in Self::ALL {
                    s.push_str(&format!("\n  | \"{}\"", v.as_str()));
                }
                s.push_str(";\n");
                s
            }
        }
    };
}
