//! Test support (feature `testkit`): a private PulseAudio server per test,
//! with a null sink (a speaker whose `.monitor` source records what it
//! plays) and a sine microphone (a source that hears a tone, with a sound
//! card's latency behaviour: [`sine_microphone_modules`]), and ALSA
//! routed to it through the `pulse` plugin.
//!
//! cpal and the ALSA `pulse` plugin find the server through `PULSE_SERVER`,
//! read from the process environment; setting it in-process needs
//! `unsafe` (edition 2024) and would race the other tests. So a test calls
//! [`in_private_pulse`]: in the test runner it starts a server, re-runs just
//! that test in a child process with `PULSE_SERVER` set, waits for it and
//! fails if the child failed; in the child it returns the server's handle and
//! the test body runs. Nothing here is used outside tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable marking the child run (holds the server address).
pub const CHILD_VAR: &str = "BEDSIDE_TEST_PULSE_CHILD";

/// The null sink every private server has (also the default sink).
pub const NULL_SINK: &str = "bedside_null";
/// The sine source every private server has (also the default source).
pub const SINE_SOURCE: &str = "bedside_sine";
/// The sine source's frequency.
pub const SINE_HZ: u32 = 440;

/// The running private server, seen from the child.
#[derive(Debug, Clone)]
pub struct Pulse {
    /// `unix:/…/native`.
    pub server: String,
}

impl Pulse {
    /// Runs `pactl` against this server; stdout on success.
    pub fn pactl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("pactl")
            .args(args)
            .env("PULSE_SERVER", &self.server)
            .output()
            .map_err(|e| format!("pactl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!(
                "pactl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Loads a module; its index.
    pub fn load_module(&self, name: &str, args: &str) -> Result<u32, String> {
        let mut a = vec!["load-module", name];
        a.extend(args.split_whitespace());
        self.pactl(&a)?
            .parse()
            .map_err(|_| "pactl load-module printed no index".to_owned())
    }

    /// Adds a microphone `name` that hears a `hz` sine (see
    /// [`sine_microphone_modules`]); returns the index of the module that owns
    /// the source (unloading it unplugs the microphone).
    pub fn load_sine_microphone(&self, name: &str, hz: u32) -> Result<u32, String> {
        let mut index = 0;
        for m in sine_microphone_modules(name, hz) {
            let (module, args) = m.split_once(' ').unwrap_or((m.as_str(), ""));
            index = self.load_module(module, args)?;
        }
        Ok(index)
    }

    /// Unloads a module by index.
    pub fn unload_module(&self, index: u32) -> Result<(), String> {
        self.pactl(&["unload-module", &index.to_string()])
            .map(|_| ())
    }

    /// Records `seconds` of 48 kHz mono s16 from `source` with `parec`
    /// (PulseAudio's own client, independent of the code under test).
    pub fn record(&self, source: &str, seconds: f32) -> Result<Vec<i16>, String> {
        // `timeout -s INT` lets parec flush what it holds (a kill would lose it).
        let out = Command::new("timeout")
            .args(["-s", "INT", &format!("{seconds}"), "parec"])
            .args(PAREC_FORMAT)
            .args(["-d", source])
            .env("PULSE_SERVER", &self.server)
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("parec: {e}"))?;
        let bytes = out.stdout;
        Ok(bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect())
    }
}

/// The modules of a sine microphone `name`: a null sink played by
/// `module-sine`, its monitor remapped into an ordinary source. Not
/// `module-sine-source`: that source has a fixed 2 s latency and posts its
/// audio in 2 s blocks whatever a stream asks, which no microphone does; the
/// remapped monitor follows the latency the capture stream requests, as a
/// sound card's source does.
pub fn sine_microphone_modules(name: &str, hz: u32) -> [String; 3] {
    [
        format!("module-null-sink sink_name={name}_tone rate=48000"),
        format!("module-sine sink={name}_tone frequency={hz}"),
        format!("module-remap-source master={name}_tone.monitor source_name={name}"),
    ]
}

/// Power of `hz` in `pcm` (Goertzel), normalised by length.
pub fn tone_power(pcm: &[i16], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    p / (pcm.len().max(1) as f64).powi(2)
}

/// The strongest frequency in `pcm` between 100 Hz and 4 kHz, in 10 Hz steps.
pub fn dominant_hz(pcm: &[i16], rate: u32) -> f64 {
    let mut best = (0.0, -1.0);
    for step in 10..=400 {
        let hz = f64::from(step) * 10.0;
        let p = tone_power(pcm, rate, hz);
        if p > best.1 {
            best = (hz, p);
        }
    }
    best.0
}

/// A private server for a child process of the test (pass
/// [`PulseServer::address`] as its `PULSE_SERVER`); stopped when dropped.
pub struct PulseServer {
    _server: Server,
    address: String,
}

impl PulseServer {
    /// Starts one (null sink and 440 Hz sine source as the defaults), or
    /// `None` with a skip note when PulseAudio is not installed.
    pub fn start() -> Option<Self> {
        for bin in ["pulseaudio", "pactl", "parec"] {
            if !on_path(bin) {
                println!("skipped: {bin} is missing (apt-get install pulseaudio pulseaudio-utils)");
                return None;
            }
        }
        match start_server() {
            Ok((server, address)) => Some(Self {
                _server: server,
                address,
            }),
            Err(e) => panic!("private PulseAudio: {e}"),
        }
    }

