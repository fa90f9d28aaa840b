//! The headless host against a real relay on 127.0.0.1 and a scripted patient.

use std::sync::Arc;
use std::time::Duration;

use bedside_host::{HostConfig, HostEvent};
use bedside_protocol::{PatientToRelay, RelayToPatient};
use bedside_testkit::{Relay, RelayOptions, claims, event, spawn_host};
use bedside_visit::auth;
use bedside_visit::device::DeviceKey;
use bedside_visit::invite::{self, Claims};
use data_encoding::BASE64URL_NOPAD as B64;
use futures_util::{SinkExt, StreamExt};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use tokio_tungstenite::tungstenite::Message;

async fn relay() -> Relay {
    Relay::start(RelayOptions::default()).await
}

/// Invites here carry token id 7, the id the revocation test withdraws.
fn token(key: &Ed25519KeyPair, visit: [u8; 16]) -> String {
    invite::sign(
        key,
        &Claims {
            token_id: 7,
            ..claims(key, visit)
        },
    )
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects, says hello with `device`'s key and proves it; the relay's
/// next message (`welcome` or an error) is left for the caller.
async fn patient(origin: &str, token: String, device: &DeviceKey) -> Ws {
    let url = format!("{}/ws/patient", origin.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("patient connects");
    let visit = invite::peek(&token).expect("token").visit.0;
    send(
        &mut ws,
        PatientToRelay::Hello {
            v: bedside_protocol::PROTOCOL_VERSION,
            token,
            device_id: device.id(),
            public_key: B64.encode(device.public_key()),
        },
    )
    .await;
    match next(&mut ws).await {
        RelayToPatient::Challenge { nonce } => {
            let nonce: [u8; 32] = B64
                .decode(nonce.as_bytes())
                .expect("b64")
                .try_into()
                .expect("32 bytes");
            let sig = device.prove(&visit, &nonce).expect("sign");
            send(
                &mut ws,
                PatientToRelay::Prove {
                    signature: B64.encode(&sig),
                },
            )
            .await;
        }
        other => panic!("expected a device challenge, got {other:?}"),
    }
    ws
}

async fn send(ws: &mut Ws, m: PatientToRelay) {
    ws.send(Message::text(bedside_protocol::encode(&m)))
        .await
        .expect("send");
}

async fn next(ws: &mut Ws) -> RelayToPatient {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = frame {
            return bedside_protocol::decode(t.as_bytes()).expect("protocol");
        }
    }
}

async fn until(ws: &mut Ws, want: impl Fn(&RelayToPatient) -> bool) -> RelayToPatient {
    for _ in 0..10 {
        let m = next(ws).await;
        if want(&m) {
            return m;
        }
    }
    panic!("expected message never came");
}

#[tokio::test]
async fn host_opens_the_knock_and_auto_admits() {
    let relay = relay().await;
    let visit = [0x11; 16];
    let secret = [0x22; 32];
    let mut host = spawn_host(&relay, visit, secret, None);
    assert_eq!(
        event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await,
        HostEvent::Ready {
            clinic_name: "Riverside Practice".into()
        }
    );
    let device_a = DeviceKey::generate().expect("key");
    let mut p = patient(&relay.origin, token(&relay.key, visit), &device_a).await;
    assert!(matches!(next(&mut p).await, RelayToPatient::Welcome { .. }));
    let sealed = auth::seal_knock(
        &secret,
        &visit,
        [3; 12],
        "{\"name\":\"Zoë O'Brien\",\"dob\":\"1980-02-03\"}".as_bytes(),
    );
    send(
        &mut p,
        PatientToRelay::Knock {
            sealed: B64.encode(&sealed),
        },
    )
    .await;
    match event(&mut host, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock {
            device,
            name,
            dob,
            extra_device,
            ..
        } => {
            assert_eq!(
                (device.as_str(), name.as_str(), dob.as_deref(), extra_device),
                (
                    device_a.id().as_str(),
                    "Zoë O'Brien",
                    Some("1980-02-03"),
                    false
                )
            );
        }
        other => panic!("{other:?}"),
    }
    until(&mut p, |m| matches!(m, RelayToPatient::Admitted { .. })).await;
    let state = event(
        &mut host,
        |e| matches!(e, HostEvent::DeviceState { state, .. } if state == "admitted"),
    )
    .await;
    assert_eq!(
        state,
        HostEvent::DeviceState {
            device: device_a.id(),
            state: "admitted".into()
        }
    );
}

#[tokio::test]
async fn a_knock_sealed_with_another_secret_is_refused() {
    let relay = relay().await;
    let visit = [0x33; 16];
    let mut host = spawn_host(&relay, visit, [0x44; 32], None);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let device_x = DeviceKey::generate().expect("key");
    let mut p = patient(&relay.origin, token(&relay.key, visit), &device_x).await;
    assert!(matches!(next(&mut p).await, RelayToPatient::Welcome { .. }));
    let forged = auth::seal_knock(&[0x55; 32], &visit, [1; 12], b"{\"name\":\"Mallory\"}");
    send(
        &mut p,
        PatientToRelay::Knock {
            sealed: B64.encode(&forged),
        },
    )
    .await;
    assert_eq!(
        event(&mut host, |e| matches!(
            e,
            HostEvent::UnreadableKnock { .. }
        ))
        .await,
        HostEvent::UnreadableKnock {
            device: device_x.id()
        }
    );
    let RelayToPatient::Denied { sealed } =
        until(&mut p, |m| matches!(m, RelayToPatient::Denied { .. })).await
    else {
        panic!("denied");
    };
    // The reason crossed the relay sealed for this device under the host's
    // invite secret: the forger's secret cannot open it.
    let sealed = B64.decode(sealed.as_bytes()).expect("b64");
    let kind = bedside_visit::sealed::TextKind::Deny;
    let reason =
        bedside_visit::sealed::open_text(&[0x44; 32], &visit, &device_x.id(), kind, &sealed)
            .expect("opens with the invite secret");
    assert!(reason.contains("could not be verified"));
    assert!(
        bedside_visit::sealed::open_text(&[0x55; 32], &visit, &device_x.id(), kind, &sealed)
            .is_err()
    );
}

#[tokio::test]
async fn an_unenrolled_clinic_key_is_told_to_enrol() {
    let relay = relay().await;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
    let stranger = Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key"));
    let cfg = HostConfig {
        relay_origin: relay.origin.clone(),
        key: stranger,
        visit: [0; 16],
        secret: zeroize::Zeroizing::new([0; 32]),
        auto_admit: false,
    };
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        bedside_host::run(cfg, |_| {}, std::future::pending()),
    )
    .await
    .expect("in time");
    let e = r.expect_err("refused");
    assert!(
        matches!(
            e,
            bedside_host::HostError::Unauthorized(_) | bedside_host::HostError::Closed(_)
        ),
        "{e:?}"
    );
}

