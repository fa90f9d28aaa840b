//! Real devices on a private PulseAudio server per test (see
//! `bedside_capture::testkit`): the sine source as the microphone, the null
//! sink as the speaker (checked through its `.monitor` with `parec`), and
//! null sinks loaded and unloaded under the hot-plug watcher.

use std::time::{Duration, Instant};

use bedside_capture::testkit::{self, NULL_SINK, SINE_HZ, SINE_SOURCE, dominant_hz, tone_power};
use bedside_capture::{
    AudioBackend, AudioSystem, DeviceChange, DeviceError, DeviceId, DeviceKind, DeviceWatcher,
    Microphone, Speaker,
};

/// `seconds` of frames from `mic`, after dropping the first 200 ms.
fn capture(mic: &Microphone, seconds: f32) -> Vec<i16> {
    let mut out = Vec::new();
    let mut skipped = 0;
    let deadline = Instant::now() + Duration::from_secs_f32(seconds + 5.0);
    let want = (seconds * 48_000.0) as usize;
    let mut started = None;
    while out.len() < want && Instant::now() < deadline {
        match mic.recv_timeout(Duration::from_millis(500)) {
            Ok(Some(frame)) => {
                assert_eq!(frame.len(), 960, "20 ms frames at 48 kHz");
                if skipped < 10 {
                    skipped += 1;
                } else {
                    started.get_or_insert_with(Instant::now);
                    out.extend(frame);
                }
            }
            Ok(None) => {}
            Err(e) => panic!("microphone failed: {e}"),
        }
    }
    // Frames come at the pace of time, not in bursts.
    let took = started.map_or(0.0, |t| t.elapsed().as_secs_f32());
    assert!(
        took < seconds + 0.3,
        "{seconds} s of audio took {took} s to arrive"
    );
    out
}

fn assert_sine(pcm: &[i16], hz: f64) {
    assert!(pcm.len() >= 24_000, "only {} samples captured", pcm.len());
    let found = dominant_hz(pcm, 48_000);
    assert!(
        (found - hz).abs() <= 10.0,
        "dominant {found} Hz, expected {hz}"
    );
    let level = bedside_capture::audio::rms_dbfs(pcm);
    assert!(level > -40.0, "level {level} dBFS is too quiet for a tone");
}

#[test]
fn lists_microphones_and_speakers_with_defaults() {
    let Some(_pulse) = testkit::in_private_pulse("lists_microphones_and_speakers_with_defaults")
    else {
        return;
    };
    let audio = AudioSystem::new();
    assert_eq!(audio.backend_name(), "PulseAudio");
    let mics = audio.microphones().expect("lists microphones");
    let sine = mics
        .iter()
        .find(|d| d.id.as_str() == format!("pulseaudio:{SINE_SOURCE}"))
        .unwrap_or_else(|| panic!("the sine source is listed: {mics:?}"));
    assert!(sine.is_default);
    assert_eq!(sine.kind, DeviceKind::Microphone);
    assert!(
        mics.iter().all(|d| !d.id.as_str().ends_with(".monitor")),
        "monitors are not microphones"
    );
    let speakers = audio.speakers().expect("lists speakers");
    let null = speakers
        .iter()
        .find(|d| d.id.as_str() == format!("pulseaudio:{NULL_SINK}"))
        .unwrap_or_else(|| panic!("the null sink is listed: {speakers:?}"));
    assert!(null.is_default && !null.name.is_empty());
    let all = bedside_capture::list_devices();
    assert!(all.iter().any(|d| d.kind == DeviceKind::Speaker));
}

#[test]
fn microphone_reads_the_sine() {
    let Some(_pulse) = testkit::in_private_pulse("microphone_reads_the_sine") else {
        return;
    };
    let audio = AudioSystem::new();
    // A speaker open on the same host (as in a call) must not slow capture down.
    let _speaker = Speaker::open(&audio, None).expect("opens the default speaker");
    let mic = Microphone::open(&audio, None).expect("opens the default microphone");
    assert_eq!(mic.info().id.as_str(), format!("pulseaudio:{SINE_SOURCE}"));
    assert_eq!(mic.device_rate(), 48_000);
    let pcm = capture(&mic, 1.0);
    assert_sine(&pcm, f64::from(SINE_HZ));
    assert!(mic.level_dbfs() > -40.0, "level meter {}", mic.level_dbfs());
}

