//! The patient join page in WebKit, Safari's engine: WebKitGTK's MiniBrowser under a private
//! Xvfb, driven through WebKitWebDriver (W3C WebDriver classic, `webdriver.rs`). A real invite
//! link → the page names the clinic and the visit window → the device check with WebKit's mock
//! camera and microphone (or none: the plain "no devices" message and going on without) → the
//! knock → admission by the real headless host → a reload proves the same device key; forged
//! and expired links get the relay's plain pages; the page needs nothing its strict CSP
//! forbids. WebKitGTK is Safari's engine, not Safari: its media and WebRTC stacks differ.
//! Debian's build has no WebRTC at all (no `RTCPeerConnection`): the test asserts that fact
//! and that the admitted page then says plainly it cannot make video calls and lets go of the
//! camera. The call itself is proven in Chromium (`media.rs`) and Firefox (`firefox.rs`).
//!
//! Needs MiniBrowser (in libwebkit2gtk-4.1-0), `WebKitWebDriver` (webkit2gtk-driver) and
//! `Xvfb`; `cargo xtask setup test` installs them. Where one is missing the tests say so and
//! pass without running, as the Firefox ones do.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bedside_visit::invite;
use serde_json::{Value, json};

use crate::patient::{
    Relay, csp_clean, devices, event, expired_token, forged_token, knocks, one_browser,
    one_device_kept, random, refused_page, relay, spawn_host, step, token,
};
use crate::webdriver::{Driver, Proc, Xvfb, free_port, testid, tool, wait_listening};

const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const PATIENT: &str = "Zoë O'Brien-Ngata";
/// The page-side probes every engine's test shares.
const PROBES: &str = include_str!("../browser/probes.mjs");
/// What the admitted page says in a browser without WebRTC (ui/src/join/i18n.ts).
const NO_CALLS: &str = "This browser cannot make video calls.";

/// Why the WebKit tests cannot run here, if they cannot.
fn missing_webkit() -> Option<String> {
    if !Path::new(MINIBROWSER).is_file() {
        return Some(format!(
            "{MINIBROWSER} is missing (apt-get install libwebkit2gtk-4.1-0)"
        ));
    }
    for (bin, package) in [("WebKitWebDriver", "webkit2gtk-driver"), ("Xvfb", "xvfb")] {
        if tool(bin).is_none() {
            return Some(format!(
                "{bin} is missing (apt-get install {package}; cargo xtask setup test does)"
            ));
        }
    }
    None
}

/// MiniBrowser on its own Xvfb, driven through WebKitWebDriver; the steps it went through.
struct WebKit {
    d: Driver,
    seen: Vec<Value>,
    started: Instant,
    _driver: Proc,
    _xvfb: Xvfb,
}

impl Drop for WebKit {
    fn drop(&mut self) {
        // Closes MiniBrowser (WebKitWebDriver stops the browser with its session); no panic
        // here, the test may already be failing.
        let _ = crate::webdriver::try_http(
            self.d.port,
            "DELETE",
            &format!("/session/{}", self.d.session),
            None,
        );
    }
}

/// The card in `state`.
fn card(state: &str) -> String {
    format!("[data-testid=\"card\"][data-state=\"{state}\"]")
}

