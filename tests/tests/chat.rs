//! Chat through a real call: the real relay, the headless clinician
//! (`bedside_host::run_with_control_and_media`, what the desktop app runs) and a
//! headless Chromium patient on the real join page (`tests/browser/chat.mjs`).
//! Messages go both ways on the call's negotiated data channel — never through the
//! relay — and bad frames pushed onto the channel are refused without breaking the call.

use bedside_host::{HostCommand, HostConfig, HostEvent, MediaOptions};
use bedside_media::{ChatRefusal, PeerConfig};
use bedside_visit::invite;
use tokio::sync::{mpsc, oneshot};

use crate::browser::{Scene, scene};
use crate::patient::{drive_script, event, step, steps, token};

const FIRST: &str = "Hello from the patient: my chest hurts";
const SECOND: &str = "Still here after the bad frames";
const REPLY: &str = "Hello from the clinician";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_messages_cross_the_call_both_ways_and_bad_frames_are_refused() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let (tx, mut host) = mpsc::unbounded_channel();
    let (control, control_rx) = mpsc::unbounded_channel();
    let (tap, mut peers) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let cfg = HostConfig {
        relay_origin: relay.origin.clone(),
        key: relay.key.clone(),
        visit,
        secret: zeroize::Zeroizing::new(secret),
        auto_admit: false,
    };
    let media = MediaOptions {
        peer: PeerConfig {
            udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
            ..PeerConfig::default()
        },
        turn_urls: Vec::new(),
    };
    let events = tx.clone();
    tokio::spawn(async move {
        let r = bedside_host::run_with_control_and_media(
            cfg,
            media,
            tap,
            move |e| drop(events.send(e)),
            control_rx,
            async {
                let _ = stop_rx.await;
            },
        )
        .await;
        if let Err(e) = r {
            let _ = tx.send(HostEvent::RelayError {
                code: "host".into(),
                message: e.to_string(),
            });
        }
    });
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    // The clinician: admit the knock, answer the first chat message, keep every event.
    let clinician = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut peer = None;
        while let Some(e) = host.recv().await {
            match &e {
                HostEvent::Knock { device, .. } => {
                    let _ = control.send(HostCommand::Admit {
                        device: device.clone(),
                    });
                }
                HostEvent::Chat { device, message } if message.text == FIRST => {
                    let _ = control.send(HostCommand::Chat {
                        device: device.clone(),
                        text: REPLY.into(),
                    });
                    // Too long: refused here, nothing sent.
                    let _ = control.send(HostCommand::Chat {
                        device: device.clone(),
                        text: "b".repeat(2_001),
                    });
                }
                _ => {}
            }
            if peer.is_none() {
                peer = peers.try_recv().ok();
            }
            seen.push(e);
        }
        (seen, peer)
    });

    let run = drive_script("chat.mjs", link, Vec::new(), 90).await;
    let _ = stop_tx.send(());
    let (events, peer) = clinician.await.expect("clinician task");
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);

    // The page made the negotiated, ordered channel and refused its own too-long text.
    let open = step(&seen, "chat_open").expect("chat_open");
    assert_eq!(
        open["channel"],
        serde_json::json!({"label": "chat", "negotiated": true, "id": 0, "ordered": true})
    );
    let too_long = step(&seen, "too_long").expect("too_long");
    assert!(
        too_long["error"]
            .as_str()
            .is_some_and(|e| e.contains("too long") && e.contains("2,000")),
        "{too_long}"
    );
    assert_eq!(too_long["sentBefore"], too_long["sentAfter"], "{too_long}");

    // The patient's two messages reached the clinician, in order, and nothing else did.
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            HostEvent::Chat { message, .. } => Some(message.text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, [FIRST, SECOND]);

    // The three bad frames were refused, each for its own reason.
    let refused: Vec<ChatRefusal> = events
        .iter()
        .filter_map(|e| match e {
            HostEvent::ChatRefused {
                outgoing: false,
                reason,
                ..
            } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            ChatRefusal::TooLarge,
            ChatRefusal::UnknownKind,
            ChatRefusal::Binary
        ]
    );

    // The clinician's reply went out and reached the page; the too-long one did not.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HostEvent::ChatSent { message, .. } if message.text == REPLY)),
        "no ChatSent"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        HostEvent::ChatRefused {
            outgoing: true,
            reason: ChatRefusal::TooLong,
            ..
        }
    )));
    let reply = step(&seen, "reply").expect("reply");
    assert_eq!(reply["chatReceived"], 1, "{reply}");
    assert!(
        reply["announced"]
            .as_str()
            .is_some_and(|a| a.contains(REPLY)),
        "{reply}"
    );

    // The call went on: connected, video still decoding, no failure reported.
    let after = step(&seen, "after").expect("after");
    assert_eq!(after["state"], "connected", "{after}");
    assert_eq!(after["pc"], "connected", "{after}");
    assert!(after["framesGained"].as_u64().unwrap_or(0) > 20, "{after}");
    assert_eq!(after["chatSent"], 2, "{after}");
    // (Up to the last message: the browser closing afterwards ends the call.)
    let last = events
        .iter()
        .position(|e| matches!(e, HostEvent::Chat { message, .. } if message.text == SECOND))
        .expect("the second message");
    assert!(
        !events[..last].iter().any(|e| matches!(
            e,
            HostEvent::CallState { state, .. } if state == "failed" || state == "closed"
        ) || matches!(e, HostEvent::CallRefused { .. })),
        "the call broke"
    );
    if let Some((_, peer)) = peer {
        let counts = peer.chat_counts();
        assert_eq!((counts.received, counts.refused), (2, 3), "{counts:?}");
    }
}