#[test]
fn alsa_microphone_reads_the_sine_through_the_pulse_plugin() {
    let Some(_pulse) =
        testkit::in_private_pulse("alsa_microphone_reads_the_sine_through_the_pulse_plugin")
    else {
        return;
    };
    let audio = AudioSystem::with_backend(AudioBackend::Alsa).expect("ALSA host");
    assert_eq!(audio.backend_name(), "ALSA");
    let mic = Microphone::open(&audio, Some(&DeviceId::from("alsa:pulse")))
        .expect("opens ALSA's pulse PCM");
    let pcm = capture(&mic, 1.0);
    assert_sine(&pcm, f64::from(SINE_HZ));
}

#[test]
fn a_microphone_opens_by_id_and_hears_its_source() {
    let Some(pulse) = testkit::in_private_pulse("a_microphone_opens_by_id_and_hears_its_source")
    else {
        return;
    };
    pulse
        .load_sine_microphone("bedside_sine_2", 1000)
        .expect("second sine source");
    let audio = AudioSystem::new();
    let mic = Microphone::open(&audio, Some(&DeviceId::from("pulseaudio:bedside_sine_2")))
        .expect("opens the 1 kHz source by id");
    assert_sine(&capture(&mic, 0.6), 1000.0);
}

#[test]
fn speaker_playback_reaches_the_null_sink_monitor() {
    let Some(pulse) = testkit::in_private_pulse("speaker_playback_reaches_the_null_sink_monitor")
    else {
        return;
    };
    let audio = AudioSystem::new();
    let speaker = Speaker::open(&audio, None).expect("opens the default speaker");
    assert_eq!(
        speaker.info().id.as_str(),
        format!("pulseaudio:{NULL_SINK}")
    );
    let hz = 1000.0f64;
    let feeder = std::thread::spawn(move || {
        // 5 s of a 1 kHz tone, pushed in real time 20 ms at a time.
        let start = Instant::now();
        let mut n = 0u64;
        for i in 0..250u64 {
            let frame: Vec<i16> = (0..960)
                .map(|_| {
                    let t = n as f64 / 48_000.0;
                    n += 1;
                    (12_000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
                })
                .collect();
            speaker.push(&frame);
            let due = start + Duration::from_millis(20 * (i + 1));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        assert!(speaker.buffered_ms() <= bedside_capture::audio::PLAYBACK_MAX_MS);
        speaker.health().expect("speaker still healthy");
        speaker
    });
    std::thread::sleep(Duration::from_millis(300));
    // A null sink's monitor starts slowly (~1 s before parec gets data).
    let heard = pulse
        .record(&format!("{NULL_SINK}.monitor"), 3.5)
        .expect("parec records the monitor");
    let _speaker = feeder.join().expect("feeder");
    assert!(heard.len() > 24_000, "recorded {} samples", heard.len());
    let found = dominant_hz(&heard, 48_000);
    assert!((found - hz).abs() <= 10.0, "monitor heard {found} Hz");
    assert!(
        tone_power(&heard, 48_000, hz) > 100.0 * tone_power(&heard, 48_000, 440.0),
        "the tone stands out"
    );
}

#[test]
fn the_speaker_buffer_is_bounded() {
    let Some(_pulse) = testkit::in_private_pulse("the_speaker_buffer_is_bounded") else {
        return;
    };
    let speaker = Speaker::open(&AudioSystem::new(), None).expect("opens");
    // 2 s at once: far past the bound; the oldest is dropped, latency stays ≤ 200 ms.
    speaker.push(&vec![1000i16; 96_000]);
    assert!(speaker.buffered_ms() <= bedside_capture::audio::PLAYBACK_MAX_MS);
    assert!(
        speaker.dropped_samples() >= 80_000,
        "{}",
        speaker.dropped_samples()
    );
}

#[test]
fn watcher_sees_a_null_sink_added_then_removed() {
    let Some(pulse) = testkit::in_private_pulse("watcher_sees_a_null_sink_added_then_removed")
    else {
        return;
    };
    let (watcher, changes) = DeviceWatcher::start(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(1500)); // the baseline listing
    let module = pulse
        .load_module("module-null-sink", "sink_name=bedside_hotplug")
        .expect("loads a null sink");
    let id = "pulseaudio:bedside_hotplug";
    let wait_for = |want: &dyn Fn(&DeviceChange) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(6);
        while Instant::now() < deadline {
            if let Ok(c) = changes.recv_timeout(Duration::from_millis(200))
                && want(&c)
            {
                return true;
            }
        }
        false
    };
    assert!(
        wait_for(
            &|c| matches!(c, DeviceChange::Added(d) if d.id.as_str() == id && d.kind == DeviceKind::Speaker)
        ),
        "Added for the new sink"
    );
    pulse.unload_module(module).expect("unloads");
    assert!(
        wait_for(&|c| matches!(c, DeviceChange::Removed(d) if d.id.as_str() == id)),
        "Removed for the sink"
    );
    assert_eq!(watcher.dropped(), 0);
}

#[test]
fn missing_and_vanished_devices_are_typed_errors() {
    let Some(pulse) = testkit::in_private_pulse("missing_and_vanished_devices_are_typed_errors")
    else {
        return;
    };
    let audio = AudioSystem::new();
    let err =
        Microphone::open(&audio, Some(&DeviceId::from("pulseaudio:no_such_source"))).map(|_| ());
    assert_eq!(
        err,
        Err(DeviceError::NotFound {
            kind: DeviceKind::Microphone
        })
    );
    let err = Speaker::open(&audio, Some(&DeviceId::from("not an id"))).map(|_| ());
    assert_eq!(
        err,
        Err(DeviceError::NotFound {
            kind: DeviceKind::Speaker
        })
    );
    // A source unloaded while captured: PulseAudio moves the stream to the
    // default source (its stream rescue), so capture goes on — with the
    // default's 440 Hz — and the device is no longer listed.
    let module = pulse
        .load_sine_microphone("bedside_unplug", 1000)
        .expect("loads");
    let mic = Microphone::open(&audio, Some(&DeviceId::from("pulseaudio:bedside_unplug")))
        .expect("opens");
    assert_sine(&capture(&mic, 0.6), 1000.0);
    pulse.unload_module(module).expect("unloads");
    std::thread::sleep(Duration::from_millis(300));
    while let Ok(Some(_)) = mic.recv_timeout(Duration::ZERO) {}
    assert_sine(&capture(&mic, 0.6), f64::from(SINE_HZ));
    let listed = audio.microphones().expect("lists");
    assert!(
        listed
            .iter()
            .all(|d| d.id.as_str() != "pulseaudio:bedside_unplug")
    );
}

#[test]
fn a_sound_server_that_goes_away_is_reported_vanished() {
    let Some(pulse) =
        testkit::in_private_pulse("a_sound_server_that_goes_away_is_reported_vanished")
    else {
        return;
    };
    let alsa = AudioSystem::with_backend(AudioBackend::Alsa).expect("ALSA host");
    let alsa_mic = Microphone::open(&alsa, Some(&DeviceId::from("alsa:pulse"))).expect("opens");
    let pulse_mic = Microphone::open(&AudioSystem::new(), None).expect("opens");
    assert!(matches!(
        alsa_mic.recv_timeout(Duration::from_secs(2)),
        Ok(Some(_))
    ));
    assert!(matches!(
        pulse_mic.recv_timeout(Duration::from_secs(2)),
        Ok(Some(_))
    ));
    let _ = pulse.pactl(&["exit"]);
    for (name, mic) in [("ALSA", &alsa_mic), ("PulseAudio", &pulse_mic)] {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut outcome = Ok(None);
        while Instant::now() < deadline {
            outcome = mic.recv_timeout(Duration::from_millis(200));
            if outcome.is_err() {
                break;
            }
        }
        match outcome {
            Err(DeviceError::Vanished { kind }) => assert_eq!(kind, DeviceKind::Microphone),
            other => panic!("{name}: expected Vanished, got {other:?}"),
        }
    }
}
