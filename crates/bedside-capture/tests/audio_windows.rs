//! The Windows audio path (cpal's WASAPI host under our `Microphone` and
//! `Speaker`) against real devices: Wine's WASAPI, whose driver talks to a
//! private PulseAudio server (`bedside_capture::testkit`) — the sine source
//! as the default microphone, the null sink as the default speaker, what it
//! plays recorded from its monitor by `parec`, outside the code under test.
//!
//! Two builds of this file meet here, as in `camera_windows.rs`. On Linux
//! the test starts the server and runs the Windows build of this file
//! under Wine on this machine (no VM: no device driver is involved);
//! `cargo xtask test` cross-compiles that build and names it in
//! [`EXE_VAR`]. On Windows, with [`GUEST_VAR`] set, the body opens the
//! devices through `bedside_capture` as the desktop app does, and the two
//! sides meet through files in [`HANDSHAKE_VAR`]'s directory while the
//! speaker plays.

// Wine's loader and prefix, and draining a child's pipes (the camera VM's
// helpers; this test needs no VM).
#[cfg(target_os = "linux")]
mod vm;

/// The Windows build of this test binary (set by `cargo xtask test`).
#[cfg(target_os = "linux")]
const EXE_VAR: &str = "BEDSIDE_AUDIO_WINE_EXE";
/// Set for the Windows build: the test body runs.
const GUEST_VAR: &str = "BEDSIDE_WINE_GUEST";
/// The directory both sides write their handshake files to (a Windows path
/// for the Windows side).
const HANDSHAKE_VAR: &str = "BEDSIDE_WINE_HANDSHAKE";
/// The Windows side plays this tone on the default speaker.
const SPEAKER_HZ: f64 = 700.0;

#[cfg(target_os = "linux")]
const TEST: &str = "wasapi_microphone_and_speaker_work_against_pulseaudio_under_wine";
const DONE: &str = "WASAPI audio checks passed under Wine";

