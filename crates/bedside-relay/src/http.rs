//! Plain HTTP: the patient join page, the invite and revocation API,
//! metrics, and the one error type every handler returns.
//!
//! Error pages tell the patient what happened and what to do, nothing more:
//! a forged and a malformed link get the same page and status, and no page
//! echoes the token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use data_encoding::BASE64URL_NOPAD;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde_json::json;

use crate::revocations::{RevokeRequest, parse_visit};
use crate::{AppState, Refusal};

/// Every error an HTTP handler can return, rendered as a page or as JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The invite link was refused; `page` selects HTML over JSON.
    #[error("invite refused")]
    Invite {
        /// The patient-facing reason.
        #[doc(hidden)]
        refusal: InviteRefusal,
        /// HTML page (true) or JSON (false).
        page: bool,
    },
    /// The request is malformed.
    #[error("bad request")]
    BadRequest,
    /// The signature did not verify under any trusted key.
    #[error("not authorised")]
    Unauthorized,
    /// No such page.
    #[error("not found")]
    NotFound,
    /// Something failed on our side (details are logged, not shown).
    #[error("internal error")]
    Internal,
}

/// A refusal, opaque outside the crate.
#[derive(Clone, Copy, Debug)]
pub struct InviteRefusal(Refusal);

impl AppError {
    fn invite(refusal: Refusal, page: bool) -> Self {
        Self::Invite {
            refusal: InviteRefusal(refusal),
            page,
        }
    }
}

fn opens_text(opens: u64) -> String {
    i64::try_from(opens)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "later".into())
}

fn refusal_parts(r: Refusal) -> (StatusCode, &'static str, String) {
    match r {
        Refusal::NotValid => (
            StatusCode::NOT_FOUND,
            "not_valid",
            "This link is not valid — check it or ask your clinic for a new one.".into(),
        ),
        Refusal::Expired => (
            StatusCode::GONE,
            "expired",
            "This link has expired — ask your clinic for a new one.".into(),
        ),
        Refusal::NotYetValid { opens } => (
            StatusCode::FORBIDDEN,
            "not_yet_valid",
            format!(
                "This link is not open yet — it opens at {}. Please come back then.",
                opens_text(opens)
            ),
        ),
        Refusal::Revoked => (
            StatusCode::GONE,
            "revoked",
            "This link was withdrawn by your clinic.".into(),
        ),
    }
}

/// The patient-facing message for a refusal (also sent over WebSocket).
pub(crate) fn refusal_message(r: Refusal) -> String {
    refusal_parts(r).2
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::Invite {
                refusal: InviteRefusal(r),
                page,
            } => {
                let (status, code, message) = refusal_parts(r);
                if page {
                    (status, Html(page_html("Bedside", &message))).into_response()
                } else {
                    let mut body = json!({"error": code, "message": message});
                    if let Refusal::NotYetValid { opens } = r {
                        body["not_before"] = json!(opens);
                    }
                    (status, Json(body)).into_response()
                }
            }
            Self::BadRequest => json_error(StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => json_error(StatusCode::FORBIDDEN, "unauthorized"),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                Html(page_html("Bedside", "There is nothing here.")),
            )
                .into_response(),
            Self::Internal => json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({"error": code}))).into_response()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page_html(title: &str, message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n</head>\n\
         <body>\n<main>\n<h1>{}</h1>\n<p>{}</p>\n</main>\n</body>\n</html>\n",
        escape(title),
        escape(title),
        escape(message)
    )
}

/// The join page's CSP: the common one, plus its own WebSocket and
/// fetches (`connect-src 'self'`) and the camera preview
/// (`media-src 'self' blob:`). Still no inline script or style.
const JOIN_CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'; object-src 'none'; connect-src 'self'; media-src 'self' blob:";

/// `GET /j/{token}`: the join page. The page script reads the secret from
/// the fragment, which never reaches the relay. With `join_page_dir` set
/// this is the built `join.html`; otherwise a minimal placeholder.
pub(crate) async fn join_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (_, clinic) = state
        .check_token(&token)
        .map_err(|r| AppError::invite(r, true))?;
    if let Some(dir) = state.join_page_dir() {
        let html = tokio::fs::read(dir.join("join.html")).await.map_err(|e| {
            tracing::error!(error = %e, "join page not readable");
            AppError::Internal
        })?;
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(JOIN_CSP),
                ),
            ],
            html,
        )
            .into_response());
    }
    let name = state.clinic(clinic).map(|c| c.name).unwrap_or_default();
    Ok(Html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>Video visit — {name}</title>\n\
         </head>\n<body>\n<main id=\"bedside-join\" data-api=\"/api/invite/\">\n\
         <h1>Video visit with {name}</h1>\n\
         <p>Your clinic will let you in from the waiting room.</p>\n\
         <noscript>This page needs JavaScript to join the visit.</noscript>\n\
         </main>\n</body>\n</html>\n",
        name = escape(&name)
    ))
    .into_response())
}

