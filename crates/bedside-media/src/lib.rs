//! The clinician's side of a visit's media, over webrtc-rs 0.21: a peer
//! connection that answers the patient browser's authenticated offer, sends
//! a source (synthetic test pattern and tone, or the clinician's devices), receives and decodes the
//! patient's VP8 (or H.264, feature `h264` and policy `AllowH264`) and Opus, and reports stats once a second.
//!
//! - [`peer`]: [`Call`] (the visit's peers by device id) and [`Peer`] (one
//!   WebRTC peer connection; trickle ICE both ways; a new offer on an
//!   existing peer is an ICE restart). The offer tag is verified before
//!   anything else; the answer carries its tag; both DTLS fingerprints and
//!   the SAS are exposed.
//! - [`media`]: encoder/decoder threads and newest-frame-wins sinks.
//! - [`devices`]: the `devices` source (microphone, camera, speaker through
//!   `bedside-capture`), switching mid-call, and the Settings previews.
//! - `cadence`: the microphone stream's 20 ms pacing (sans-IO; silence
//!   fills a stalled microphone's slots, never a burst).
//! - [`jitter`]: the audio jitter buffer (reorder, conceal, adaptive depth).
//! - [`feedback`]: the interceptor that delivers the browser's PLI/FIR,
//!   reception reports and REMB to the sender.
//! - [`stats`]: counters and the once-a-second [`CallStats`].
//! - [`chat`]: chat on the call's negotiated data channel (strict parser, limits).
//!
//! **Boundary:** signalling (the relay WebSocket) is the caller's: it hands
//! offers and candidates in and forwards [`PeerEvent`]s out. No SDP, frame
//! content or secret is logged.

mod cadence;
pub mod chat;
pub mod devices;
pub mod feedback;
pub mod jitter;
pub mod media;
pub mod peer;
pub mod stats;

pub use chat::{ChatCounts, ChatMessage, ChatRefusal};
pub use devices::{CameraPreview, DeviceNotice, DeviceReport, DeviceSelection, MicLevel};
pub use media::{Frame, FrameSlot};
pub use peer::{
    Answer, Call, CallAuth, CallError, Controls, IcePolicy, MediaSource, Peer, PeerConfig,
    PeerEvent, VideoCodec, VideoSettings,
};
pub use stats::{CallStats, StatsTotals};
