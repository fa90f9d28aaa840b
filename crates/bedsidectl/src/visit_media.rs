//! `visit host --media ...`: turning the flags into media options, and the
//! call report written by `--stats-json`.

use bedside_host::{HostEvent, MediaOptions};
use bedside_media::{CallStats, IcePolicy, MediaSource, PeerConfig, VideoSettings};
use serde_json::json;

use crate::cli::{IcePolicyArg, MediaArg};
use crate::commands::CliError;

/// Builds the media options. `devices` uses the system's default microphone,
/// speaker and first camera unless the caller sets `peer.devices`; without a
/// camera the visit is audio-only, which is said on stderr (here, before the
/// call, and by the media layer's notices during it).
/// TURN credentials are not set here: the relay hands them out with each
/// admitted device's offer (this computer never holds the TURN secret).
pub fn options(
    media: MediaArg,
    udp_addrs: Vec<std::net::SocketAddr>,
    video: &str,
    ice_policy: IcePolicyArg,
    turn_urls: Vec<String>,
) -> Result<MediaOptions, CliError> {
    if let Some(bad) = turn_urls
        .iter()
        .find(|u| !(u.starts_with("turn:") || u.starts_with("turns:")))
    {
        return Err(CliError::Usage(format!(
            "--turn-url {bad:?}: expected turn:HOST:PORT or turns:HOST:PORT"
        )));
    }
    if media == MediaArg::Devices {
        preflight();
    }
    let mut peer = PeerConfig {
        source: match media {
            MediaArg::Synthetic => MediaSource::Synthetic,
            MediaArg::Devices => MediaSource::Devices,
        },
        video: parse_video(video)?,
        ice_policy: match ice_policy {
            IcePolicyArg::All => IcePolicy::All,
            IcePolicyArg::Relay => IcePolicy::Relay,
        },
        ..PeerConfig::default()
    };
    if !udp_addrs.is_empty() {
        peer.udp_addrs = udp_addrs;
    }
    Ok(MediaOptions { peer, turn_urls })
}

/// Says on stderr what the visit will lack (no names: just the kinds).
fn preflight() {
    use bedside_media::devices::{DeviceKind, list_devices};
    let found = list_devices();
    let has = |k: DeviceKind| found.iter().any(|d| d.kind == k);
    if !has(DeviceKind::Camera) {
        eprintln!(
            "bedsidectl: no camera found: the visit will be audio-only (the patient's video still shows)"
        );
    }
    if !has(DeviceKind::Microphone) {
        eprintln!("bedsidectl: no microphone found: the patient will hear silence");
    }
    if !has(DeviceKind::Speaker) {
        eprintln!("bedsidectl: no speaker found: the patient's audio will not be played");
    }
}

fn parse_video(s: &str) -> Result<VideoSettings, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--video {s:?}: expected WIDTHxHEIGHT@FPS, e.g. 640x480@30"
        ))
    };
    let (size, fps) = s.split_once('@').ok_or_else(bad)?;
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let (width, height, fps): (u32, u32, u32) = (
        w.parse().map_err(|_| bad())?,
        h.parse().map_err(|_| bad())?,
        fps.parse().map_err(|_| bad())?,
    );
    if !(16..=3840).contains(&width) || !(16..=2160).contains(&height) || !(1..=60).contains(&fps) {
        return Err(bad());
    }
    // Roughly 0.1 bit per pixel per frame, at least 300 kbit/s.
    let bitrate_kbps =
        ((u64::from(width) * u64::from(height) * u64::from(fps)) / 10_000).clamp(300, 4_000) as u32;
    Ok(VideoSettings {
        width,
        height,
        fps,
        bitrate_kbps,
    })
}

/// What `--stats-json` writes.
#[derive(Default)]
pub struct Report {
    notices_seen: std::collections::BTreeSet<(String, String)>,
    sas: Option<String>,
    auth_failures: u32,
    first_frame_ms: Option<u64>,
    samples: Vec<CallStats>,
}

impl Report {
    /// Takes note of one host event.
    pub fn observe(&mut self, e: &HostEvent) {
        match e {
            HostEvent::CallAnswered { sas, .. } => self.sas = Some(sas.clone()),
            HostEvent::CallAuthFailed { .. } => self.auth_failures += 1,
            HostEvent::FirstRemoteFrame { ms, .. } => self.first_frame_ms = Some(*ms),
            HostEvent::CallStats { stats, .. } => self.samples.push((**stats).clone()),
            _ => {}
        }
    }

    /// Device notices in `e` not reported before (their fixed texts).
    pub fn new_device_notices(&mut self, e: &HostEvent) -> Vec<String> {
        let HostEvent::CallStats { stats, .. } = e else {
            return vec![];
        };
        let Some(devices) = &stats.devices else {
            return vec![];
        };
        devices
            .notices
            .iter()
            .filter(|n| {
                self.notices_seen
                    .insert((n.kind.to_string(), n.code.clone()))
            })
            .map(|n| n.message.clone())
            .collect()
    }

