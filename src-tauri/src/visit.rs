//! The visit room: the call of an admitted patient, carried by the waiting room's relay
//! connection for that visit (`bedside_host::run_with_control_and_media`), shown in the
//! window. The room attaches three Tauri Channels (`visit_open`): call updates as JSON
//! (state, SAS, stats once a second) and two binary frame streams, the patient's video
//! and our own preview.
//!
//! A frame crosses as one binary message: a 16-byte header (`BSV1`, stream, seq, width,
//! height; see [`encode_frame`]) and the tightly packed I420 planes at the decoded size
//! (640×480: 460,816 bytes, against 1,228,816 as RGBA; the webview converts with a WebGL
//! shader). **Invariant:** newest frame wins, never a queue: the pump reads the media
//! crate's `watch` slot and sends a frame only while fewer than [`IN_FLIGHT`] sent frames
//! are unacknowledged by the window (`visit_frame_ack`); anything older is skipped. A
//! window that stops acknowledging gets one frame a second at most.
//!
//! Media source: the clinician's devices (`bedside_media::MediaSource::Devices`: the
//! microphone, camera and speaker chosen in Settings, else the system's defaults). With no
//! camera the call is audio only and with no microphone the patient hears nothing; the
//! room says so from `CallStats::devices` (the UI maps the notices to plain sentences).
//! `BEDSIDE_VIDEO_SOURCE=test-pattern` sends the synthetic test pattern and tone
//! (`bedside_codec::synthetic`) instead: diagnostics and tests. The device choice is saved
//! in the profile's settings and held here while signed in (in [`VisitRoom`]), applied to
//! calls that start later and, through `visit_set_device`, to a call in progress. When a
//! call starts, a saved device that is not connected gives way to the system's default and
//! the room is told ([`VisitUpdate::DeviceFallback`], `missing`); the hot-plug watcher
//! reports a saved device unplugged mid-call the same way (`removed`). `BEDSIDE_MEDIA_UDP` (comma-separated
//! `ip:port`, e.g. `127.0.0.1:0`) binds the call's UDP sockets there instead of `0.0.0.0:0`.
//!
//! Chat: the patient's messages arrive as [`HostEvent::Chat`] (the call's data channel,
//! never the relay) and the clinician's go out as `HostCommand::Chat`; both reach the
//! window as [`VisitUpdate::Chat`]. The room keeps the last [`CHAT_KEPT`] lines in memory
//! for a window that reopens, and forgets them when the visit ends or the app locks:
//! chat is not stored (the clinician copies what matters into the encrypted note).
//!
//! **Invariant:** frames, the SAS, stats and chat go only to the main window's Channels; logs
//! carry truncated visit ids and states; the audit log carries the appointment id
//! (`visit.call_start`, `visit.sas_shown`, `visit.sas_confirmed`, `visit.call_auth_failed`,
//! `visit.send_back`, `visit.end`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_core::{DeviceSlot, SavedDevice, SavedDevices};
use bedside_host::HostEvent;
use bedside_media::devices::{DeviceId, DeviceInfo, DeviceKind};
use bedside_media::{DeviceSelection, Frame, Peer};
use serde::Serialize;
use tauri::ipc::{Channel, InvokeResponseBody};
use tokio::sync::watch;

use crate::IpcError;

/// Chat lines kept in memory per visit (for a room that is closed and reopened).
pub(crate) const CHAT_KEPT: usize = 500;

/// Who wrote a chat line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChatFrom {
    /// The patient (received on the call's data channel).
    Patient,
    /// The clinician (sent from this window).
    Clinician,
}

/// One chat line for the window. The text is PHI: `Debug` redacts it, and it is never
/// logged or stored.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ChatLine {
    /// The sender's message id.
    pub id: String,
    /// Who wrote it.
    pub from: ChatFrom,
    /// The text.
    pub text: String,
    /// When it was sent, by the sender's clock (Unix milliseconds).
    pub sent_at: u64,
}

impl std::fmt::Debug for ChatLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatLine")
            .field("id", &self.id)
            .field("from", &self.from)
            .field("text", &"[redacted]")
            .finish()
    }
}

impl ChatLine {
    fn new(from: ChatFrom, m: &bedside_media::ChatMessage) -> Self {
        Self {
            id: m.id.clone(),
            from,
            text: m.text.clone(),
            sent_at: m.sent_at,
        }
    }
}

/// Sent frames the window may have unacknowledged before newer ones are skipped.
pub(crate) const IN_FLIGHT: u32 = 10;

/// The self view is small: our own picture goes to the window at a quarter of its size
/// and at most this often, so it costs the webview a fraction of the patient's video.
const SELF_VIEW_SCALE: u32 = 4;
const SELF_VIEW_PERIOD: Duration = Duration::from_millis(100);

/// After this long without an acknowledgement, send the newest frame anyway (a lost ack
/// must not freeze the picture).
const ACK_GRACE: Duration = Duration::from_secs(1);

/// The header's first bytes.
pub(crate) const FRAME_MAGIC: &[u8; 4] = b"BSV1";

/// Header length in bytes.
pub(crate) const FRAME_HEADER: usize = 16;

/// The two frame streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// The patient's decoded video.
    Remote = 0,
    /// Our own picture as sent (self view).
    Local = 1,
}