/// The content type of a join page asset, by extension; others are not served.
fn asset_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1;
    Some(match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        _ => return None,
    })
}

/// A plain file name: `[A-Za-z0-9._-]`, not starting with a dot (so never
/// `..` or a hidden file), at most 128 characters.
fn safe_asset_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `GET /assets/{file}`: the built join page's files from
/// `join_page_dir/assets/`. Names are hashed by the build, so they may be
/// cached for long.
pub(crate) async fn asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let dir = state.join_page_dir().ok_or(AppError::NotFound)?;
    if !safe_asset_name(&file) {
        return Err(AppError::NotFound);
    }
    let content_type = asset_type(&file).ok_or(AppError::NotFound)?;
    let body = tokio::fs::read(dir.join("assets").join(&file))
        .await
        .map_err(|_| AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/invite/{token}`.
pub(crate) async fn invite_json(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (claims, clinic) = state
        .check_token(&token)
        .map_err(|r| AppError::invite(r, false))?;
    let name = state.clinic(clinic).map(|c| c.name).unwrap_or_default();
    Ok(Json(json!({
        "clinic_name": name,
        "not_before": claims.not_before,
        "expires": claims.expires(),
    }))
    .into_response())
}

/// `POST /api/revoke`: see [`crate::revocations`].
pub(crate) async fn revoke(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    if body.len() > 4096 {
        return Err(AppError::BadRequest);
    }
    let req: RevokeRequest = serde_json::from_slice(&body).map_err(|_| AppError::BadRequest)?;
    let visit = parse_visit(&req.visit).ok_or(AppError::BadRequest)?;
    let sig = BASE64URL_NOPAD
        .decode(req.signature.as_bytes())
        .map_err(|_| AppError::BadRequest)?;
    let msg = bedside_protocol::revoke_message(&visit, req.token_id);
    let key = state
        .clinics()
        .iter()
        .find(|c| {
            UnparsedPublicKey::new(&ED25519, &c.public_key)
                .verify(&msg, &sig)
                .is_ok()
        })
        .map(|c| c.public_key.clone())
        .ok_or(AppError::Unauthorized)?;
    let now = state.now();
    let st = state.clone();
    let k = key.clone();
    tokio::task::spawn_blocking(move || st.inner.revocations.add(&k, visit, req.token_id, now))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "revocation not stored");
            AppError::Internal
        })?;
    state.metrics().revoked();
    tracing::info!(visit = %crate::short_visit(&visit), "invite revoked");
    state.kick_revoked(&key, &visit, req.token_id);
    Ok(Json(json!({"revoked": true})).into_response())
}

/// `POST /api/admin/enroll`: see [`crate::enrol`].
pub(crate) async fn enroll(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let Some(hash) = state.admin_token_sha256().map(str::to_owned) else {
        return Err(AppError::NotFound);
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::enrol::token_matches(&hash, token) {
        return Err(AppError::Unauthorized);
    }
    if body.len() > 4096 {
        return Err(AppError::BadRequest);
    }
    let req: crate::enrol::EnrollRequest =
        serde_json::from_slice(&body).map_err(|_| AppError::BadRequest)?;
    state
        .trust_clinic(&req.name, &req.public_key)
        .map_err(|_| AppError::BadRequest)?;
    let (st, r) = (state.clone(), req.clone());
    tokio::task::spawn_blocking(move || crate::enrol::append(st.state_dir(), &r))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "enrolment not stored");
            AppError::Internal
        })?;
    tracing::info!("clinic key enrolled");
    Ok(Json(json!({"enrolled": true})).into_response())
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics().render(),
    )
        .into_response()
}

/// Anything else.
pub(crate) async fn not_found() -> AppError {
    AppError::NotFound
}

/// Headers on every response: a strict CSP with no inline script, no
/// referrer (the token is in the path), no caching, no sniffing, no framing.
/// A handler may set a (still strict) CSP or a cache policy of its own: the
/// join page and its hashed assets do.
pub(crate) async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
        ));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}