    /// Average rates over the seconds after the first decoded frame.
    fn averages(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let mut after = self.samples.iter().filter(|s| s.first_frame_ms.is_some());
        let (Some(first), Some(last)) = (after.next(), self.samples.last()) else {
            return (None, None, None);
        };
        let secs = last.elapsed_s - first.elapsed_s;
        if secs < 0.5 {
            return (None, None, None);
        }
        let rate = |a: u64, b: u64| Some(a.saturating_sub(b) as f64 / secs);
        (
            rate(
                last.totals.video_frames_decoded,
                first.totals.video_frames_decoded,
            ),
            rate(
                last.totals.video_frames_sent,
                first.totals.video_frames_sent,
            ),
            rate(
                last.totals.audio_packets_received,
                first.totals.audio_packets_received,
            ),
        )
    }

    /// The JSON document.
    pub fn to_json(&self) -> String {
        let (fps_decoded, fps_sent, audio_pps) = self.averages();
        let last = self.samples.last();
        let doc = json!({
            "video_codec": last.map(|s| s.video_codec.clone()),
            "audio_codec": last.map(|s| s.audio_codec.clone()),
            "sas": self.sas,
            "auth_failures": self.auth_failures,
            "first_frame_ms": self.first_frame_ms,
            "fps_decoded": fps_decoded,
            "fps_sent": fps_sent,
            "audio_packets_per_s_received": audio_pps,
            "bytes_sent": last.map(|s| s.totals.video_bytes_sent + s.totals.audio_bytes_sent),
            "bytes_received": last.map(|s| s.totals.video_bytes_received + s.totals.audio_bytes_received),
            "recv_resolution": last.map(|s| s.recv_resolution),
            "devices": last.and_then(|s| s.devices.clone()),
            "send_resolution": last.map(|s| s.send_resolution),
            "last": last,
            "samples": self.samples,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_flag_parses_and_rejects_nonsense() {
        let v = parse_video("640x480@30")
            .ok()
            .map(|v| (v.width, v.height, v.fps));
        assert_eq!(v, Some((640, 480, 30)));
        for bad in [
            "640x480",
            "640@30",
            "0x480@30",
            "640x480@0",
            "axb@c",
            "99999x480@30",
        ] {
            assert!(parse_video(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_report_averages_after_the_first_frame() {
        let mut r = Report::default();
        let sample = |t: f64, decoded: u64, first: Option<u64>| {
            let mut s = CallStats {
                elapsed_s: t,
                first_frame_ms: first,
                video_codec: "video/VP8".into(),
                ..CallStats::default()
            };
            s.totals.video_frames_decoded = decoded;
            s.totals.video_bytes_sent = 1000;
            HostEvent::CallStats {
                device: "d".into(),
                stats: Box::new(s),
            }
        };
        r.observe(&HostEvent::CallAnswered {
            device: "d".into(),
            sas: "123 456".into(),
            local_fingerprint: String::new(),
            remote_fingerprint: String::new(),
            restart: false,
        });
        r.observe(&sample(1.0, 0, None));
        r.observe(&HostEvent::FirstRemoteFrame {
            device: "d".into(),
            ms: 1500,
        });
        r.observe(&sample(2.0, 10, Some(1500)));
        r.observe(&sample(12.0, 310, Some(1500)));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap_or_default();
        assert_eq!(v["fps_decoded"], 30.0);
        assert_eq!(v["first_frame_ms"], 1500);
        assert_eq!(v["sas"], "123 456");
        assert_eq!(v["video_codec"], "video/VP8");
        assert_eq!(v["auth_failures"], 0);
        assert_eq!(v["samples"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn device_notices_are_reported_once_each() {
        let mut r = Report::default();
        let stats = |codes: &[&str]| {
            let notices = codes
                .iter()
                .map(|c| bedside_media::DeviceNotice {
                    kind: bedside_media::devices::DeviceKind::Camera,
                    code: (*c).into(),
                    message: format!("message {c}"),
                })
                .collect();
            HostEvent::CallStats {
                device: "d".into(),
                stats: Box::new(CallStats {
                    devices: Some(bedside_media::DeviceReport {
                        audio_only: true,
                        notices,
                        ..Default::default()
                    }),
                    ..CallStats::default()
                }),
            }
        };
        assert_eq!(
            r.new_device_notices(&stats(&["no_camera"])),
            vec!["message no_camera"]
        );
        assert!(r.new_device_notices(&stats(&["no_camera"])).is_empty());
        assert_eq!(
            r.new_device_notices(&stats(&["no_camera", "device_vanished"])),
            vec!["message device_vanished"]
        );
        let devices = options(
            MediaArg::Devices,
            vec![],
            "640x480@30",
            IcePolicyArg::All,
            vec![],
        )
        .map(|o| o.peer.source);
        assert_eq!(devices.ok(), Some(MediaSource::Devices));
    }

    #[test]
    fn turn_urls_are_checked_and_need_no_secret() {
        let ok = options(
            MediaArg::Synthetic,
            vec![],
            "640x480@30",
            IcePolicyArg::Relay,
            vec!["turn:10.0.0.5:3478".into()],
        )
        .map(|m| (m.turn_urls, m.peer.turn.is_none(), m.peer.ice_policy));
        assert_eq!(
            ok.ok(),
            Some((
                vec!["turn:10.0.0.5:3478".to_string()],
                true,
                IcePolicy::Relay
            ))
        );
        assert!(
            options(
                MediaArg::Synthetic,
                vec![],
                "640x480@30",
                IcePolicyArg::All,
                vec!["https://turn.example.org".into()],
            )
            .is_err()
        );
    }
}