/// Where the call's picture comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SourceChoice {
    /// Chosen explicitly (`BEDSIDE_VIDEO_SOURCE=test-pattern`): diagnostics and tests.
    TestPattern,
    /// The clinician's microphone, camera and speaker.
    Devices,
}

impl SourceChoice {
    /// From `BEDSIDE_VIDEO_SOURCE`.
    pub(crate) fn from_env(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("test-pattern") => Self::TestPattern,
            _ => Self::Devices,
        }
    }

    /// From the process environment.
    pub(crate) fn current() -> Self {
        Self::from_env(std::env::var("BEDSIDE_VIDEO_SOURCE").ok().as_deref())
    }

    /// The call's media source.
    pub(crate) fn media(self) -> bedside_media::MediaSource {
        match self {
            Self::TestPattern => bedside_media::MediaSource::Synthetic,
            Self::Devices => bedside_media::MediaSource::Devices,
        }
    }
}

/// The media settings for the waiting room's connections under `policy`:
/// `MediaMaxBitrateKbps` caps the video bitrate (adaptation only goes lower),
/// `TurnServers` names the TURN URLs to use with the relay's credentials.
/// `source` and `devices` say where the call's media comes from.
pub(crate) fn media_options(
    policy: &bedside_policy::Effective,
    source: SourceChoice,
    devices: DeviceSelection,
) -> bedside_host::MediaOptions {
    let mut opts = bedside_host::MediaOptions::default();
    opts.peer.source = source.media();
    opts.peer.devices = devices;
    if let Ok(cap) = u32::try_from(policy.int("MediaMaxBitrateKbps"))
        && cap > 0
    {
        opts.peer.video.bitrate_kbps = opts.peer.video.bitrate_kbps.min(cap);
    }
    // Only a build with the `h264` feature can answer with H.264; elsewhere it stays VP8.
    opts.peer.allow_h264 = policy.bool("AllowH264");
    if let Some(urls) = policy.get("TurnServers").as_array() {
        opts.turn_urls = urls
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
    }
    if let Some(addrs) = std::env::var("BEDSIDE_MEDIA_UDP")
        .ok()
        .map(|v| parse_udp(&v))
        .filter(|a| !a.is_empty())
    {
        opts.peer.udp_addrs = addrs;
    }
    opts
}

fn parse_udp(value: &str) -> Vec<SocketAddr> {
    value
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect()
}

/// Encodes one frame: `BSV1`, stream (u8), 3 reserved bytes, seq (u32 LE), width (u16 LE),
/// height (u16 LE), then Y, U and V. `None` for a frame that is not well formed or too big
/// for the header.
pub(crate) fn encode_frame(
    stream: Stream,
    seq: u32,
    frame: &bedside_codec::I420Frame,
) -> Option<Vec<u8>> {
    if !frame.is_well_formed() {
        return None;
    }
    let width = u16::try_from(frame.width).ok()?;
    let height = u16::try_from(frame.height).ok()?;
    let mut out = Vec::with_capacity(FRAME_HEADER + frame.y.len() + frame.u.len() + frame.v.len());
    out.extend_from_slice(FRAME_MAGIC);
    out.extend_from_slice(&[stream as u8, 0, 0, 0]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&frame.y);
    out.extend_from_slice(&frame.u);
    out.extend_from_slice(&frame.v);
    Some(out)
}

/// A smaller copy of `frame`: every `factor`-th pixel of every `factor`-th row (the self
/// view needs no more; a box filter would cost more than it shows at that size).
pub(crate) fn decimate(frame: &bedside_codec::I420Frame, factor: u32) -> bedside_codec::I420Frame {
    let f = factor.max(1) as usize;
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (nw, nh) = (w.div_ceil(f).max(1), h.div_ceil(f).max(1));
    let pick = |plane: &[u8], pw: usize, ow: usize, oh: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(ow * oh);
        for row in 0..oh {
            for col in 0..ow {
                out.push(plane.get(row * f * pw + col * f).copied().unwrap_or(128));
            }
        }
        out
    };
    let (cw, _) = bedside_codec::I420Frame::chroma_size(frame.width, frame.height);
    let (ncw, nch) = bedside_codec::I420Frame::chroma_size(nw as u32, nh as u32);
    bedside_codec::I420Frame {
        width: nw as u32,
        height: nh as u32,
        y: pick(&frame.y, w, nw, nh),
        u: pick(&frame.u, cw, ncw, nch),
        v: pick(&frame.v, cw, ncw, nch),
    }
}