#[test]
fn relay_origins_map_to_websocket_urls() {
    assert_eq!(
        bedside_host::clinician_url("https://relay.example.org/").expect("ok"),
        "wss://relay.example.org/ws/clinician"
    );
    assert_eq!(
        bedside_host::clinician_url("http://127.0.0.1:9000").expect("ok"),
        "ws://127.0.0.1:9000/ws/clinician"
    );
    assert!(bedside_host::clinician_url("http://relay.example.org").is_err());
    assert!(bedside_host::clinician_url("ftp://x").is_err());
}

#[tokio::test]
async fn revocation_reaches_the_relay_and_the_link_stops_working() {
    let relay = relay().await;
    let visit = [0x66; 16];
    let t = token(&relay.key, visit);
    let page = |t: String| {
        let origin = relay.origin.clone();
        async move {
            let url = format!("{}/ws/patient", origin.replace("http://", "ws://"));
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("connect");
            let d = DeviceKey::generate().expect("key");
            send(
                &mut ws,
                PatientToRelay::Hello {
                    v: bedside_protocol::PROTOCOL_VERSION,
                    token: t,
                    device_id: d.id(),
                    public_key: B64.encode(d.public_key()),
                },
            )
            .await;
            next(&mut ws).await
        }
    };
    // A live link: the relay goes on to the device challenge.
    assert!(matches!(
        page(t.clone()).await,
        RelayToPatient::Challenge { .. }
    ));
    bedside_host::revoke(&relay.origin, &relay.key, &visit, 7)
        .await
        .expect("revoked");
    assert!(
        matches!(page(t).await, RelayToPatient::Error { .. }),
        "a revoked link is refused"
    );
    // Another clinic's key cannot revoke.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
    let stranger = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
    let e = bedside_host::revoke(&relay.origin, &stranger, &[0x77; 16], 1)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            e,
            bedside_host::HostError::Unauthorized(_) | bedside_host::HostError::Closed(_)
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn enrol_reaches_a_relay_that_allows_it() {
    // The test relay has no admin token configured: enrolment is off there.
    let relay = relay().await;
    let e = bedside_host::enroll(&relay.origin, "anything", "Clinic", &B64.encode(&[1u8; 32]))
        .await
        .expect_err("off");
    assert!(matches!(e, bedside_host::HostError::BadRelay(_)), "{e:?}");
}

/// An admitted device's offer whose tag was made with another secret: the host reports
/// `call_auth_failed` and answers nothing; no peer connection is made for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_with_a_forged_tag_is_refused_and_not_answered() {
    let relay = relay().await;
    let visit = [0x66; 16];
    let secret = [0x77; 32];
    let mut host = spawn_host(
        &relay,
        visit,
        secret,
        Some(bedside_host::MediaOptions::default()),
    );
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let device_m = DeviceKey::generate().expect("key");
    let device_id = device_m.id();
    let mut p = patient(&relay.origin, token(&relay.key, visit), &device_m).await;
    assert!(matches!(next(&mut p).await, RelayToPatient::Welcome { .. }));
    let sealed = auth::seal_knock(&secret, &visit, [9; 12], b"{\"name\":\"Pat\"}");
    send(
        &mut p,
        PatientToRelay::Knock {
            sealed: B64.encode(&sealed),
        },
    )
    .await;
    until(&mut p, |m| matches!(m, RelayToPatient::Admitted { .. })).await;
    event(
        &mut host,
        |e| matches!(e, HostEvent::DeviceState { state, .. } if state == "admitted"),
    )
    .await;

    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\na=fingerprint:sha-256 AB:CD:EF\r\n";
    let id = auth::sdp_identity(sdp).expect("identity");
    let forged = auth::offer_tag(&auth::sdp_auth_key(&[0x78; 32]), &visit, &device_id, &id);
    send(
        &mut p,
        PatientToRelay::Offer {
            sdp: sdp.into(),
            tag: B64.encode(&forged),
        },
    )
    .await;
    match event(&mut host, |e| {
        matches!(
            e,
            HostEvent::CallAuthFailed { .. } | HostEvent::CallAnswered { .. }
        )
    })
    .await
    {
        HostEvent::CallAuthFailed { device, message } => {
            assert_eq!(device, device_id);
            assert!(message.contains("could not be authenticated"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing comes back to the patient.
    let more = tokio::time::timeout(Duration::from_millis(800), p.next()).await;
    assert!(more.is_err(), "the patient got {more:?}");
}

/// The patient's page refuses the answer and says so: the host reports it
/// with the page's reason and a plain message, under the audit action every
/// caller records (no browser needed here; the Chromium MITM test does the
/// same end to end).
#[tokio::test]
async fn a_patient_refusal_reaches_the_host_as_an_audited_event() {
    let relay = relay().await;
    let visit = [0x68; 16];
    let secret = [0x79; 32];
    let mut host = spawn_host(&relay, visit, secret, None);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let device = DeviceKey::generate().expect("key");
    let mut p = patient(&relay.origin, token(&relay.key, visit), &device).await;
    assert!(matches!(next(&mut p).await, RelayToPatient::Welcome { .. }));
    let sealed = auth::seal_knock(&secret, &visit, [5; 12], b"{\"name\":\"Pat\"}");
    send(
        &mut p,
        PatientToRelay::Knock {
            sealed: B64.encode(&sealed),
        },
    )
    .await;
    until(&mut p, |m| matches!(m, RelayToPatient::Admitted { .. })).await;
    send(
        &mut p,
        PatientToRelay::CallRefused {
            reason: bedside_protocol::CallRefusal::FingerprintChanged,
        },
    )
    .await;
    let e = event(&mut host, |e| {
        matches!(e, HostEvent::CallRefusedByPatient { .. })
    })
    .await;
    assert_eq!(e.audit_action(), Some("visit.call_refused_by_patient"));
    match e {
        HostEvent::CallRefusedByPatient {
            device: d,
            reason,
            message,
        } => {
            assert_eq!(d, device.id());
            assert_eq!(reason, "fingerprint_changed");
            assert!(message.contains("certificate changed"), "{message}");
            assert!(!message.contains(&d), "no ids in the message");
        }
        other => panic!("{other:?}"),
    }
}