impl WebKit {
    /// A fresh MiniBrowser (a new, private profile each time); with `mock_devices` WebKit's
    /// mock camera and microphone are the only devices, without them there are none (this
    /// machine has no real ones). Screenshots go to a fresh directory (printed).
    fn launch(mock_devices: bool) -> WebKit {
        let xvfb = Xvfb::start("1280x900x24");
        let port = free_port();
        let driver = Proc(
            Command::new(tool("WebKitWebDriver").expect("WebKitWebDriver"))
                .arg(format!("--port={port}"))
                .env("DISPLAY", &xvfb.display)
                .env("NO_AT_BRIDGE", "1")
                .env("TZ", "UTC")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("WebKitWebDriver starts"),
        );
        wait_listening(port, "WebKitWebDriver", Duration::from_secs(20));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {
                "binary": MINIBROWSER,
                "args": [
                    "--automation",
                    "--enable-media-stream=true",
                    format!("--enable-mock-capture-devices={mock_devices}"),
                    // Asked for, but Debian's WebKitGTK is built without WebRTC: the
                    // `engine` step records that RTCPeerConnection stays undefined.
                    "--enable-webrtc=true",
                    "--autoplay-policy=allow",
                ],
            }
        }}});
        let shots = tempfile::Builder::new()
            .prefix("bedside-webkit-shots-")
            .tempdir()
            .expect("shot dir")
            .keep();
        println!("screenshots: {}", shots.display());
        let d = Driver::open(
            port,
            &capabilities,
            Instant::now() + Duration::from_secs(30),
            shots,
        );
        WebKit {
            d,
            seen: Vec::new(),
            started: Instant::now(),
            _driver: driver,
            _xvfb: xvfb,
        }
    }

    /// Records the step `name` with `extra` (an object) and a screenshot.
    fn step(&mut self, name: &str, extra: Value) {
        self.d.step(name);
        let mut v = json!({"step": name, "ms": self.started.elapsed().as_millis() as u64});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        println!("{v}");
        self.seen.push(v);
    }

    fn open(&self, url: &str) {
        self.d.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Calls `call` (an expression using the functions of `tests/browser/probes.mjs`) in the
    /// page and waits for its (promised) value.
    fn probe(&self, call: &str) -> Value {
        let src = PROBES
            .replace("export async function ", "async function ")
            .replace("export function ", "function ");
        self.d.js_async(
            &format!(
                "{src}\nconst done = arguments[arguments.length - 1];\n\
                 Promise.resolve().then(() => {call}).then(done, (e) => done({{ error: String(e) }}));"
            ),
            json!([]),
        )
    }

    /// What the page can see of the engine: the facts ARCHITECTURE.md records.
    fn engine(&mut self) {
        let facts = self.d.js(
            "const o = Intl.DateTimeFormat().resolvedOptions();
             return {
               user_agent: navigator.userAgent,
               secure_context: window.isSecureContext,
               rtc_peer_connection: typeof window.RTCPeerConnection,
               get_user_media: typeof navigator.mediaDevices?.getUserMedia,
               subtle: typeof crypto.subtle?.generateKey,
               indexed_db: typeof indexedDB,
               intl: { locale: o.locale, time_zone: o.timeZone },
             };",
            json!([]),
        );
        self.step("engine", facts);
    }

    /// Listens for CSP violations from now on and keeps every stream getUserMedia hands the
    /// page (`window.__streams`), so the test can see the camera let go. WebDriver classic
    /// cannot run a script before the page's own: these start once the page has loaded, and
    /// [`WebKit::loaded`] checks that nothing the page loads before was refused.
    fn listen(&self) {
        self.probe("cspListen()");
        self.d.js(
            "window.__streams = [];
             const md = navigator.mediaDevices;
             if (md && md.getUserMedia) {
               const original = md.getUserMedia.bind(md);
               md.getUserMedia = async (c) => { const s = await original(c); window.__streams.push(s); return s; };
             }
             return true;",
            json!([]),
        );
    }

    /// Everything the page loaded at the start was allowed: its script ran (the card is
    /// there), each stylesheet has rules and each image decoded. A resource the CSP refused
    /// would be empty here.
    fn loaded(&mut self) {
        self.d.wait("card");
        let load = self.d.js(
            "return {
               stylesheets: [...document.styleSheets].map((s) => s.cssRules.length),
               images: [...document.images].map((i) => i.complete ? i.naturalWidth : 0),
               scripts: document.scripts.length,
             };",
            json!([]),
        );
        let stylesheets = load["stylesheets"].as_array().cloned().unwrap_or_default();
        let images = load["images"].as_array().cloned().unwrap_or_default();
        assert!(
            !stylesheets.is_empty() && stylesheets.iter().all(|n| n.as_u64() > Some(0)),
            "a stylesheet did not load: {load}"
        );
        assert!(
            !images.is_empty() && images.iter().all(|w| w.as_u64() > Some(0)),
            "an image did not load: {load}"
        );
        self.step("loaded", load);
    }

    /// The state of the card now.
    fn card_state(&self) -> String {
        self.d
            .js(
                "return document.querySelector('[data-testid=\"card\"]')?.getAttribute('data-state') ?? null;",
                json!([]),
            )
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// From the `ready` card through the device check and the knock; the card's state
    /// after the knock (the host may admit at once).
    fn knock(&mut self, prefix: &str, mock_devices: bool) -> String {
        self.d.wait_css(&card("ready"));
        let (clinic, window) = (self.d.text("clinic"), self.d.text("window"));
        let no_calls = self.d.js(
            "return document.querySelector('[data-testid=\"no-calls\"]')?.innerText ?? null;",
            json!([]),
        );
        self.step(
            &format!("{prefix}ready"),
            json!({"clinic": clinic, "window": window, "no_calls": no_calls}),
        );
        self.d.click("start");
        self.d.wait_css(&card("device_check"));
        if mock_devices {
            self.d.wait("continue");
            let deadline = Instant::now() + Duration::from_secs(30);
            let preview = loop {
                let p = self.d.js(
                    "const v = document.querySelector('video.preview');
                     if (!v || !(v.videoWidth > 0) || v.readyState < 2) return null;
                     const s = v.srcObject;
                     return { width: v.videoWidth, height: v.videoHeight, tracks: s ? s.getTracks().map((t) => t.kind).sort() : [] };",
                    json!([]),
                );
                if !p.is_null() {
                    break p;
                }
                assert!(
                    Instant::now() < deadline,
                    "the mock camera does not play in the preview"
                );
                std::thread::sleep(Duration::from_millis(200));
            };
            self.step(
                &format!("{prefix}device_check"),
                json!({ "preview": preview }),
            );
            self.d.click("continue");
        } else {
            let alert = format!("{} [role=\"alert\"]", card("device_check"));
            self.d.wait_css(&alert);
            let message = self.d.js(
                "return document.querySelector(arguments[0]).innerText.replace(/\\s+/g, ' ').trim();",
                json!([alert]),
            );
            let preview = self.d.find_css("video.preview").is_some();
            self.step(
                &format!("{prefix}device_check"),
                json!({"message": message, "preview": preview}),
            );
            self.d.click_css(&format!("{} button.link", testid("card")));
        }
        self.d.wait_css(&card("knock_form"));
        self.d.type_into("name", PATIENT);
        let typed = self.d.value("name");
        let dob_asked = self.d.find_css("input[type=\"date\"]").is_some();
        self.step(
            &format!("{prefix}knock_form"),
            json!({"typed": typed, "dob_asked": dob_asked}),
        );
        self.d.click("knock");
        let after = [card("waiting"), card("admitted"), card("denied")].join(", ");
        self.d.wait_css(&after);
        self.card_state()
    }

    /// The admitted page without WebRTC: the call view says plainly that this browser cannot
    /// make video calls, and every camera and microphone track the page opened has ended.
    fn admitted_without_calls(&mut self) {
        let alert = "[data-testid=\"call\"][data-call-state=\"unsupported\"] [role=\"alert\"]";
        self.d.wait_css(alert);
        let shown = self.d.js(
            "return {
               message: document.querySelector(arguments[0]).innerText.trim(),
               tracks: (window.__streams || []).flatMap((s) => s.getTracks()).map((t) => t.kind + ':' + t.readyState),
             };",
            json!([alert]),
        );
        self.step("no_calls", shown);
    }

    /// Opens a refused link: the relay's own page with `text`, and the status WebKit gets
    /// for it. (WebDriver classic does not expose a navigation's status and WebKit has no
    /// `PerformanceNavigationTiming.responseStatus`, so the page fetches its own address
    /// once more; the relay's refusal page allows same-origin fetches.)
    fn refused(&mut self, name: &str, link: &str, text: &str) {
        self.open(link);
        let deadline = Instant::now() + Duration::from_secs(30);
        let by = loop {
            let by = self.d.js(
                "if (document.body?.innerText.includes(arguments[0])) return 'relay';
                 if (document.querySelector('[data-testid=\"card\"][data-state=\"link_error\"]')) return 'page';
                 return null;",
                json!([text]),
            );
            if !by.is_null() {
                break by;
            }
            assert!(Instant::now() < deadline, "no {name} page");
            std::thread::sleep(Duration::from_millis(150));
        };
        let status = self.d.js_async(
            "const done = arguments[arguments.length - 1];
             fetch(location.href, { cache: 'no-store' }).then((r) => done(r.status), (e) => done(String(e)));",
            json!([]),
        );
        let ready = self.d.find_css(&card("ready")).is_some();
        self.step(name, json!({"by": by, "status": status, "ready": ready}));
    }
}

