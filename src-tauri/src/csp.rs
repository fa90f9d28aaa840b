//! Completes the Content-Security-Policy at start-up with what only the build knows.
//!
//! Tauri serves the isolation iframe from a scheme named `isolation-<uuid>`, with a fresh
//! UUID on every build, so `tauri.conf.json` cannot name it. The config ships
//! `frame-src 'none'`; here that is replaced by exactly the isolation scheme, so the page
//! can frame the isolation hook and nothing else.

use tauri::utils::config::{Csp, CspDirectiveSources};

/// The frame sources that allow the isolation iframe served under `schema`.
fn isolation_frame_sources(schema: &str) -> Vec<String> {
    if cfg!(windows) {
        // WebView2 maps custom schemes to http(s)://<scheme>.localhost.
        vec![
            format!("http://{schema}.localhost"),
            format!("https://{schema}.localhost"),
        ]
    } else {
        vec![format!("{schema}:")]
    }
}

/// Sets `frame-src` to the isolation scheme; other directives are left alone.
fn allow_isolation_frame(csp: &mut Csp, schema: &str) {
    let sources = CspDirectiveSources::List(isolation_frame_sources(schema));
    match csp {
        Csp::DirectiveMap(map) => {
            map.insert("frame-src".to_owned(), sources);
        }
        Csp::Policy(policy) => {
            let mut directives: Vec<String> = policy
                .split(';')
                .map(str::trim)
                .filter(|d| !d.is_empty() && !d.starts_with("frame-src"))
                .map(str::to_owned)
                .collect();
            directives.push(format!(
                "frame-src {}",
                Vec::<String>::from(sources).join(" ")
            ));
            *policy = directives.join("; ");
        }
    }
}

/// Applies [`allow_isolation_frame`] to the context's CSP when the isolation pattern is on.
pub(crate) fn complete<R: tauri::Runtime>(context: &mut tauri::Context<R>) {
    let tauri::Pattern::Isolation { schema, .. } = context.pattern() else {
        return;
    };
    let schema = schema.clone();
    if let Some(csp) = context.config_mut().app.security.csp.as_mut() {
        allow_isolation_frame(csp, &schema);
        tracing::debug!("CSP allows the isolation frame");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn replaces_frame_src_in_a_directive_map() {
        let mut map = HashMap::new();
        map.insert(
            "default-src".to_owned(),
            CspDirectiveSources::Inline("'self'".into()),
        );
        map.insert(
            "frame-src".to_owned(),
            CspDirectiveSources::Inline("'none'".into()),
        );
        let mut csp = Csp::DirectiveMap(map);
        allow_isolation_frame(&mut csp, "isolation-1234");
        let text = csp.to_string();
        assert!(text.contains("default-src 'self'"), "{text}");
        assert!(!text.contains("'none'"), "{text}");
        if cfg!(windows) {
            assert!(
                text.contains("frame-src http://isolation-1234.localhost"),
                "{text}"
            );
        } else {
            assert!(text.contains("frame-src isolation-1234:"), "{text}");
        }
    }

    #[test]
    fn replaces_frame_src_in_a_policy_string() {
        let mut csp =
            Csp::Policy("default-src 'self'; frame-src 'none'; img-src 'self' data:".into());
        allow_isolation_frame(&mut csp, "isolation-abcd");
        let text = csp.to_string();
        assert_eq!(text.matches("frame-src").count(), 1, "{text}");
        assert!(
            text.starts_with("default-src 'self'; img-src 'self' data:; frame-src "),
            "{text}"
        );
    }
}
