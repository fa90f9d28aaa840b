//! A small W3C WebDriver (classic, over HTTP on loopback) client and the X server the
//! WebKitGTK windows need, shared by the two tests that drive WebKit: `desktop.rs` (the Tauri
//! window through tauri-driver) and `webkit.rs` (the patient page in MiniBrowser through
//! WebKitWebDriver). The HTTP is a few lines over `TcpStream`: one request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Kills a child process by PID when dropped (PID 1 here does not reap: wait too).
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `name` on PATH, or in cargo's bin directory.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    // xtask runs the tests with a throwaway HOME: look in CARGO_HOME too.
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|h| h.join("bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(home)
        .find(|p| p.is_file())
}

/// A private X server (`Xvfb`) on a display it picks itself; stopped when dropped.
pub(crate) struct Xvfb {
    /// `:N`, for `DISPLAY`.
    pub(crate) display: String,
    _proc: Proc,
    /// Kept open: Xvfb must not meet a closed pipe.
    _out: Option<std::process::ChildStdout>,
}

impl Xvfb {
    /// Starts Xvfb with one screen of `size` (`WIDTHxHEIGHTxDEPTH`) and waits until it
    /// accepts clients: `-displayfd` prints the display number once it does.
    pub(crate) fn start(size: &str) -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", size, "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts (apt-get install xvfb; cargo xtask setup does)");
        let mut line = String::new();
        let mut out = child.stdout.take();
        if let Some(out) = out.as_mut() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let proc = Proc(child);
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb printed no display number: {line:?}"));
        Xvfb {
            display: format!(":{n}"),
            _proc: proc,
            _out: out,
        }
    }
}

/// Waits until something listens on 127.0.0.1:`port`.
pub(crate) fn wait_listening(port: u16, what: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.1 JSON client for the WebDriver wire protocol on loopback.
/// A connection closed without any response is retried (it happens now and then while the
/// app is busy); nothing was answered, so the request was not processed.
pub(crate) fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    for _ in 0..10 {
        if let Some(v) = try_http(port, method, path, body) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("{method} {path}: no HTTP response from the WebDriver server")
}

/// `None` when the connection closed without a response (the native driver not up yet).
pub(crate) fn try_http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some(serde_json::from_str(&payload).unwrap_or(Value::Null))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A CSS selector for `[data-testid=ID]`.
pub(crate) fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// One WebDriver session; screenshots go to `shots` as `NN-name.png`.
pub(crate) struct Driver {
    pub(crate) port: u16,
    pub(crate) session: String,
    pub(crate) shots: PathBuf,
    pub(crate) step: usize,
}

impl Driver {
    /// Opens a session with `capabilities` (the whole `{"capabilities": …}` body), retrying
    /// until `deadline`: a proxy such as tauri-driver listens before its native driver does.
    pub(crate) fn open(port: u16, capabilities: &Value, deadline: Instant, shots: PathBuf) -> Self {
        let created = loop {
            if let Some(v) = try_http(port, "POST", "/session", Some(capabilities)) {
                break v;
            }
            assert!(Instant::now() < deadline, "no WebDriver session");
            std::thread::sleep(Duration::from_millis(250));
        };
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Driver {
            port,
            session,
            shots,
            step: 0,
        }
    }

    /// A command on this session; its `value`.
    pub(crate) fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = http(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        v["value"].clone()
    }

    /// The first element matching the CSS `selector`, if any.
    pub(crate) fn find_css(&self, selector: &str) -> Option<String> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": selector})),
        );
        // W3C element reference; an error object (no such element) has no such key.
        v.get("element-6066-11e4-a52e-4f735466cecf")
            .or_else(|| v.get("ELEMENT"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// `[data-testid=ID]`, if it is there now (no waiting).
    pub(crate) fn find(&self, id: &str) -> Option<String> {
        self.find_css(&testid(id))
    }

    /// Waits up to `within` for an element matching `selector`.
    pub(crate) fn wait_css_within(&self, selector: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.find_css(selector) {
                return e;
            }
            if Instant::now() > deadline {
                self.shot(&format!(
                    "missing-{}",
                    selector.replace(['[', ']', '"', '=', ' '], "")
                ));
                let errors = self.js("return window.__e2eErrors || [];", json!([]));
                panic!(
                    "no {selector} within {within:?}; page errors: {errors}; page text: {}",
                    self.js(
                        "return document.body ? document.body.innerText : '';",
                        json!([])
                    )
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits up to 60 s for an element matching `selector`.
    pub(crate) fn wait_css(&self, selector: &str) -> String {
        self.wait_css_within(selector, Duration::from_secs(60))
    }

    /// Waits up to 60 s for `[data-testid=ID]`.
    pub(crate) fn wait(&self, id: &str) -> String {
        self.wait_css(&testid(id))
    }

    /// Clicks the first element matching `selector` (waiting for it).
    pub(crate) fn click_css(&self, selector: &str) {
        let e = self.wait_css(selector);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Clicks `[data-testid=ID]` (waiting for it).
    pub(crate) fn click(&self, id: &str) {
        self.click_css(&testid(id));
    }

    /// Types `text` into `[data-testid=ID]` with WebDriver's key events.
    pub(crate) fn type_into(&self, id: &str, text: &str) {
        let e = self.wait(id);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Sets an input's value the way typing would (an `input` event), which also works for
    /// date and time inputs whose key handling differs between engines.
    pub(crate) fn fill(&self, id: &str, value: &str) {
        self.wait(id);
        self.js(
            "const [id, v] = arguments; const el = document.querySelector(`[data-testid=\"${id}\"]`);
             el.focus(); el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));
             el.dispatchEvent(new Event('change', {bubbles: true})); return true;",
            json!([id, value]),
        );
    }

    /// The rendered text of `[data-testid=ID]`.
    pub(crate) fn text(&self, id: &str) -> String {
        let e = self.wait(id);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The `value` of the input `[data-testid=ID]`.
    pub(crate) fn value(&self, id: &str) -> String {
        self.wait(id);
        self.js(
            "return document.querySelector(`[data-testid=\"${arguments[0]}\"]`).value;",
            json!([id]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Runs `script` (a function body) with `args`; its return value.
    pub(crate) fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script` (a function body that calls its last argument with the result).
    pub(crate) fn js_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Saves a PNG of the window as `NN-name.png`.
    pub(crate) fn shot(&self, name: &str) -> PathBuf {
        // WebKitGTK drawing on the CPU (the app without a GPU, `src-tauri/src/render.rs`)
        // answers a screenshot after the page's next paint, and a page with nothing moving does
        // not paint: the screenshot waited until something changed (the idle lock, 10 min
        // later). A 1 px mark at 1 % opacity in a corner, changing every 30 ms, paints until
        // the shot is taken; then it goes.
        self.js(
            "const m = document.createElement('div');\
             m.id = 'webdriver-shot-mark';\
             m.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01;pointer-events:none';\
             document.documentElement.appendChild(m);\
             window.__webdriverShotMark = setInterval(() => {\
               m.style.opacity = m.style.opacity === '0.01' ? '0.02' : '0.01';\
             }, 30);",
            json!([]),
        );
        let b64 = self.cmd("GET", "/screenshot", None);
        self.js(
            "clearInterval(window.__webdriverShotMark);\
             document.getElementById('webdriver-shot-mark')?.remove();",
            json!([]),
        );
        let png = data_encoding::BASE64
            .decode(b64.as_str().unwrap_or_default().as_bytes())
            .expect("base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// The next step: a numbered screenshot named `name`.
    pub(crate) fn step(&mut self, name: &str) {
        self.step += 1;
        self.shot(name);
    }
}