/// One update for the room (JSON over the events Channel).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VisitUpdate {
    /// Sent first on `visit_open`: what is known so far.
    Snapshot {
        /// The appointment.
        appointment: i64,
        /// Call state (`waiting` before any offer).
        state: String,
        /// The SAS, once the call is answered.
        sas: Option<String>,
        /// Our audio is muted.
        muted: bool,
        /// Our camera is off.
        camera_off: bool,
        /// Where our picture comes from.
        source: SourceChoice,
        /// The chat so far (memory only; gone when the visit ends or the app locks).
        chat: Vec<ChatLine>,
        /// Saved devices this call could not use (it uses the system's default instead).
        fallbacks: Vec<crate::devices::DeviceFallback>,
    },
    /// A saved device is not connected (at the start) or was unplugged (during the call):
    /// the call uses the system's default of that kind.
    DeviceFallback {
        /// Which device, and why.
        device: crate::devices::DeviceFallback,
    },
    /// The call was answered (again, after an ICE restart): the SAS to read out.
    Answered {
        /// Short authentication string.
        sas: String,
    },
    /// The call's connection state.
    State {
        /// `connecting`, `connected`, `disconnected`, `failed`, `closed`, `left`.
        state: String,
    },
    /// Once a second.
    Stats {
        /// The snapshot.
        stats: Box<bedside_media::CallStats>,
    },
    /// An offer did not authenticate: the call was refused.
    AuthFailed,
    /// A chat line: the patient's, or ours once sent.
    Chat {
        /// The line.
        line: ChatLine,
    },
    /// A chat message was refused: ours (`outgoing`: too long, too many, no open
    /// channel) or the patient's (too large, malformed, too many).
    ChatRefused {
        /// Ours (true) or the patient's.
        outgoing: bool,
        /// Why, as `bedside_media::ChatRefusal`'s snake_case name (`too_long`, `not_open`, …).
        reason: String,
    },
}

/// The window's side of one visit: the Channels and the pumps' shared counters.
struct View {
    events: Channel<VisitUpdate>,
    frames: [Channel<InvokeResponseBody>; 2],
    acked: [Arc<AtomicU32>; 2],
    /// Cleared when the view goes (room closed, visit ended, lock): the pumps stop.
    alive: Arc<AtomicBool>,
}

impl Drop for View {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
    }
}

/// One visit with a call (or about to have one).
struct Live {
    appointment: i64,
    device: Option<String>,
    peer: Option<Arc<Peer>>,
    sas: Option<String>,
    state: String,
    muted: bool,
    camera_off: bool,
    view: Option<View>,
    /// The chat so far, newest last, at most [`CHAT_KEPT`] (memory only).
    chat: std::collections::VecDeque<ChatLine>,
    /// Saved devices this call runs without (one per kind, the latest).
    fallbacks: Vec<crate::devices::DeviceFallback>,
}

impl Live {
    fn new(appointment: i64) -> Self {
        Self {
            appointment,
            device: None,
            peer: None,
            sas: None,
            state: "waiting".into(),
            muted: false,
            camera_off: false,
            view: None,
            chat: std::collections::VecDeque::new(),
            fallbacks: Vec::new(),
        }
    }

    /// Records a fallback (replacing an earlier one of the same kind) and tells the room.
    fn fallback(&mut self, device: crate::devices::DeviceFallback) {
        self.fallbacks.retain(|f| f.kind != device.kind);
        self.fallbacks.push(device.clone());
        self.send(VisitUpdate::DeviceFallback { device });
    }

    fn chat(&mut self, line: ChatLine) {
        if self.chat.len() >= CHAT_KEPT {
            self.chat.pop_front();
        }
        self.chat.push_back(line.clone());
        self.send(VisitUpdate::Chat { line });
    }

    fn send(&self, update: VisitUpdate) {
        if let Some(v) = &self.view
            && v.events.send(update).is_err()
        {
            tracing::debug!("visit room channel closed");
        }
    }

    /// Starts the frame pumps for the current peer and view (if both exist).
    fn start_pumps(&self) {
        let (Some(peer), Some(view)) = (&self.peer, &self.view) else {
            return;
        };
        for (stream, rx) in [
            (Stream::Remote, peer.remote_video()),
            (Stream::Local, peer.local_preview()),
        ] {
            let i = stream as usize;
            spawn_pump(
                stream,
                rx,
                view.frames[i].clone(),
                Arc::clone(&view.acked[i]),
                Arc::clone(&view.alive),
            );
        }
    }
}

fn spawn_pump(
    stream: Stream,
    mut rx: watch::Receiver<Option<Frame>>,
    channel: Channel<InvokeResponseBody>,
    acked: Arc<AtomicU32>,
    alive: Arc<AtomicBool>,
) {
    tauri::async_runtime::spawn(async move {
        let mut seq: u32 = 0;
        let mut skipped: u64 = 0;
        let mut last_sent = Instant::now()
            .checked_sub(ACK_GRACE)
            .unwrap_or_else(Instant::now);
        // Ends when the peer's slot goes (call over) or the view does.
        while rx.changed().await.is_ok() && alive.load(Ordering::Acquire) {
            let Some(frame) = rx.borrow_and_update().clone() else {
                continue;
            };
            let behind = seq.wrapping_sub(acked.load(Ordering::Acquire)) >= IN_FLIGHT;
            let too_soon = stream == Stream::Local && last_sent.elapsed() < SELF_VIEW_PERIOD;
            if too_soon || (behind && last_sent.elapsed() < ACK_GRACE) {
                // Newest frame wins: the window is still busy, skip this one.
                skipped += 1;
                continue;
            }
            seq = seq.wrapping_add(1);
            let bytes = if stream == Stream::Local {
                encode_frame(stream, seq, &decimate(&frame, SELF_VIEW_SCALE))
            } else {
                encode_frame(stream, seq, &frame)
            };
            let Some(bytes) = bytes else {
                continue;
            };
            if seq.is_multiple_of(300) {
                tracing::debug!(
                    stream = stream as u8,
                    sent = seq,
                    skipped,
                    "frames to the window"
                );
            }
            last_sent = Instant::now();
            if channel.send(InvokeResponseBody::Raw(bytes)).is_err() {
                break;
            }
        }
    });
}

