//! The HTTP surface: join page statuses, the invite API, revocations (and
//! their survival across a restart), forged-token fuzzing, health and metrics.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bedside_relay::{AppState, app};
use bedside_visit::invite;
use data_encoding::BASE64URL_NOPAD;
use http_body_util::BodyExt as _;
use ring::rand::SecureRandom as _;
use tower::ServiceExt as _;

use crate::common::{Fixture, NOT_BEFORE, hex, keypair};

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn request(state: &AppState, req: Request<Body>) -> Reply {
    let res = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(state: &AppState, path: &str) -> Reply {
    request(
        state,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

async fn revoke(f: &Fixture, state: &AppState, visit: [u8; 16], token_id: u32) -> Reply {
    let sig = f
        .key
        .sign(&bedside_protocol::revoke_message(&visit, token_id));
    let body = serde_json::json!({
        "visit": hex(&visit),
        "token_id": token_id,
        "signature": BASE64URL_NOPAD.encode(sig.as_ref()),
    });
    request(
        state,
        Request::post("/api/revoke")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn join_page_statuses() {
    let f = Fixture::new();
    let token = f.token([1; 16], 1);

    let ok = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(ok.status, StatusCode::OK);
    let csp = ok.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(ok.headers[header::REFERRER_POLICY], "no-referrer");
    assert!(!ok.body.contains("<script>"), "no inline script");
    assert!(
        ok.body.contains("Riverside &lt;Practice&gt;"),
        "escaped name"
    );
    assert!(!ok.body.contains(&token), "the token is not echoed");

    // Forged (another key) and malformed get the same page.
    let other = keypair();
    let forged = invite::sign(&other, &f.claims([1; 16], 1));
    let forged = get(&f.state, &format!("/j/{forged}")).await;
    let malformed = get(&f.state, "/j/not-a-token").await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
    assert_eq!(forged.body, malformed.body);
    assert!(
        forged
            .body
            .contains("This link is not valid — check it or ask your clinic for a new one")
    );

    f.clock.set(u64::from(NOT_BEFORE) - 1);
    let early = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(early.status, StatusCode::FORBIDDEN);
    assert!(
        early.body.contains("2027-01-15 08:00 UTC"),
        "{}",
        early.body
    );

    f.clock.set(u64::from(NOT_BEFORE) + 3600);
    let late = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(late.status, StatusCode::GONE);
    assert!(
        late.body
            .contains("This link has expired — ask your clinic for a new one")
    );
}

#[tokio::test]
async fn invite_api_answers_json() {
    let f = Fixture::new();
    let token = f.token([2; 16], 2);
    let ok = get(&f.state, &format!("/api/invite/{token}")).await;
    assert_eq!(ok.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&ok.body).expect("json");
    assert_eq!(v["clinic_name"], "Riverside <Practice>");
    assert_eq!(v["not_before"], NOT_BEFORE);
    assert_eq!(v["expires"], u64::from(NOT_BEFORE) + 3600);

    let bad = get(&f.state, "/api/invite/xyz").await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    let v: serde_json::Value = serde_json::from_str(&bad.body).expect("json");
    assert_eq!(v["error"], "not_valid");

    f.clock.set(u64::from(NOT_BEFORE) - 60);
    let early = get(&f.state, &format!("/api/invite/{token}")).await;
    assert_eq!(early.status, StatusCode::FORBIDDEN);
    let v: serde_json::Value = serde_json::from_str(&early.body).expect("json");
    assert_eq!(v["error"], "not_yet_valid");
    assert_eq!(v["not_before"], NOT_BEFORE);
}

#[tokio::test]
async fn revoked_links_stay_revoked_across_a_restart() {
    let f = Fixture::new();
    let token = f.token([3; 16], 77);
    let other_token = f.token([3; 16], 78);
    assert_eq!(
        get(&f.state, &format!("/j/{token}")).await.status,
        StatusCode::OK
    );
    let r = revoke(&f, &f.state, [3; 16], 77).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let page = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.body.contains("This link was withdrawn by your clinic"));
    // Another invite for the same visit is unaffected.
    assert_eq!(
        get(&f.state, &format!("/j/{other_token}")).await.status,
        StatusCode::OK
    );

    let restarted = f.restart();
    let page = get(&restarted, &format!("/j/{token}")).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.body.contains("withdrawn"));
    let api = get(&restarted, &format!("/api/invite/{token}")).await;
    let v: serde_json::Value = serde_json::from_str(&api.body).expect("json");
    assert_eq!(v["error"], "revoked");
}

#[tokio::test]
async fn revocation_needs_a_trusted_signature() {
    let f = Fixture::new();
    let token = f.token([4; 16], 5);
    let other = keypair();
    let sig = other.sign(&bedside_protocol::revoke_message(&[4; 16], 5));
    let body = serde_json::json!({
        "visit": hex(&[4; 16]),
        "token_id": 5,
        "signature": BASE64URL_NOPAD.encode(sig.as_ref()),
    });
    let r = request(
        &f.state,
        Request::post("/api/revoke")
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for junk in [
        "",
        "{}",
        "nonsense",
        "{\"visit\":\"zz\",\"token_id\":1,\"signature\":\"\"}",
    ] {
        let r = request(
            &f.state,
            Request::post("/api/revoke")
                .body(Body::from(junk))
                .expect("request"),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{junk}");
    }
    assert_eq!(
        get(&f.state, &format!("/j/{token}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_thousand_random_forged_tokens_are_all_refused() {
    let f = Fixture::new();
    let rng = ring::rand::SystemRandom::new();
    let key_id = invite::key_id(&invite::public_key(&f.key));
    let mut accepted = 0;
    for i in 0..1000 {
        let mut raw = [0u8; invite::TOKEN_BYTES];
        rng.fill(&mut raw).expect("rng");
        if i % 2 == 0 {
            // Half look right up to the signature: version 2, our key id
            // and known flags, so they reach the signature check.
            raw[0] = 2;
            raw[17..19].copy_from_slice(&key_id.to_be_bytes());
            raw[30] &= 0x01;
        }
        let t = BASE64URL_NOPAD.encode(&raw);
        let r = get(&f.state, &format!("/j/{t}")).await;
        if r.status == StatusCode::OK {
            accepted += 1;
        } else {
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
    }
    assert_eq!(accepted, 0);
    let m = get(&f.state, "/metrics").await.body;
    let count = |reason: &str| -> u64 {
        let prefix = format!("bedside_relay_rejected_tokens_total{{reason=\"{reason}\"}} ");
        m.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .expect("counter")
    };
    // Random first bytes are occasionally version 2 too.
    assert!(count("forged") >= 500, "{m}");
    assert_eq!(count("forged") + count("malformed"), 1000);
}

#[tokio::test]
async fn health_metrics_and_unknown_paths() {
    let f = Fixture::new();
    let h = get(&f.state, "/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok"));
    let m = get(&f.state, "/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    for name in [
        "bedside_relay_connections_total{kind=\"patient\"} 0",
        "bedside_relay_knocks_total 0",
        "bedside_relay_rejected_tokens_total{reason=\"revoked\"} 0",
        "bedside_relay_rate_limited_total 0",
    ] {
        assert!(m.body.contains(name), "{name}");
    }
    assert_eq!(get(&f.state, "/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f.state, "/j/").await.status, StatusCode::NOT_FOUND);
}

/// A fake built join page: `join.html` and one script under `assets/`.
fn fake_join_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("join.html"),
        "<!doctype html><title>Bedside</title><div id=\"join\"></div>\
         <script type=\"module\" src=\"/assets/join-abc123.js\"></script>",
    )
    .expect("html");
    std::fs::create_dir(dir.path().join("assets")).expect("assets");
    std::fs::write(dir.path().join("assets/join-abc123.js"), "console.log(1);").expect("js");
    std::fs::write(dir.path().join("assets/join-abc123.css"), "body{}").expect("css");
    std::fs::write(dir.path().join("secret.txt"), "not an asset").expect("secret");
    dir
}

#[tokio::test]
async fn built_join_page_is_served_for_valid_tokens_only() {
    let pages = fake_join_dir();
    let f = Fixture::with_config(|c| c.join_page_dir = Some(pages.path().to_path_buf()));
    let token = f.token([4; 16], 1);

    let ok = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("/assets/join-abc123.js"), "{}", ok.body);
    assert!(
        ok.headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let csp = ok.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("media-src 'self' blob:"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(!csp.contains("script-src"), "scripts stay 'self': {csp}");
    assert_eq!(ok.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(ok.headers[header::REFERRER_POLICY], "no-referrer");

    // Refusals keep their plain-language pages and statuses.
    let bad = get(&f.state, "/j/not-a-token").await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    assert!(bad.body.contains("This link is not valid"));
    assert!(!bad.body.contains("/assets/"));
    f.clock.set(u64::from(NOT_BEFORE) + 61 * 60);
    let gone = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(!gone.body.contains("/assets/"));
}

#[tokio::test]
async fn join_assets_have_content_types_and_refuse_traversal() {
    let pages = fake_join_dir();
    let f = Fixture::with_config(|c| c.join_page_dir = Some(pages.path().to_path_buf()));

    let js = get(&f.state, "/assets/join-abc123.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.body, "console.log(1);");
    assert_eq!(
        js.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(js.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let css = get(&f.state, "/assets/join-abc123.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");

    for path in [
        "/assets/..%2Fjoin.html",
        "/assets/..%2Fsecret.txt",
        "/assets/%2E%2E",
        "/assets/..",
        "/assets/.hidden.js",
        "/assets/../secret.txt",
        "/assets/missing.js",
        "/assets/join-abc123.txt",
        "/assets/a%5Cb.js",
        "/assets/sub/join-abc123.js",
    ] {
        let r = get(&f.state, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.body.contains("not an asset"), "{path}");
        assert!(!r.body.contains("console.log"), "{path}");
    }
}

#[tokio::test]
async fn without_join_page_dir_the_placeholder_stays_and_assets_are_absent() {
    let f = Fixture::new();
    let token = f.token([5; 16], 1);
    let ok = get(&f.state, &format!("/j/{token}")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(
        ok.body
            .contains("Video visit with Riverside &lt;Practice&gt;")
    );
    assert!(!ok.body.contains("/assets/"));
    let csp = ok.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(!csp.contains("connect-src"), "{csp}");
    let asset = get(&f.state, "/assets/join-abc123.js").await;
    assert_eq!(asset.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_clinic_trusted_at_run_time_is_honoured() {
    let f = Fixture::new();
    let newcomer = keypair();
    let claims = bedside_visit::invite::Claims {
        key_id: invite::key_id(&invite::public_key(&newcomer)),
        ..f.claims([9; 16], 9)
    };
    let token = invite::sign(&newcomer, &claims);
    assert_eq!(
        get(&f.state, &format!("/j/{token}")).await.status,
        StatusCode::NOT_FOUND
    );
    let pk = BASE64URL_NOPAD.encode(&invite::public_key(&newcomer));
    f.state
        .trust_clinic("Hillside Surgery", &pk)
        .expect("trust");
    f.state
        .trust_clinic("Hillside Surgery", &pk)
        .expect("trusting twice is a no-op");
    let ok = get(&f.state, &format!("/api/invite/{token}")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("Hillside Surgery"), "{}", ok.body);
    assert!(f.state.trust_clinic("X", "not-a-key").is_err());
    assert!(
        f.state.trust_clinic(" ", &pk).is_err(),
        "a clinic needs a name"
    );
}

async fn enroll(state: &AppState, token: Option<&str>, name: &str, public_key: &str) -> Reply {
    let mut req =
        Request::post("/api/admin/enroll").header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = serde_json::json!({ "name": name, "public_key": public_key });
    request(
        state,
        req.body(Body::from(body.to_string())).expect("request"),
    )
    .await
}

#[tokio::test]
async fn enrolment_needs_the_admin_token_and_survives_a_restart() {
    let hash = data_encoding::HEXLOWER
        .encode(ring::digest::digest(&ring::digest::SHA256, b"admin-s3cret").as_ref());
    let f = Fixture::with_config(|c| c.admin_token_sha256 = Some(hash));
    let newcomer = keypair();
    let pk = BASE64URL_NOPAD.encode(&invite::public_key(&newcomer));
    let claims = bedside_visit::invite::Claims {
        key_id: invite::key_id(&invite::public_key(&newcomer)),
        ..f.claims([5; 16], 5)
    };
    let token = invite::sign(&newcomer, &claims);
    assert_eq!(
        enroll(&f.state, None, "Hillside", &pk).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        enroll(&f.state, Some("wrong"), "Hillside", &pk)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&f.state, &format!("/j/{token}")).await.status,
        StatusCode::NOT_FOUND,
        "not trusted yet"
    );
    assert_eq!(
        enroll(&f.state, Some("admin-s3cret"), "Hillside", "short")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        enroll(&f.state, Some("admin-s3cret"), "Hillside", &pk)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&f.state, &format!("/j/{token}")).await.status,
        StatusCode::OK
    );
    let restarted = f.restart();
    let reply = get(&restarted, &format!("/api/invite/{token}")).await;
    assert_eq!(reply.status, StatusCode::OK, "enrolment survives a restart");
    assert!(reply.body.contains("Hillside"));
}

#[tokio::test]
async fn enrolment_is_off_without_a_configured_token() {
    let f = Fixture::new();
    let pk = BASE64URL_NOPAD.encode(&[1u8; 32]);
    assert_eq!(
        enroll(&f.state, Some(""), "X", &pk).await.status,
        StatusCode::NOT_FOUND
    );
}
