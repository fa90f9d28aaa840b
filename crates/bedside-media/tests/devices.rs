//! The `devices` source end to end on loopback, against a private
//! PulseAudio server (`bedside_capture::testkit`): a Rust patient
//! (webrtc-rs, as in `loopback.rs`) hears the clinician's microphone (the
//! server's sine source), the clinician's speaker (the server's null sink)
//! plays the patient's tone, switching the microphone or the speaker mid-call
//! changes what is heard where, and with no camera the call is audio-only
//! while the patient's video still arrives and is decoded.

mod patient;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bedside_capture::testkit::{self, NULL_SINK, SINE_HZ, SINE_SOURCE, dominant_hz, tone_power};
use bedside_codec::synthetic::{Stamp, TestPattern, Tone};
use bedside_codec::{OpusEncoder, Vp8Config, Vp8Encoder};
use bedside_media::devices::DeviceId;
use bedside_media::{MediaSource, PeerConfig, VideoSettings};
use patient::{DEVICE, Patient, Seen, pump};
use rtc::media::Sample;

/// The patient's tone, which the clinician's speaker should play.
const PATIENT_HZ: f64 = 700.0;

/// 3 s of what a source hears, off the runtime's threads.
async fn record(pulse: &testkit::Pulse, source: &str) -> Vec<i16> {
    let (pulse, source) = (pulse.clone(), source.to_owned());
    tokio::task::spawn_blocking(move || pulse.record(&source, 3.0))
        .await
        .expect("join")
        .expect("parec records")
}

fn heard(p: &Patient) -> Vec<i16> {
    p.heard
        .lock()
        .map(|h| h.iter().copied().collect())
        .unwrap_or_default()
}