/// The visits with a call, by visit id (hex).
#[derive(Default)]
pub struct VisitRoom {
    visits: Mutex<HashMap<String, Live>>,
    /// The devices chosen, as saved in the profile's settings (loaded at unlock, forgotten
    /// at lock; `None` = the system's default).
    devices: Mutex<SavedDevices>,
    /// The Settings page's microphone level and camera preview.
    monitor: crate::devices::Monitor,
    /// The hot-plug watcher, while signed in.
    hotplug: Mutex<Option<crate::hotplug::Hotplug>>,
}

/// The name of the device of `kind` a peer has open, if any.
fn in_use(peer: &Peer, kind: DeviceKind) -> Option<String> {
    let report = peer.devices()?;
    match kind {
        DeviceKind::Microphone => report.microphone,
        DeviceKind::Speaker => report.speaker,
        DeviceKind::Camera => report.camera,
    }
}

/// Applies a device choice to a peer (a no-op for the test pattern's peers).
fn apply_device(peer: &Peer, kind: DeviceKind, id: Option<DeviceId>) {
    match kind {
        DeviceKind::Microphone => peer.set_microphone(id),
        DeviceKind::Speaker => peer.set_speaker(id),
        DeviceKind::Camera => peer.set_camera(id),
    }
}

impl VisitRoom {
    fn with<T>(&self, visit: &str, f: impl FnOnce(&mut Live) -> T) -> Result<T, IpcError> {
        let mut visits = self.visits.lock().map_err(|_| IpcError::internal())?;
        let live = visits.get_mut(visit).ok_or_else(|| {
            IpcError::new(
                "not_found",
                "This visit has no call; admit the patient first.",
            )
        })?;
        Ok(f(live))
    }

    /// The Settings page's live checks.
    pub(crate) fn monitor(&self) -> &crate::devices::Monitor {
        &self.monitor
    }

    /// The ids of the devices chosen (unchecked; `peer_ready` checks them).
    pub(crate) fn selection(&self) -> DeviceSelection {
        self.devices
            .lock()
            .map(|d| crate::devices::selection_of(&d))
            .unwrap_or_default()
    }