/// Runs `journey` in a fresh MiniBrowser on a blocking thread (the WebDriver client
/// blocks); its result and the steps it recorded.
async fn in_webkit<T: Send + 'static>(
    mock_devices: bool,
    journey: impl FnOnce(&mut WebKit) -> T + Send + 'static,
) -> (T, Vec<Value>) {
    tokio::task::spawn_blocking(move || {
        let mut w = WebKit::launch(mock_devices);
        let out = journey(&mut w);
        (out, std::mem::take(&mut w.seen))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The facts every WebKit run records: a WebKit user agent, a secure context on the
/// loopback relay, getUserMedia present — and no RTCPeerConnection in this build.
fn assert_engine(seen: &[Value]) {
    let engine = step(seen, "engine").expect("an engine step");
    assert!(
        engine["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.contains("AppleWebKit/") && !ua.contains("Chrome/")),
        "not WebKit: {engine}"
    );
    assert_eq!(engine["secure_context"], true, "{engine}");
    assert_eq!(engine["get_user_media"], "function", "{engine}");
    assert_eq!(engine["subtle"], "function", "{engine}");
    assert_eq!(
        engine["rtc_peer_connection"], "undefined",
        "this WebKitGTK has RTCPeerConnection now: add a real call check to webkit.rs (as \
         firefox.rs has) and update ARCHITECTURE.md's patient browsers section: {engine}"
    );
}

/// The admitted page told the patient it cannot make video calls, and let go of the camera.
fn assert_no_calls_plainly(seen: &[Value], tracks_opened: usize) {
    let shown = step(seen, "no_calls").expect("a no_calls step");
    assert!(
        shown["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(NO_CALLS)),
        "{shown}"
    );
    let tracks = shown["tracks"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        tracks.len(),
        tracks_opened,
        "tracks the page opened: {shown}"
    );
    assert!(
        tracks
            .iter()
            .all(|t| t.as_str().is_some_and(|t| t.ends_with(":ended"))),
        "the camera or microphone is still on: {shown}"
    );
}

/// A visit the real headless host is ready for (auto-admitting the first knock): its events
/// and the patient's invite link.
async fn hosted_visit(
    relay: &Relay,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<bedside_host::HostEvent>,
    String,
) {
    let (visit, secret) = (random::<16>(), random::<32>());
    let mut host = spawn_host(relay, visit, secret);
    event(&mut host, |e| {
        matches!(e, bedside_host::HostEvent::Ready { .. })
    })
    .await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);
    (host, link)
}

/// WebKit opens a real invite link, names the clinic and the window, passes the device check
/// with its mock camera and microphone (the preview plays), knocks (sealed in the page with
/// WebCrypto), and the real host admits it; without WebRTC the page then says so and lets go
/// of the camera. Its device key is a non-extractable ECDSA key in WebKit's IndexedDB: after a
/// reload WebKit proves the same key, so the host sees the same device, not an extra one. No
/// CSP violation on the way, with a control that shows the listener hears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webkit_knocks_is_admitted_and_a_reload_is_the_same_device() {
    if let Some(why) = missing_webkit() {
        println!("skipped: {why}");
        return;
    }
    let _slot = one_browser().await;
    let relay = relay().await;
    let (mut host, link) = hosted_visit(&relay).await;

    let ((), seen) = in_webkit(true, move |w| {
        w.open(&link);
        w.engine();
        w.loaded();
        w.listen();
        if w.knock("", true) == "waiting" {
            w.step("waiting", json!({}));
        }
        w.d.wait_css(&card("admitted"));
        let devices = w.probe("storedDevices()");
        let csp = w.d.js("return window.__csp;", json!([]));
        w.step(
            "admitted",
            json!({"devices": devices, "csp_violations": csp}),
        );
        w.admitted_without_calls();
        let probe = w.probe("cspProbe()");
        w.step("csp_probe", probe);

        w.d.cmd("POST", "/refresh", Some(json!({})));
        w.loaded();
        w.listen();
        let card_after = w.knock("re", true);
        let devices = w.probe("storedDevices()");
        let csp = w.d.js("return window.__csp;", json!([]));
        w.step(
            "rewaiting",
            json!({"card": card_after, "devices": devices, "csp_violations": csp}),
        );
    })
    .await;

    assert_engine(&seen);
    let ready = step(&seen, "ready").expect("a ready step");
    assert_eq!(ready["clinic"], "Video visit with Riverside Practice");
    assert!(
        ready["window"]
            .as_str()
            .is_some_and(|w| w.starts_with("This link works from ") && w.contains(" until ")),
        "no visit window: {ready}"
    );
    // Before the patient waits, the first card says this browser cannot make video calls.
    assert!(
        ready["no_calls"]
            .as_str()
            .is_some_and(|m| m.starts_with(NO_CALLS)),
        "no early word that calls will not work: {ready}"
    );
    let preview = &step(&seen, "device_check").expect("a device_check step")["preview"];
    assert!(
        preview["width"].as_u64().unwrap_or(0) > 0,
        "the mock camera does not play in the preview: {preview}"
    );
    assert_eq!(preview["tracks"], json!(["audio", "video"]));
    let form = step(&seen, "knock_form").expect("a knock_form step");
    assert_eq!(
        (form["typed"].as_str(), &form["dob_asked"]),
        (Some(PATIENT), &json!(false)),
        "{form}"
    );
    // The device-check stream (audio and video) is the only one the page opened; it ended.
    assert_no_calls_plainly(&seen, 2);

    let page_id = one_device_kept(&devices(&seen, "admitted"), &devices(&seen, "rewaiting"));
    let rewaiting = step(&seen, "rewaiting").expect("a rewaiting step");
    assert_eq!(
        rewaiting["card"], "waiting",
        "after the reload the host (auto-admitting the first knock only) keeps it waiting"
    );
    csp_clean(
        &step(&seen, "admitted").expect("an admitted step")["csp_violations"],
        step(&seen, "csp_probe").expect("a csp_probe step"),
    );
    assert_eq!(
        rewaiting["csp_violations"],
        json!([]),
        "CSP violations after the reload"
    );

    // The host opened both sealed knocks: from the page's key, the second not an extra device.
    assert_eq!(
        knocks(&mut host, 2, PATIENT).await,
        vec![(page_id.clone(), false), (page_id, false)],
        "both knocks come from the page's key"
    );
}

/// WebKit with no camera or microphone at all gets the device check's plain message, no
/// preview, goes on without a camera and is let in (and the page says it cannot make calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webkit_without_devices_says_so_and_lets_the_patient_in_without_camera() {
    if let Some(why) = missing_webkit() {
        println!("skipped: {why}");
        return;
    }
    let _slot = one_browser().await;
    let relay = relay().await;
    let (mut host, link) = hosted_visit(&relay).await;

    let (card_after, seen) = in_webkit(false, move |w| {
        w.open(&link);
        w.engine();
        w.loaded();
        w.listen();
        let after = w.knock("", false);
        w.d.wait_css(&card("admitted"));
        let csp = w.d.js("return window.__csp;", json!([]));
        w.step("admitted", json!({"csp_violations": csp}));
        w.admitted_without_calls();
        after
    })
    .await;
    assert_engine(&seen);
    assert!(
        ["waiting", "admitted"].contains(&card_after.as_str()),
        "{card_after}"
    );
    let check = step(&seen, "device_check").expect("a device_check step");
    assert!(
        check["message"].as_str().is_some_and(
            |m| m.starts_with("We could not find a camera or microphone on this device.")
        ),
        "{check}"
    );
    assert_eq!(check["preview"], false, "{check}");
    assert_eq!(
        step(&seen, "admitted").map(|s| s["csp_violations"].clone()),
        Some(json!([]))
    );
    // No device, so no track: the page opened none.
    assert_no_calls_plainly(&seen, 0);
    assert_eq!(knocks(&mut host, 1, PATIENT).await.len(), 1);
}

/// A forged link and an expired one each get the relay's plain page in WebKit, with its
/// status (404, 410), and never reach the knock form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webkit_shows_forged_and_expired_links_plainly() {
    if let Some(why) = missing_webkit() {
        println!("skipped: {why}");
        return;
    }
    let _slot = one_browser().await;
    let relay = relay().await;
    let visit = random::<16>();
    let forged = invite::link(
        &relay.origin,
        &forged_token(&relay.key, visit),
        &random::<32>(),
    );
    let expired = invite::link(
        &relay.origin,
        &expired_token(&relay.key, visit),
        &random::<32>(),
    );
    let ((), seen) = in_webkit(false, move |w| {
        w.refused("invalid", &forged, "This link is not valid");
        w.engine();
        w.refused("expired", &expired, "This link has expired");
    })
    .await;
    assert_engine(&seen);
    refused_page(&seen, "invalid", 404);
    refused_page(&seen, "expired", 410);
    for name in ["invalid", "expired"] {
        assert_eq!(
            step(&seen, name).map(|s| s["ready"].clone()),
            Some(json!(false)),
            "{name}"
        );
    }
}