    /// `unix:/…/native`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

struct Server {
    child: Child,
    /// A low-latency recording of the sine microphone for the server's life
    /// (see [`keep_latency_low`]).
    keeper: Option<Child>,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(k) = self.keeper.as_mut() {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server() -> Result<(Server, String), String> {
    let dir = std::env::temp_dir().join(format!(
        "bedside-pulse-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ u128::from(rand_u32())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
    let socket = dir.join("native");
    let child = Command::new("pulseaudio")
        .args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--disable-shm=yes",
            "--log-target=stderr",
            "--log-level=error",
        ])
        .arg("-L")
        .arg(format!(
            "module-native-protocol-unix socket={} auth-anonymous=1",
            socket.display()
        ))
        .arg("-L")
        .arg(format!("module-null-sink sink_name={NULL_SINK} rate=48000"))
        .args(
            sine_microphone_modules(SINE_SOURCE, SINE_HZ)
                .iter()
                .flat_map(|m| ["-L", m.as_str()]),
        )
        .env("HOME", &dir)
        .env("XDG_RUNTIME_DIR", &dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("PULSE_SERVER")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("pulseaudio: {e}"))?;
    let mut server = Server {
        child,
        keeper: None,
        dir,
    };
    let address = format!("unix:{}", socket.display());
    let pulse = Pulse {
        server: address.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if socket.exists() && pulse.pactl(&["info"]).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the private PulseAudio server did not come up in 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    pulse.pactl(&["set-default-sink", NULL_SINK])?;
    pulse.pactl(&["set-default-source", SINE_SOURCE])?;
    server.keeper = Some(keep_latency_low(&address)?);
    Ok((server, address))
}

/// What every `parec` here records: raw 48 kHz mono s16, asking for 20 ms of latency.
const PAREC_FORMAT: [&str; 5] = [
    "--raw",
    "--format=s16le",
    "--rate=48000",
    "--channels=1",
    "--latency-msec=20",
];

/// A null sink renders in 2 s blocks until a stream asks for less, and a new
/// request takes effect when the current block ends: the first microphone
/// opened on a fresh server would wait up to 2 s for its first audio
/// (measured 1.9 s; 0.12 s once the sink runs at a low latency), where a
/// sound card's source answers at once. So a `parec` asking for 20 ms keeps
/// the sine microphone's sink at a low latency for the server's life, and the
/// server is handed out once its first audio has arrived.
fn keep_latency_low(address: &str) -> Result<Child, String> {
    use std::io::Read;
    let mut child = Command::new("parec")
        .args(PAREC_FORMAT)
        .args(["-d", SINE_SOURCE])
        .env("PULSE_SERVER", address)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("parec: {e}"))?;
    let mut out = child.stdout.take().ok_or("parec has no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut first = Some(tx);
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(tx) = first.take() {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(10)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the sine microphone gave no audio in 10 s".into());
    }
    Ok(child)
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// See the module doc. `test` is the test's name as `cargo test` knows it
/// (`module::name` inside a module, the bare name at a test file's top).
/// Returns `Some` in the child (run the test body), `None` in the parent
/// (the child ran it and passed) or when PulseAudio is not installed (a
/// skip note is printed; `cargo xtask setup test` installs it).
pub fn in_private_pulse(test: &str) -> Option<Pulse> {
    if let Ok(server) = std::env::var(CHILD_VAR) {
        return Some(Pulse { server });
    }
    for bin in ["pulseaudio", "pactl", "parec"] {
        if !on_path(bin) {
            println!("skipped: {bin} is missing (apt-get install pulseaudio pulseaudio-utils)");
            return None;
        }
    }
    let (server, address) = match start_server() {
        Ok(s) => s,
        Err(e) => panic!("private PulseAudio: {e}"),
    };
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, &address)
        // ALSA's `pulse` plugin (libasound2-plugins) reads PULSE_SERVER too.
        .env("PULSE_SERVER", &address)
        .output()
        .unwrap_or_else(|e| panic!("re-running {test}: {e}"));
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "{test} failed against a private PulseAudio"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child run did not run {test} (filter mismatch?)"
    );
    None
}