    /// The devices chosen, as saved.
    pub(crate) fn saved(&self) -> SavedDevices {
        self.devices.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Takes the profile's saved choice (at unlock).
    pub(crate) fn load_devices(&self, saved: SavedDevices) {
        if let Ok(mut d) = self.devices.lock() {
            *d = saved;
        }
    }

    /// Starts the hot-plug watcher unless it runs (at unlock).
    pub(crate) fn start_hotplug(&self, start: impl FnOnce() -> crate::hotplug::Hotplug) {
        if let Ok(mut h) = self.hotplug.lock()
            && h.is_none()
        {
            *h = Some(start());
        }
    }

    /// Chooses a device (already saved in the settings by the caller), for every call in
    /// progress too; a fallback notice of that kind is over.
    pub(crate) fn set_device(&self, slot: DeviceSlot, device: Option<SavedDevice>) {
        let id = device.as_ref().map(|d| DeviceId(d.id.clone()));
        if let Ok(mut d) = self.devices.lock() {
            d.set(slot, device);
        }
        let Ok(mut visits) = self.visits.lock() else {
            return;
        };
        let devices = SourceChoice::current() == SourceChoice::Devices;
        for live in visits.values_mut() {
            live.fallbacks.retain(|f| f.kind != slot);
            if let (true, Some(p)) = (devices, &live.peer) {
                apply_device(p, crate::devices::kind_of(slot), id.clone());
            }
        }
    }

    /// A device went away (the hot-plug watcher). A call using it as the saved choice
    /// switches to the system's default and the room says so; a call using the system's
    /// default reopens on the new default (PulseAudio moves a stream by itself; ALSA and
    /// cameras do not). The saved choice stays: it is used again once the device is back.
    pub(crate) fn device_removed(&self, info: &DeviceInfo) {
        if SourceChoice::current() != SourceChoice::Devices {
            return;
        }
        let slot = crate::devices::slot_of(info.kind);
        let saved = self.devices.lock().ok().and_then(|d| d.get(slot).cloned());
        let Ok(mut visits) = self.visits.lock() else {
            return;
        };
        for live in visits.values_mut() {
            let Some(peer) = live.peer.clone() else {
                continue;
            };
            match &saved {
                Some(d) if d.id == info.id.as_str() => {
                    apply_device(&peer, info.kind, None);
                    live.fallback(crate::devices::DeviceFallback {
                        kind: slot,
                        name: d.name.clone(),
                        reason: crate::devices::FallbackReason::Removed,
                    });
                }
                None if in_use(&peer, info.kind).as_deref() == Some(info.name.as_str()) => {
                    apply_device(&peer, info.kind, None);
                }
                _ => {}
            }
        }
    }

    /// [`Self::set_device`] from a visit's room (the visit must have a call).
    pub(crate) fn set_device_for(
        &self,
        visit: &str,
        slot: DeviceSlot,
        device: Option<SavedDevice>,
    ) -> Result<(), IpcError> {
        self.with(visit, |_| ())?;
        self.set_device(slot, device);
        Ok(())
    }

    /// The waiting room admitted a device of this visit: the room may open now. Admitted
    /// again after being sent back, the visit starts a new call: the last call's code and
    /// state are gone (its chat stays, for the visit).
    pub(crate) fn admitted(&self, appointment: i64, visit: &str) {
        if let Ok(mut visits) = self.visits.lock() {
            let live = visits
                .entry(visit.to_owned())
                .or_insert_with(|| Live::new(appointment));
            if live.peer.is_none() {
                live.sas = None;
                live.state = "waiting".into();
                live.fallbacks.clear();
            }
        }
    }

    /// A new peer from the host: keep it, apply the switches, feed the window.
    pub(crate) fn peer_ready(
        &self,
        appointment: i64,
        visit: &str,
        device: String,
        peer: Arc<Peer>,
    ) {
        // The choice may have changed since this connection's options were made, and a
        // saved device may not be connected: check it against the devices present now
        // (listed before taking the lock: enumeration takes a moment).
        let resolved = (SourceChoice::current() == SourceChoice::Devices).then(|| {
            crate::devices::resolve(&self.saved(), &bedside_media::devices::list_devices())
        });
        let Ok(mut visits) = self.visits.lock() else {
            return;
        };
        let live = visits
            .entry(visit.to_owned())
            .or_insert_with(|| Live::new(appointment));
        peer.set_muted(live.muted);
        peer.set_camera_off(live.camera_off);
        if let Some((chosen, fallbacks)) = resolved {
            apply_device(&peer, DeviceKind::Microphone, chosen.microphone);
            apply_device(&peer, DeviceKind::Speaker, chosen.speaker);
            apply_device(&peer, DeviceKind::Camera, chosen.camera);
            live.fallbacks.clear();
            for f in fallbacks {
                tracing::info!(kind = ?f.kind, "saved device not connected: using the default");
                live.fallback(f);
            }
        }
        live.device = Some(device);
        live.peer = Some(peer);
        live.start_pumps();
    }

    /// A call event from the host; returns the audit action it calls for, if any.
    pub(crate) fn host_event(
        &self,
        appointment: i64,
        visit: &str,
        event: &HostEvent,
    ) -> Option<&'static str> {
        let mut visits = self.visits.lock().ok()?;
        let live = visits
            .entry(visit.to_owned())
            .or_insert_with(|| Live::new(appointment));
        match event {
            HostEvent::CallAnswered {
                device,
                sas,
                restart,
                ..
            } => {
                live.device = Some(device.clone());
                live.sas = Some(sas.clone());
                live.send(VisitUpdate::Answered { sas: sas.clone() });
                (!restart).then_some("visit.call_start")
            }
            HostEvent::CallState { state, .. } => {
                live.state.clone_from(state);
                live.send(VisitUpdate::State {
                    state: state.clone(),
                });
                None
            }
            HostEvent::CallStats { stats, .. } => {
                live.send(VisitUpdate::Stats {
                    stats: stats.clone(),
                });
                None
            }
            HostEvent::CallAuthFailed { .. } => {
                live.send(VisitUpdate::AuthFailed);
                Some("visit.call_auth_failed")
            }
            HostEvent::Chat { message, .. } => {
                live.chat(ChatLine::new(ChatFrom::Patient, message));
                None
            }
            HostEvent::ChatSent { message, .. } => {
                live.chat(ChatLine::new(ChatFrom::Clinician, message));
                None
            }
            HostEvent::ChatRefused {
                outgoing, reason, ..
            } => {
                live.send(VisitUpdate::ChatRefused {
                    outgoing: *outgoing,
                    reason: serde_json::to_value(reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                });
                None
            }
            HostEvent::CallRefusedByPatient { device, .. }
                if live.device.as_ref().is_none_or(|d| d == device) =>
            {
                // The patient's page refused our answer: the call stopped for
                // the same reason an offer that fails authentication does.
                live.peer = None;
                live.send(VisitUpdate::AuthFailed);
                event.audit_action()
            }
            HostEvent::DeviceState { device, state }
                if live.device.as_ref() == Some(device)
                    && matches!(state.as_str(), "left" | "ended" | "expired" | "waiting") =>
            {
                // The patient went (or was sent back): the call is over.
                live.peer = None;
                live.state = "left".into();
                live.send(VisitUpdate::State {
                    state: "left".into(),
                });
                None
            }
            _ => None,
        }
    }

    /// The room opened: attach its Channels, send what is known, start the pumps.
    pub(crate) fn open(
        &self,
        visit: &str,
        events: Channel<VisitUpdate>,
        remote: Channel<InvokeResponseBody>,
        local: Channel<InvokeResponseBody>,
        source: SourceChoice,
    ) -> Result<i64, IpcError> {
        self.with(visit, |live| {
            live.view = Some(View {
                events,
                frames: [remote, local],
                acked: [Arc::default(), Arc::default()],
                alive: Arc::new(AtomicBool::new(true)),
            });
            live.send(VisitUpdate::Snapshot {
                appointment: live.appointment,
                state: live.state.clone(),
                sas: live.sas.clone(),
                muted: live.muted,
                camera_off: live.camera_off,
                source,
                chat: live.chat.iter().cloned().collect(),
                fallbacks: live.fallbacks.clone(),
            });
            live.start_pumps();
            live.appointment
        })
    }

    /// The room closed (the call goes on; the window stops receiving frames).
    pub(crate) fn close_view(&self, visit: &str) {
        let _ = self.with(visit, |live| live.view = None);
    }

    /// The window painted frame `seq` of `stream`.
    pub(crate) fn ack(&self, visit: &str, stream: u8, seq: u32) -> Result<(), IpcError> {
        self.with(visit, |live| {
            if let Some(v) = &live.view
                && let Some(a) = v.acked.get(usize::from(stream))
            {
                a.store(seq, Ordering::Release);
            }
        })
    }

    /// Mute and camera switches (kept for a peer that comes later).
    pub(crate) fn controls(
        &self,
        visit: &str,
        muted: bool,
        camera_off: bool,
    ) -> Result<i64, IpcError> {
        self.with(visit, |live| {
            live.muted = muted;
            live.camera_off = camera_off;
            if let Some(p) = &live.peer {
                p.set_muted(muted);
                p.set_camera_off(camera_off);
            }
            live.appointment
        })
    }

    /// The device to chat with: the one in the call, once its chat channel is open.
    pub(crate) fn chat_device(&self, visit: &str) -> Result<String, IpcError> {
        self.with(visit, |live| match (&live.device, &live.peer) {
            (Some(d), Some(p)) if p.chat_open() => Some(d.clone()),
            _ => None,
        })?
        .ok_or_else(|| {
            IpcError::new(
                "not_connected",
                "Chat is not connected yet; wait for the call to connect.",
            )
        })
    }

    /// The appointment, if a SAS has been shown for this visit.
    pub(crate) fn sas_shown(&self, visit: &str) -> Result<i64, IpcError> {
        self.with(visit, |live| live.sas.is_some().then_some(live.appointment))?
            .ok_or_else(|| IpcError::new("invalid_input", "There is no code to confirm yet."))
    }

    /// Ends the visit's call here (the caller tells the relay): returns the appointment and
    /// the device that was in the call, and forgets the visit.
    pub(crate) async fn finish(&self, visit: &str) -> Result<(i64, Option<String>), IpcError> {
        let live = {
            let mut visits = self.visits.lock().map_err(|_| IpcError::internal())?;
            visits.remove(visit).ok_or_else(|| {
                IpcError::new(
                    "not_found",
                    "This visit has no call; admit the patient first.",
                )
            })?
        };
        if let Some(p) = &live.peer {
            p.close().await;
        }
        Ok((live.appointment, live.device.clone()))
    }

    /// The call stopped without the room (send back): keep the visit, drop its peer.
    pub(crate) async fn drop_peer(&self, visit: &str) -> Result<(i64, Option<String>), IpcError> {
        let (peer, out) = self.with(visit, |live| {
            live.state = "left".into();
            live.send(VisitUpdate::State {
                state: "left".into(),
            });
            (live.peer.take(), (live.appointment, live.device.clone()))
        })?;
        if let Some(p) = peer {
            p.close().await;
        }
        Ok(out)
    }

    /// Forgets every visit (lock): views go, peers are closed by their host loops; the
    /// device choice is forgotten (the next profile loads its own) and hot-plug stops.
    pub(crate) fn clear(&self) {
        self.monitor.stop();
        let hotplug = self.hotplug.lock().ok().and_then(|mut h| h.take());
        drop(hotplug);
        if let Ok(mut d) = self.devices.lock() {
            *d = SavedDevices::default();
        }
        if let Ok(mut v) = self.visits.lock() {
            v.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_codec::I420Frame;

    fn managed(values: serde_json::Value) -> bedside_policy::Effective {
        let layer = bedside_policy::Layer {
            source: bedside_policy::Source::Platform {
                location: "/etc/bedside/policies/managed/10-test.json".into(),
            },
            level: bedside_policy::Level::Mandatory,
            values: values.as_object().cloned().unwrap_or_default(),
        };
        bedside_policy::merge(&serde_json::Map::new(), &[layer])
    }

    #[test]
    fn media_policies_cap_the_bitrate_and_name_the_turn_servers() {
        let default = media_options(
            &managed(serde_json::json!({})),
            SourceChoice::TestPattern,
            DeviceSelection::default(),
        );
        assert_eq!(
            default.peer.video.bitrate_kbps, 1000,
            "the encoder's own start"
        );
        assert!(default.turn_urls.is_empty(), "the relay's TURN URLs");
        assert!(!default.peer.allow_h264, "VP8 only unless allowed");

        let set = media_options(
            &managed(serde_json::json!({
            "MediaMaxBitrateKbps": 400,
            "TurnServers": ["turns:turn.clinic.example:5349"],
            "AllowH264": true,
            })),
            SourceChoice::TestPattern,
            DeviceSelection::default(),
        );
        assert!(set.peer.allow_h264, "AllowH264 reaches the peer");
        assert_eq!(set.peer.video.bitrate_kbps, 400);
        assert_eq!(set.turn_urls, ["turns:turn.clinic.example:5349"]);
        assert!(
            set.peer.turn.is_none(),
            "credentials still come from the relay"
        );
    }

    #[test]
    fn a_frame_is_a_header_then_the_i420_planes() {
        let mut f = I420Frame::new_black(5, 3);
        f.y[0] = 200;
        let bytes = encode_frame(Stream::Local, 7, &f).expect("frame");
        assert_eq!(&bytes[..4], FRAME_MAGIC);
        assert_eq!(bytes[4], 1);
        assert_eq!(
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            7
        );
        assert_eq!(u16::from_le_bytes([bytes[12], bytes[13]]), 5);
        assert_eq!(u16::from_le_bytes([bytes[14], bytes[15]]), 3);
        // 5×3 luma, 3×2 for each chroma plane.
        assert_eq!(bytes.len(), FRAME_HEADER + 15 + 6 + 6);
        assert_eq!(bytes[FRAME_HEADER], 200);
        assert_eq!(bytes[FRAME_HEADER + 15], 128);
        f.u.pop();
        assert!(
            encode_frame(Stream::Remote, 1, &f).is_none(),
            "a mis-sized frame is not sent"
        );
    }

    /// I420 at the decoded size against RGBA converted here: the bytes that cross and
    /// the time the conversion would cost per 640×480 frame (the webview's shader does it
    /// for free).
    #[test]
    fn i420_is_the_cheaper_wire_format() {
        let f = bedside_codec::synthetic::TestPattern::new(640, 480).frame(
            bedside_codec::synthetic::Stamp {
                counter: 1,
                capture_micros: 0,
            },
        );
        let started = Instant::now();
        let i420 = encode_frame(Stream::Remote, 1, &f).expect("frame");
        let copy = started.elapsed();
        let started = Instant::now();
        let rgba = to_rgba(&f);
        let convert = started.elapsed();
        assert_eq!(i420.len(), FRAME_HEADER + 640 * 480 * 3 / 2);
        assert_eq!(rgba.len(), 640 * 480 * 4);
        assert!(rgba.len() > 2 * i420.len());
        eprintln!(
            "640x480: I420 {} B in {copy:?}; RGBA {} B in {convert:?}",
            i420.len(),
            rgba.len()
        );
    }

    /// BT.601 limited range, as the webview's shader does it.
    fn to_rgba(f: &I420Frame) -> Vec<u8> {
        let (w, h) = (f.width as usize, f.height as usize);
        let cw = w.div_ceil(2);
        let mut out = Vec::with_capacity(w * h * 4);
        for row in 0..h {
            for col in 0..w {
                let y = 1.164 * (f32::from(f.y[row * w + col]) - 16.0);
                let c = (row / 2) * cw + col / 2;
                let u = f32::from(f.u[c]) - 128.0;
                let v = f32::from(f.v[c]) - 128.0;
                let px = |x: f32| x.clamp(0.0, 255.0) as u8;
                out.extend_from_slice(&[
                    px(y + 1.596 * v),
                    px(y - 0.392 * u - 0.813 * v),
                    px(y + 2.017 * u),
                    255,
                ]);
            }
        }
        out
    }

    #[test]
    fn the_self_view_is_a_quarter_size_copy() {
        let f = bedside_codec::synthetic::TestPattern::new(640, 480).frame(
            bedside_codec::synthetic::Stamp {
                counter: 1,
                capture_micros: 0,
            },
        );
        let small = decimate(&f, SELF_VIEW_SCALE);
        assert_eq!((small.width, small.height), (160, 120));
        assert!(small.is_well_formed());
        assert_eq!(small.y[1], f.y[4]);
        assert_eq!(small.y[160], f.y[4 * 640]);
        let odd = decimate(&I420Frame::new_black(5, 3), 4);
        assert!(odd.is_well_formed());
        assert_eq!((odd.width, odd.height), (2, 1));
    }

    #[test]
    fn the_source_is_the_devices_unless_the_test_pattern_is_chosen() {
        assert_eq!(
            SourceChoice::from_env(Some("test-pattern")),
            SourceChoice::TestPattern
        );
        assert_eq!(SourceChoice::from_env(None), SourceChoice::Devices);
        assert_eq!(
            SourceChoice::from_env(Some("camera")),
            SourceChoice::Devices
        );
        let policy = managed(serde_json::json!({}));
        let chosen = DeviceSelection {
            microphone: Some(DeviceId::from("pulse:mic-2")),
            speaker: None,
            camera: Some(DeviceId::from("v4l:/dev/video2")),
        };
        let opts = media_options(&policy, SourceChoice::Devices, chosen.clone());
        assert_eq!(opts.peer.source, bedside_media::MediaSource::Devices);
        assert_eq!(opts.peer.devices, chosen);
        let opts = media_options(
            &policy,
            SourceChoice::TestPattern,
            DeviceSelection::default(),
        );
        assert_eq!(opts.peer.source, bedside_media::MediaSource::Synthetic);
        assert_eq!(
            parse_udp("127.0.0.1:0, nonsense,[::1]:5000"),
            vec![
                SocketAddr::from(([127, 0, 0, 1], 0)),
                "[::1]:5000".parse().expect("v6")
            ]
        );
    }

    #[test]
    fn chat_lines_reach_the_snapshot_bounded_and_their_text_is_not_in_debug_output() {
        let room = VisitRoom::default();
        let visit = "00112233445566778899aabbccddeeff";
        room.admitted(4, visit);
        let message = |i: usize| bedside_media::ChatMessage {
            id: format!("m{i}"),
            text: format!("PHI-MARKER chat {i}"),
            sent_at: 1,
        };
        for i in 0..CHAT_KEPT + 3 {
            let e = if i % 2 == 0 {
                HostEvent::Chat {
                    device: "d1".into(),
                    message: message(i),
                }
            } else {
                HostEvent::ChatSent {
                    device: "d1".into(),
                    message: message(i),
                }
            };
            assert_eq!(room.host_event(4, visit, &e), None, "chat is not audited");
        }
        let kept: Vec<ChatLine> = room
            .with(visit, |live| live.chat.iter().cloned().collect())
            .expect("visit");
        assert_eq!(kept.len(), CHAT_KEPT);
        assert_eq!(kept[0].id, "m3", "the oldest went first");
        assert_eq!(kept.last().map(|l| l.from), Some(ChatFrom::Patient));
        let shown = format!("{kept:?}");
        assert!(!shown.contains("PHI-MARKER"), "{}", &shown[..200]);
        let json = serde_json::to_value(VisitUpdate::Chat {
            line: kept[0].clone(),
        })
        .expect("json");
        assert_eq!(json["kind"], "chat");
        assert_eq!(json["line"]["from"], "clinician");
        assert_eq!(json["line"]["text"], "PHI-MARKER chat 3");
        room.clear();
        assert!(room.with(visit, |_| ()).is_err(), "forgotten at lock");
    }

    #[test]
    fn the_saved_choice_is_held_while_signed_in_and_fallbacks_reach_the_room() {
        use crate::devices::{DeviceFallback, FallbackReason};
        let room = VisitRoom::default();
        let headset = SavedDevice {
            id: "mic-usb".into(),
            name: "USB Headset".into(),
        };
        room.load_devices(SavedDevices {
            microphone: Some(headset.clone()),
            ..SavedDevices::default()
        });
        assert_eq!(room.selection().microphone, Some(DeviceId::from("mic-usb")));
        assert_eq!(room.saved().microphone, Some(headset));
        let visit = "00112233445566778899aabbccddeeff";
        room.admitted(4, visit);
        let missing = DeviceFallback {
            kind: DeviceSlot::Microphone,
            name: "USB Headset".into(),
            reason: FallbackReason::Missing,
        };
        room.with(visit, |live| {
            live.fallback(missing.clone());
            live.fallback(DeviceFallback {
                reason: FallbackReason::Removed,
                ..missing.clone()
            });
            live.sas = Some("123 456".into());
        })
        .expect("visit");
        let kept = room.with(visit, |l| l.fallbacks.clone()).expect("visit");
        assert_eq!(kept.len(), 1, "one per kind, the latest");
        assert_eq!(kept[0].reason, FallbackReason::Removed);
        assert_eq!(
            serde_json::to_value(VisitUpdate::DeviceFallback {
                device: kept[0].clone()
            })
            .expect("json"),
            serde_json::json!({"kind": "device_fallback", "device":
                {"kind": "microphone", "name": "USB Headset", "reason": "removed"}})
        );
        // Admitted again (sent back before): a new call, no old code or notice.
        room.admitted(4, visit);
        assert_eq!(
            room.with(visit, |l| (
                l.sas.clone(),
                l.fallbacks.len(),
                l.state.clone()
            ))
            .expect("visit"),
            (None, 0, "waiting".to_owned())
        );
        // Choosing a device ends that kind's notice.
        room.with(visit, |live| live.fallback(missing.clone()))
            .expect("visit");
        room.set_device(DeviceSlot::Microphone, None);
        assert!(room.with(visit, |l| l.fallbacks.is_empty()).expect("visit"));
        assert_eq!(room.selection(), DeviceSelection::default());
        // Lock forgets the choice (the next profile loads its own).
        room.load_devices(SavedDevices {
            camera: Some(SavedDevice {
                id: "cam".into(),
                name: "Cam".into(),
            }),
            ..SavedDevices::default()
        });
        room.clear();
        assert_eq!(room.saved(), SavedDevices::default());
    }

    #[test]
    fn updates_carry_the_sas_and_state_but_no_name() {
        let room = VisitRoom::default();
        let visit = "00112233445566778899aabbccddeeff";
        assert_eq!(
            room.sas_shown(visit).expect_err("no visit").code(),
            "not_found"
        );
        room.admitted(4, visit);
        assert_eq!(
            room.sas_shown(visit).expect_err("no SAS").code(),
            "invalid_input"
        );
        let answered = HostEvent::CallAnswered {
            device: "d1".into(),
            sas: "123 456".into(),
            local_fingerprint: "x".into(),
            remote_fingerprint: "y".into(),
            restart: false,
        };
        assert_eq!(
            room.host_event(4, visit, &answered),
            Some("visit.call_start")
        );
        assert_eq!(room.sas_shown(visit).expect("shown"), 4);
        let json = serde_json::to_value(VisitUpdate::Answered {
            sas: "123 456".into(),
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"kind": "answered", "sas": "123 456"})
        );
        let left = HostEvent::DeviceState {
            device: "d1".into(),
            state: "left".into(),
        };
        assert_eq!(room.host_event(4, visit, &left), None);
        assert_eq!(room.controls(visit, true, false).expect("kept"), 4);
        assert_eq!(
            room.chat_device(visit).expect_err("no peer").code(),
            "not_connected"
        );
        room.clear();
        assert!(room.controls(visit, true, false).is_err());
    }
}