/// The dominant frequency of the last half second the patient heard.
fn last_half_second_hz(p: &Patient) -> f64 {
    let got = heard(p);
    dominant_hz(&got[got.len().saturating_sub(24_000)..], 48_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_call_sends_the_microphone_plays_the_speaker_and_switches_mid_call() {
    let Some(pulse) = testkit::in_private_pulse(
        "devices_call_sends_the_microphone_plays_the_speaker_and_switches_mid_call",
    ) else {
        return;
    };
    pulse
        .load_sine_microphone("bedside_sine_2", 1000)
        .expect("second microphone");
    pulse
        .load_module("module-null-sink", "sink_name=bedside_null_2 rate=48000")
        .expect("second speaker");

    let config = PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        source: MediaSource::Devices,
        video: VideoSettings {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 500,
        },
        ..PeerConfig::default()
    };
    let (mut call, mut events, mut p) = patient::call(config).await;

    // The patient sends video (a pattern) and a 700 Hz tone.
    let (video, audio) = (Arc::clone(&p.video), Arc::clone(&p.audio));
    let sender = tokio::spawn(async move {
        let mut enc = Vp8Encoder::new(&Vp8Config {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 300,
        })
        .expect("encoder");
        let mut pattern = TestPattern::new(320, 240);
        let mut opus = OpusEncoder::new(1).expect("opus");
        let mut tone = Tone::new(PATIENT_HZ as f32, 1);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for i in 0..3_000u32 {
            tick.tick().await;
            if let Ok(packet) = opus.encode(&tone.next_frame(960)) {
                let _ = audio
                    .sample_writer(2222, 111)
                    .write_sample(&Sample {
                        data: packet.into(),
                        duration: Duration::from_millis(20),
                        ..Sample::new(Instant::now())
                    })
                    .await;
            }
            if i % 2 == 0 {
                let frame = pattern.frame(Stamp {
                    counter: i,
                    capture_micros: 0,
                });
                for ef in enc
                    .encode(&frame, i64::from(i), i % 60 == 0)
                    .expect("encode")
                {
                    let _ = video
                        .sample_writer(1111, 96)
                        .write_sample(&Sample {
                            data: ef.data.into(),
                            duration: Duration::from_millis(40),
                            ..Sample::new(Instant::now())
                        })
                        .await;
                }
            }
        }
    });

    let mut seen = Seen::default();
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_secs(5),
        &mut seen,
    )
    .await;
    let s = seen.stats.clone().expect("stats");
    assert_eq!(s.state, "connected");

    // The microphone (the default sine source, 440 Hz) reaches the patient.
    let got = heard(&p);
    assert!(
        got.len() >= 24_000,
        "the patient decoded {} samples",
        got.len()
    );
    let hz = dominant_hz(&got, 48_000);
    assert!(
        (hz - f64::from(SINE_HZ)).abs() <= 10.0,
        "patient heard {hz} Hz"
    );

    // No camera here: audio-only, said plainly; we send no video, the patient's arrives.
    assert!(
        seen.codes.iter().any(|c| c == "no_camera"),
        "events: {:?}",
        seen.codes
    );
    let report = s.devices.clone().expect("device report in the stats");
    assert!(report.audio_only && report.camera.is_none());
    assert!(report.notices.iter().any(|n| n.code == "no_camera"));
    assert_eq!(report.microphone.as_deref().map(str::is_empty), Some(false));
    assert_eq!(p.video_packets.load(Ordering::Relaxed), 0, "no video sent");
    assert!(p.audio_packets.load(Ordering::Relaxed) > 150, "audio sent");
    assert!(
        s.fps_decoded >= 10.0,
        "patient video decoded at {} fps",
        s.fps_decoded
    );

    // The microphone stalls: its source is suspended for 2.5 s, so it delivers nothing.
    // Silence fills each 20 ms slot: the patient hears silence, and Opus keeps its cadence.
    pulse
        .pactl(&["suspend-source", SINE_SOURCE, "1"])
        .expect("suspend the microphone's source");
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_millis(2_500),
        &mut seen,
    )
    .await;
    let got = heard(&p);
    let stalled = &got[got.len().saturating_sub(24_000)..];
    let tone = tone_power(stalled, 48_000, f64::from(SINE_HZ));
    pulse
        .pactl(&["suspend-source", SINE_SOURCE, "0"])
        .expect("resume the microphone's source");
    assert!(
        stalled.len() == 24_000 && tone < 1e-6,
        "the microphone did not stall: {} samples, 440 Hz power {tone:e}",
        stalled.len()
    );
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_millis(1_500),
        &mut seen,
    )
    .await;
    let hz = last_half_second_hz(&p);
    assert!(
        (hz - f64::from(SINE_HZ)).abs() <= 10.0,
        "after the stall the patient heard {hz} Hz"
    );

    // Opus kept its 20 ms cadence in every whole second since it started (the samples up
    // to the first with packets hold the connection set-up), through the stall.
    let rates: Vec<String> = seen
        .audio_pps
        .iter()
        .map(|(t, r)| format!("{t:.1}s {r:.1}"))
        .collect();
    println!("Opus packets/s per second: {}", rates.join(", "));
    let started = seen
        .audio_pps
        .iter()
        .position(|(_, r)| *r > 0.0)
        .map_or(seen.audio_pps.len(), |i| i + 1);
    let whole = &seen.audio_pps[started..];
    assert!(whole.len() >= 6, "stats samples: {rates:?}");
    assert!(
        whole.iter().all(|(_, r)| *r >= 40.0),
        "Opus below 40 packets/s in a one-second sample: {rates:?}"
    );
    // And on average since the first of those seconds.
    let s = seen.stats.clone().expect("stats");
    let (t0, _) = seen.audio_pps[started - 1];
    let sent: f64 = whole.iter().map(|(_, r)| r).sum();
    let mean_pps = sent / whole.len() as f64;
    assert!(
        (45.0..=55.0).contains(&mean_pps),
        "Opus at {mean_pps:.1} packets/s on average after {t0:.1} s ({} in all)",
        s.totals.audio_packets_sent
    );

    // The speaker (the default null sink) plays the patient's tone.
    let played = record(&pulse, &format!("{NULL_SINK}.monitor")).await;
    let hz = dominant_hz(&played, 48_000);
    assert!((hz - PATIENT_HZ).abs() <= 10.0, "speaker played {hz} Hz");

    // Switch the microphone mid-call: the patient now hears 1 kHz.
    let peer = call.peer(DEVICE).expect("peer").clone();
    peer.set_microphone(Some(DeviceId::from("pulseaudio:bedside_sine_2")));
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_secs(3),
        &mut seen,
    )
    .await;
    let hz = last_half_second_hz(&p);
    assert!(
        (hz - 1000.0).abs() <= 10.0,
        "after the switch the patient heard {hz} Hz"
    );

    // Switch the speaker: the second null sink now plays the patient.
    peer.set_speaker(Some(DeviceId::from("pulseaudio:bedside_null_2")));
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_millis(500),
        &mut seen,
    )
    .await;
    let played = record(&pulse, "bedside_null_2.monitor").await;
    let hz = dominant_hz(&played, 48_000);
    assert!(
        (hz - PATIENT_HZ).abs() <= 10.0,
        "second speaker played {hz} Hz"
    );
    let report = peer.devices().expect("report");
    assert!(
        report.speaker.is_some() && report.microphone.is_some(),
        "{report:?}"
    );

    sender.abort();
    call.close().await;
    let _ = p.pc.close().await;
}
