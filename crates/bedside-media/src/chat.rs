//! Chat between clinician and patient on the visit's own peer connection.
//!
//! Chat text is PHI, so it never touches the relay: it travels on a WebRTC data
//! channel of the call's peer connection (SCTP over the same DTLS association as
//! the media, whose fingerprints the SDP tags and the SAS authenticate). The
//! channel is *negotiated* out of band — label [`CHAT_LABEL`], stream id
//! [`CHAT_STREAM_ID`], ordered and reliable — so the patient's offer needs no
//! extra signalling: both sides create it with the same id.
//!
//! Each message is one UTF-8 text frame of JSON
//! `{"v":1,"kind":"text","id":"…","text":"…","sentAt":<unix ms>}`. Parsing is
//! strict: the size is checked before any parsing ([`MAX_MESSAGE_BYTES`]),
//! unknown fields, kinds and versions are refused, text is 1–[`MAX_TEXT_CHARS`]
//! Unicode scalar values without control characters other than tab and line
//! breaks, and nothing panics on any input. A token bucket limits what a
//! device may send; what is refused is reported as a [`ChatRefusal`] (a closed
//! list, no content).
//!
//! **Invariant:** chat text is never logged, not even its length: only the
//! counters in [`ChatCounts`] exist. It is not stored either; the caller keeps
//! it in memory for the visit (the clinician may copy it into the encrypted note).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};

use crate::peer::PeerEvent;

/// The data channel's label (both sides).
pub const CHAT_LABEL: &str = "chat";
/// The negotiated SCTP stream id (both sides).
pub const CHAT_STREAM_ID: u16 = 0;
/// The wire format's version.
pub const CHAT_VERSION: u64 = 1;
/// The longest text, in Unicode scalar values (what a person counts as characters).
pub const MAX_TEXT_CHARS: usize = 2_000;
/// The largest frame read at all (checked before parsing): 2,000 characters of
/// four UTF-8 bytes each (8,000), or all escaped in two (`\"`, `\n`), plus the
/// envelope, fit with room to spare.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// The longest message id.
pub const MAX_ID_CHARS: usize = 64;
/// The largest `sentAt` (JavaScript's safe integers).
const MAX_SENT_AT: u64 = (1 << 53) - 1;

/// A chat message, sent or received. `Debug` redacts the text (PHI).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// The sender's id for the message (1–64 of `A–Z a–z 0–9 _ -`).
    pub id: String,
    /// The text (PHI).
    pub text: String,
    /// When the sender sent it, by the sender's clock (Unix milliseconds).
    pub sent_at: u64,
}

impl std::fmt::Debug for ChatMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatMessage")
            .field("id", &self.id)
            .field("text", &"[redacted]")
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

/// Why a chat message was refused (received or to be sent). No content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChatRefusal {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("the message is too large")]
    TooLarge,
    /// A binary frame; chat is text.
    #[error("the message is not text")]
    Binary,
    /// Not the JSON this version reads (bad JSON, missing or unknown fields, bad id or time).
    #[error("the message could not be read")]
    Malformed,
    /// Another version of the format.
    #[error("the message is from another version of Bedside")]
    UnsupportedVersion,
    /// A `kind` this version does not know.
    #[error("the message is of a kind this version does not show")]
    UnknownKind,
    /// No text (only spaces).
    #[error("the message is empty")]
    Empty,
    /// More than [`MAX_TEXT_CHARS`] characters.
    #[error("the message is longer than 2,000 characters")]
    TooLong,
    /// Control characters other than tab and line breaks.
    #[error("the message contains characters that cannot be shown")]
    BadCharacters,
    /// Over the rate limit.
    #[error("too many messages at once; wait a moment")]
    RateLimited,
    /// The chat channel is not open (yet, or any more).
    #[error("chat is not connected")]
    NotOpen,
}

/// Checks a text to be sent or shown: not blank, at most [`MAX_TEXT_CHARS`],
/// no control characters but tab, CR and LF.
pub fn check_text(text: &str) -> Result<(), ChatRefusal> {
    if text.trim().is_empty() {
        return Err(ChatRefusal::Empty);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ChatRefusal::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ChatRefusal::BadCharacters);
    }
    Ok(())
}