#[cfg(target_os = "linux")]
#[test]
fn wasapi_microphone_and_speaker_work_against_pulseaudio_under_wine() {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use bedside_capture::testkit::{NULL_SINK, Pulse, PulseServer, dominant_hz};

    let Some(exe) = std::env::var_os(EXE_VAR).map(PathBuf::from) else {
        println!("skipped: {EXE_VAR} is not set (`cargo xtask test` sets it)");
        return;
    };
    // From here on the Windows build exists, so nothing may skip.
    // <target>/x86_64-pc-windows-gnu/debug/deps/audio_windows-….exe → <target>/wine/audio-prefix
    let prefix = exe
        .ancestors()
        .nth(4)
        .map(|target| target.join("wine/audio-prefix"))
        .expect("the target directory");
    vm::wine_prefix(&prefix).unwrap_or_else(|e| panic!("{e}"));
    let server = PulseServer::start().expect("a private PulseAudio (pulseaudio, pactl, parec)");
    let pulse = Pulse {
        server: server.address().to_owned(),
    };
    let handshake = tempfile::tempdir().expect("a handshake directory");
    let unix_handshake = handshake.path().to_str().expect("a UTF-8 path").to_owned();

    let mut wine = Command::new(vm::WINE)
        .arg(&exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .env("PULSE_SERVER", server.address())
        .env(GUEST_VAR, "1")
        // Wine's Z: drive is this machine's root.
        .env(
            HANDSHAKE_VAR,
            format!("Z:{}", unix_handshake.replace('/', "\\")),
        )
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wine64");
    let stdout = vm::drain(wine.stdout.take().expect("stdout"));
    let stderr = vm::drain(wine.stderr.take().expect("stderr"));

    // While the Windows side plays its tone, the null sink's monitor hears it.
    let playing = handshake.path().join("playing");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !playing.exists() && Instant::now() < deadline {
        if wine.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let heard = if playing.exists() {
        let pcm = pulse
            .record(&format!("{NULL_SINK}.monitor"), 3.5)
            .expect("parec records the null sink");
        let hz = dominant_hz(&pcm, 48_000);
        std::fs::write(handshake.path().join("heard"), format!("{hz}")).expect("heard");
        Some((pcm.len(), hz))
    } else {
        None
    };
    let status = vm::wait_or_kill(&mut wine, Duration::from_secs(60)).expect("wine's status");
    let out = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    println!("{out}");
    eprintln!("{err}");
    let (samples, hz) = heard.expect("the Windows side never started playing");
    assert!(samples >= 48_000, "only {samples} samples recorded");
    assert!(
        (hz - SPEAKER_HZ).abs() <= 10.0,
        "the null sink heard {hz} Hz, the speaker played {SPEAKER_HZ}"
    );
    assert!(status.is_some(), "the Windows side did not finish in time");
    assert!(
        status.is_some_and(|s| s.success()),
        "the Windows side failed"
    );
    assert!(
        out.contains(DONE),
        "the Windows side did not run to its end"
    );
}

#[cfg(windows)]
#[test]
fn wasapi_microphone_and_speaker_work_against_pulseaudio_under_wine() {
    if std::env::var_os(GUEST_VAR).is_none() {
        println!("skipped: this runs under Wine (see the Linux build)");
        return;
    }
    under_wine();
}

#[cfg(windows)]
fn under_wine() {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use bedside_capture::testkit::{SINE_HZ, dominant_hz};
    use bedside_capture::{AudioSystem, DeviceKind, Microphone, Speaker};

    let handshake = PathBuf::from(std::env::var_os(HANDSHAKE_VAR).expect(HANDSHAKE_VAR));
    let audio = AudioSystem::new();
    assert_eq!(audio.backend_name(), "WASAPI");
    let mics = audio.microphones().expect("lists microphones");
    let speakers = audio.speakers().expect("lists speakers");
    println!("WASAPI lists microphones {mics:?} and speakers {speakers:?}");
    for (list, kind) in [
        (&mics, DeviceKind::Microphone),
        (&speakers, DeviceKind::Speaker),
    ] {
        assert!(!list.is_empty(), "no {kind}");
        assert_eq!(list.iter().filter(|d| d.is_default).count(), 1, "{list:?}");
        assert!(list.iter().all(|d| d.kind == kind && !d.name.is_empty()));
    }

    // The default microphone is the sine source: 20 ms frames at 48 kHz, at
    // the pace of time, hearing the sine.
    let mic = Microphone::open(&audio, None).expect("opens the default microphone");
    println!("microphone {} at {} Hz", mic.info().name, mic.device_rate());
    let mut pcm = Vec::new();
    let mut frames = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut started = None;
    while pcm.len() < 48_000 && Instant::now() < deadline {
        match mic.recv_timeout(Duration::from_millis(500)) {
            Ok(Some(frame)) => {
                assert_eq!(frame.len(), 960, "20 ms frames at 48 kHz");
                frames += 1;
                // The first 200 ms are the stream starting.
                if frames > 10 {
                    started.get_or_insert_with(Instant::now);
                    pcm.extend(frame);
                }
            }
            Ok(None) => {}
            Err(e) => panic!("the microphone failed: {e}"),
        }
    }
    assert!(pcm.len() >= 48_000, "only {} samples captured", pcm.len());
    let took = started.map_or(0.0, |t| t.elapsed().as_secs_f32());
    assert!(took < 1.3, "1 s of audio took {took} s to arrive");
    let hz = dominant_hz(&pcm, 48_000);
    assert!(
        (hz - f64::from(SINE_HZ)).abs() <= 10.0,
        "the microphone heard {hz} Hz, the source plays {SINE_HZ}"
    );
    drop(mic);

    // The default speaker plays a tone until the Linux side has heard it
    // from the null sink's monitor.
    let speaker = Speaker::open(&audio, None).expect("opens the default speaker");
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 1_500 {
                let frame: Vec<i16> = (0..960)
                    .map(|_| {
                        let t = n as f64 / 48_000.0;
                        n += 1;
                        (12_000.0 * (2.0 * std::f64::consts::PI * SPEAKER_HZ * t).sin()) as i16
                    })
                    .collect();
                speaker.push(&frame);
                i += 1;
                let due = start + Duration::from_millis(20 * i);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            speaker.underruns()
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(handshake.join("playing"), b"").expect("playing");
    let heard = handshake.join("heard");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !heard.exists() {
        assert!(Instant::now() < deadline, "the Linux side never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let underruns = feeder.join().expect("the feeder");
    println!(
        "the null sink heard {} Hz; speaker underruns {underruns}",
        std::fs::read_to_string(&heard).unwrap_or_default()
    );
    println!("{DONE}");
}