fn check_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The text message exactly as on the wire.
#[derive(serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireText<'a> {
    v: u64,
    kind: &'a str,
    id: String,
    text: String,
    #[serde(rename = "sentAt")]
    sent_at: u64,
}

/// Parses one received frame: size first, then JSON, version, kind, the exact
/// fields, id, time and text. Never panics.
pub fn parse(frame: &[u8]) -> Result<ChatMessage, ChatRefusal> {
    if frame.len() > MAX_MESSAGE_BYTES {
        return Err(ChatRefusal::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_slice(frame).map_err(|_| ChatRefusal::Malformed)?;
    let obj = value.as_object().ok_or(ChatRefusal::Malformed)?;
    match obj.get("v").and_then(serde_json::Value::as_u64) {
        Some(CHAT_VERSION) => {}
        Some(_) => return Err(ChatRefusal::UnsupportedVersion),
        None => return Err(ChatRefusal::Malformed),
    }
    match obj.get("kind").and_then(serde_json::Value::as_str) {
        Some("text") => {}
        Some(_) => return Err(ChatRefusal::UnknownKind),
        None => return Err(ChatRefusal::Malformed),
    }
    let wire: WireText<'_> = serde_json::from_slice(frame).map_err(|_| ChatRefusal::Malformed)?;
    if !check_id(&wire.id) || wire.sent_at > MAX_SENT_AT {
        return Err(ChatRefusal::Malformed);
    }
    check_text(&wire.text)?;
    Ok(ChatMessage {
        id: wire.id,
        text: wire.text,
        sent_at: wire.sent_at,
    })
}

/// The wire JSON of a message (its text already checked).
pub fn encode(message: &ChatMessage) -> String {
    let wire = WireText {
        v: CHAT_VERSION,
        kind: "text",
        id: message.id.clone(),
        text: message.text.clone(),
        sent_at: message.sent_at,
    };
    // Serialising a struct of strings and integers cannot fail.
    serde_json::to_string(&wire).unwrap_or_default()
}

/// A token bucket: `burst` messages at once, then one every `every`. Time is an
/// argument, so tests run it without a clock.
#[derive(Debug)]
pub struct RateLimit {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    /// `burst` at once, refilled at `per_second`.
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self {
            burst: f64::from(burst),
            per_second,
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Takes one message's token at `now`; false when over the limit.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_second).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What a device may send us: 10 at once, then 2 a second (the page allows itself
/// 5 at once and 1 a second, so an honest page is never refused here).
pub fn inbound_limit() -> RateLimit {
    RateLimit::new(10, 2.0)
}

/// What the clinician may send: the same as what we accept.
pub fn outbound_limit() -> RateLimit {
    RateLimit::new(10, 2.0)
}

/// Chat counters (the only trace chat leaves: no text, no lengths).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChatCounts {
    /// Messages received and accepted.
    pub received: u64,
    /// Messages sent.
    pub sent: u64,
    /// Received messages refused.
    pub refused: u64,
}

/// The chat channel of one peer connection.
pub struct ChatChannel {
    dc: Arc<dyn DataChannel>,
    open: AtomicBool,
    outbound: std::sync::Mutex<RateLimit>,
    received: AtomicU64,
    sent: AtomicU64,
    refused: AtomicU64,
}

impl ChatChannel {
    pub(crate) fn new(dc: Arc<dyn DataChannel>) -> Self {
        Self {
            dc,
            open: AtomicBool::new(false),
            outbound: std::sync::Mutex::new(outbound_limit()),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether the channel is open (SCTP up; the patient's page made its side).
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// The counters.
    pub fn counts(&self) -> ChatCounts {
        ChatCounts {
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Checks and sends `text`; returns the message as sent (for the sender's own list).
    pub async fn send(&self, text: &str) -> Result<ChatMessage, ChatRefusal> {
        check_text(text)?;
        if !self.is_open() {
            return Err(ChatRefusal::NotOpen);
        }
        let allowed = self
            .outbound
            .lock()
            .map(|mut l| l.take(Instant::now()))
            .unwrap_or(false);
        if !allowed {
            return Err(ChatRefusal::RateLimited);
        }
        let message = ChatMessage {
            id: new_id(),
            text: text.to_owned(),
            sent_at: unix_ms(),
        };
        self.dc
            .send_text(&encode(&message))
            .await
            .map_err(|_| ChatRefusal::NotOpen)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(message)
    }

    /// Closes the channel.
    pub(crate) async fn close(&self) {
        self.open.store(false, Ordering::Release);
        let _ = self.dc.close().await;
    }
}

fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    // SystemRandom only fails without any OS entropy source; an id need only be unique
    // enough to tell messages apart, so a zero id is harmless then.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    data_encoding::HEXLOWER.encode(&b)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
        .try_into()
        .unwrap_or(MAX_SENT_AT)
        .min(MAX_SENT_AT)
}

/// Reads the channel until it closes or `stop` is set: accepted messages go out as
/// [`PeerEvent::Chat`] (waiting for room in the bounded event queue, so a flood backs
/// up into SCTP's window instead of memory), refusals as [`PeerEvent::ChatRefused`].
pub(crate) fn spawn_receiver(
    chat: Arc<ChatChannel>,
    device: String,
    events: mpsc::Sender<PeerEvent>,
    stopped: Box<dyn Fn() -> bool + Send>,
) {
    tokio::spawn(async move {
        let mut limit = inbound_limit();
        while let Some(event) = chat.dc.poll().await {
            if stopped() {
                break;
            }
            match event {
                DataChannelEvent::OnOpen => chat.open.store(true, Ordering::Release),
                DataChannelEvent::OnClosing | DataChannelEvent::OnClose => {
                    chat.open.store(false, Ordering::Release);
                }
                DataChannelEvent::OnMessage(m) => {
                    let result = if !limit.take(Instant::now()) {
                        Err(ChatRefusal::RateLimited)
                    } else if m.data.len() > MAX_MESSAGE_BYTES {
                        Err(ChatRefusal::TooLarge)
                    } else if !m.is_string {
                        Err(ChatRefusal::Binary)
                    } else {
                        parse(&m.data)
                    };
                    let event = match result {
                        Ok(message) => {
                            chat.received.fetch_add(1, Ordering::Relaxed);
                            PeerEvent::Chat {
                                device: device.clone(),
                                message,
                            }
                        }
                        Err(reason) => {
                            chat.refused.fetch_add(1, Ordering::Relaxed);
                            PeerEvent::ChatRefused {
                                device: device.clone(),
                                reason,
                            }
                        }
                    };
                    if events.send(event).await.is_err() {
                        break;
                    }
                }
                _ => {}
            }
        }
        chat.open.store(false, Ordering::Release);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> String {
        serde_json::json!({"v": 1, "kind": "text", "id": "m-1", "text": text, "sentAt": 1_800_000_000_000u64})
            .to_string()
    }

    #[test]
    fn a_text_message_round_trips() {
        let m = ChatMessage {
            id: "abc_DEF-9".into(),
            text: "Line one\nline two — ünïcode 🙂".into(),
            sent_at: 1_800_000_000_123,
        };
        let wire = encode(&m);
        assert!(wire.contains(r#""sentAt":1800000000123"#), "{wire}");
        assert!(wire.contains(r#""kind":"text""#));
        assert_eq!(parse(wire.as_bytes()), Ok(m));
        assert!(parse(frame("Hello").as_bytes()).is_ok());
    }

    #[test]
    fn the_size_is_checked_before_parsing() {
        // Not even JSON: a frame over the cap is refused for its size alone.
        let big = vec![b'x'; MAX_MESSAGE_BYTES + 1];
        assert_eq!(parse(&big), Err(ChatRefusal::TooLarge));
        assert_eq!(parse(&big[..100]), Err(ChatRefusal::Malformed));
        // The longest allowed text fits the cap, escaped (quotes, line breaks) or wide.
        let escaped = "\"\n".repeat(MAX_TEXT_CHARS / 2);
        assert!(frame(&escaped).len() <= MAX_MESSAGE_BYTES);
        let wide = "🙂".repeat(MAX_TEXT_CHARS);
        assert!(frame(&wide).len() <= MAX_MESSAGE_BYTES);
        assert!(parse(frame(&wide).as_bytes()).is_ok());
    }

    #[test]
    fn text_is_one_to_two_thousand_characters_without_controls() {
        let at_limit = "é".repeat(MAX_TEXT_CHARS);
        assert!(
            parse(frame(&at_limit).as_bytes()).is_ok(),
            "counted in characters, not bytes"
        );
        let over = "a".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(parse(frame(&over).as_bytes()), Err(ChatRefusal::TooLong));
        assert_eq!(parse(frame("   \n").as_bytes()), Err(ChatRefusal::Empty));
        assert_eq!(parse(frame("").as_bytes()), Err(ChatRefusal::Empty));
        assert_eq!(
            parse(frame("bell\u{7}").as_bytes()),
            Err(ChatRefusal::BadCharacters)
        );
        assert!(parse(frame("tab\tand\r\nbreaks").as_bytes()).is_ok());
        assert_eq!(check_text(&over), Err(ChatRefusal::TooLong));
    }

    #[test]
    fn unknown_fields_kinds_and_versions_are_refused() {
        let cases: &[(&str, ChatRefusal)] = &[
            (
                r#"{"v":1,"kind":"text","id":"a","text":"hi","sentAt":1,"extra":true}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"text","id":"a","text":"hi"}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"file","id":"a","url":"x","sentAt":1}"#,
                ChatRefusal::UnknownKind,
            ),
            (
                r#"{"v":2,"kind":"text","id":"a","text":"hi","sentAt":1}"#,
                ChatRefusal::UnsupportedVersion,
            ),
            (
                r#"{"kind":"text","id":"a","text":"hi","sentAt":1}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":"1","kind":"text","id":"a","text":"hi","sentAt":1}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"text","id":"","text":"hi","sentAt":1}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"text","id":"a b","text":"hi","sentAt":1}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"text","id":"a","text":"hi","sentAt":-1}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"text","id":"a","text":"hi","sentAt":9007199254740992}"#,
                ChatRefusal::Malformed,
            ),
            (
                r#"{"v":1,"kind":"text","id":"a","text":7,"sentAt":1}"#,
                ChatRefusal::Malformed,
            ),
            (r#"[1,"text"]"#, ChatRefusal::Malformed),
            ("null", ChatRefusal::Malformed),
            ("{", ChatRefusal::Malformed),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input.as_bytes()), Err(*want), "{input}");
        }
        let long_id = format!(
            r#"{{"v":1,"kind":"text","id":"{}","text":"hi","sentAt":1}}"#,
            "a".repeat(MAX_ID_CHARS + 1)
        );
        assert_eq!(parse(long_id.as_bytes()), Err(ChatRefusal::Malformed));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A seeded walk over mutations of a valid frame and random bytes.
        let valid = frame("Hello there").into_bytes();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let mut b = valid.clone();
            for _ in 0..(next() % 6) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            let cut = (next() as usize) % (b.len() + 1);
            let _ = parse(&b[..cut]);
            let random: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
            let _ = parse(&random);
        }
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refills() {
        let t0 = Instant::now();
        let mut l = RateLimit::new(3, 1.0);
        assert!((0..3).all(|_| l.take(t0)));
        assert!(!l.take(t0), "the burst is spent");
        assert!(!l.take(t0 + Duration::from_millis(500)));
        assert!(l.take(t0 + Duration::from_millis(1_600)), "refilled");
        assert!(!l.take(t0 + Duration::from_millis(1_700)));
        let mut l = inbound_limit();
        let passed = (0..100).filter(|_| l.take(t0)).count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn debug_output_hides_the_text() {
        let m = ChatMessage {
            id: "x".into(),
            text: "PHI-MARKER-chat".into(),
            sent_at: 1,
        };
        let shown = format!("{m:?}");
        assert!(!shown.contains("PHI-MARKER"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
