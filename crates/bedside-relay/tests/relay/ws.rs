//! WebSocket flows over real sockets: clinician challenge auth, knock →
//! admit, deny, a returning clinician, and refusal of oversized and
//! malformed frames.

use std::net::SocketAddr;
use std::time::Duration;

use bedside_protocol::{
    ClinicianToRelay, DeviceStateName, ErrorCode, MAX_MESSAGE, Message, PROTOCOL_VERSION,
    PatientToRelay, RelayToClinician, RelayToPatient, decode, encode,
};
use bedside_relay::{AppState, serve};
use data_encoding::BASE64URL_NOPAD;
use futures_util::{SinkExt as _, StreamExt as _};
use ring::signature::Ed25519KeyPair;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use bedside_visit::sealed::{TextKind, open_text, seal_text};

use crate::common::{Fixture, dev, device_key, hex, keypair};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn start(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, state, std::future::pending()));
    addr
}

pub async fn connect(addr: SocketAddr, path: &str) -> Socket {
    connect_async(format!("ws://{addr}{path}"))
        .await
        .expect("connect")
        .0
}

pub async fn send<T: Message>(s: &mut Socket, m: &T) {
    s.send(Ws::text(encode(m))).await.expect("send");
}

/// The next protocol message, or `None` once the relay closed.
pub async fn recv<T: Message>(s: &mut Socket) -> Option<T> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("reply within 5 s");
        match frame {
            None | Some(Err(_)) | Some(Ok(Ws::Close(_))) => return None,
            Some(Ok(Ws::Text(t))) => return Some(decode(t.as_bytes()).expect("valid message")),
            Some(Ok(_)) => continue,
        }
    }
}

pub async fn recv_until<T: Message + std::fmt::Debug>(
    s: &mut Socket,
    want: impl Fn(&T) -> bool,
) -> T {
    for _ in 0..20 {
        let m = recv::<T>(s).await.expect("connection open");
        if want(&m) {
            return m;
        }
    }
    panic!("no matching message");
}

async fn clinician(addr: SocketAddr, key: &Ed25519KeyPair) -> Socket {
    let mut s = connect(addr, "/ws/clinician").await;
    send(
        &mut s,
        &ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: BASE64URL_NOPAD.encode(&bedside_visit::invite::public_key(key)),
        },
    )
    .await;
    let Some(RelayToClinician::Challenge { nonce }) = recv(&mut s).await else {
        panic!("expected a challenge");
    };
    let nonce = BASE64URL_NOPAD.decode(nonce.as_bytes()).expect("b64");
    let sig = key.sign(&bedside_protocol::auth_message(&nonce));
    send(
        &mut s,
        &ClinicianToRelay::Auth {
            signature: BASE64URL_NOPAD.encode(sig.as_ref()),
        },
    )
    .await;
    s
}

pub async fn ready_clinician(addr: SocketAddr, key: &Ed25519KeyPair) -> Socket {
    let mut s = clinician(addr, key).await;
    match recv::<RelayToClinician>(&mut s).await {
        Some(RelayToClinician::Ready { clinic_name }) => {
            assert_eq!(clinic_name, "Riverside <Practice>");
        }
        other => panic!("expected ready, got {other:?}"),
    }
    s
}

/// Sends `hello` for the device key of `label` and answers the challenge
/// with `prove` (signature made by `signer`, normally the same key).
pub async fn hello_and_prove(
    addr: SocketAddr,
    token: &str,
    label: &str,
    signer: &bedside_visit::device::DeviceKey,
) -> Socket {
    let key = device_key(label);
    let mut s = connect(addr, "/ws/patient").await;
    send(
        &mut s,
        &PatientToRelay::Hello {
            v: PROTOCOL_VERSION,
            token: token.into(),
            device_id: key.id(),
            public_key: BASE64URL_NOPAD.encode(key.public_key()),
        },
    )
    .await;
    let Some(RelayToPatient::Challenge { nonce }) = recv(&mut s).await else {
        panic!("expected a device challenge");
    };
    let nonce: [u8; 32] = BASE64URL_NOPAD
        .decode(nonce.as_bytes())
        .expect("b64")
        .try_into()
        .expect("32 bytes");
    let visit = bedside_visit::invite::peek(token).expect("token").visit.0;
    let sig = signer.prove(&visit, &nonce).expect("sign");
    send(
        &mut s,
        &PatientToRelay::Prove {
            signature: BASE64URL_NOPAD.encode(&sig),
        },
    )
    .await;
    s
}

/// A patient device (by test label) that has proved its key and been welcomed.
pub async fn patient(addr: SocketAddr, token: &str, label: &str) -> Socket {
    let key = device_key(label);
    let mut s = hello_and_prove(addr, token, label, &key).await;
    match recv::<RelayToPatient>(&mut s).await {
        Some(RelayToPatient::Welcome { clinic_name, .. }) => {
            assert_eq!(clinic_name, "Riverside <Practice>");
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    s
}

pub const SEALED: &str = "c2VhbGVkLWtub2NrLWNpcGhlcnRleHQtLS0tLS0tLS0tLQ";

pub async fn knock(p: &mut Socket) {
    send(
        p,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;
    assert_eq!(recv(p).await, Some(RelayToPatient::Waiting));
}

#[tokio::test]
async fn clinician_challenge_auth() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    // The trusted key signing the challenge: ready.
    let mut good = ready_clinician(addr, &f.key).await;
    send(&mut good, &ClinicianToRelay::Ping).await;
    assert_eq!(recv(&mut good).await, Some(RelayToClinician::Pong));

    // An untrusted key: refused at hello.
    let stranger = keypair();
    let mut s = connect(addr, "/ws/clinician").await;
    send(
        &mut s,
        &ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: BASE64URL_NOPAD.encode(&bedside_visit::invite::public_key(&stranger)),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToClinician::Error {
            code: ErrorCode::Unauthorized,
            ..
        })
    ));
    assert_eq!(recv::<RelayToClinician>(&mut s).await, None, "closed");

    // The trusted public key with a signature by another key: refused.
    let mut s = connect(addr, "/ws/clinician").await;
    send(
        &mut s,
        &ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: f.public_key_b64(),
        },
    )
    .await;
    let Some(RelayToClinician::Challenge { nonce }) = recv(&mut s).await else {
        panic!("challenge");
    };
    let nonce = BASE64URL_NOPAD.decode(nonce.as_bytes()).expect("b64");
    let sig = stranger.sign(&bedside_protocol::auth_message(&nonce));
    send(
        &mut s,
        &ClinicianToRelay::Auth {
            signature: BASE64URL_NOPAD.encode(sig.as_ref()),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToClinician::Error {
            code: ErrorCode::Unauthorized,
            ..
        })
    ));
    assert_eq!(recv::<RelayToClinician>(&mut s).await, None, "closed");

    // Garbage as a signature: refused, no panic.
    let mut s = connect(addr, "/ws/clinician").await;
    send(
        &mut s,
        &ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: f.public_key_b64(),
        },
    )
    .await;
    let _challenge = recv::<RelayToClinician>(&mut s).await;
    send(
        &mut s,
        &ClinicianToRelay::Auth {
            signature: "!!".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToClinician::Error {
            code: ErrorCode::Unauthorized,
            ..
        })
    ));
}

#[tokio::test]
async fn knock_reaches_the_clinician_sealed_and_admit_reaches_the_patient() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [5u8; 16];
    let mut c1 = ready_clinician(addr, &f.key).await;
    let mut c2 = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &f.token(visit, 1), "phone-1").await;
    knock(&mut p).await;

    for c in [&mut c1, &mut c2] {
        let k = recv_until(c, |m| matches!(m, RelayToClinician::Knock { .. })).await;
        assert_eq!(
            k,
            RelayToClinician::Knock {
                visit: hex(&visit),
                device: dev("phone-1"),
                sealed: SEALED.into(),
                extra_device: false,
                waiting_since: crate::common::NOW,
            }
        );
    }
    // Signaling before admission is refused.
    send(
        &mut p,
        &PatientToRelay::Offer {
            sdp: "v=0".into(),
            tag: "t".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::BadState,
            ..
        })
    ));

    // Clear text is refused: messages cross the relay sealed.
    send(
        &mut c2,
        &ClinicianToRelay::Message {
            visit: hex(&visit),
            device: dev("phone-1"),
            sealed: "5 more minutes".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut c2).await,
        Some(RelayToClinician::Error {
            code: ErrorCode::Malformed,
            ..
        })
    ));
    // A sealed message reaches the patient untouched, and opens there.
    let secret = [0x42; 32];
    let sealed = seal_text(
        &secret,
        &visit,
        &dev("phone-1"),
        TextKind::Message,
        [1; 12],
        "5 more minutes",
    )
    .expect("seal");
    send(
        &mut c2,
        &ClinicianToRelay::Message {
            visit: hex(&visit),
            device: dev("phone-1"),
            sealed: BASE64URL_NOPAD.encode(&sealed),
        },
    )
    .await;
    let Some(RelayToPatient::Message { sealed: got }) = recv(&mut p).await else {
        panic!("expected the message");
    };
    let got = BASE64URL_NOPAD.decode(got.as_bytes()).expect("b64");
    assert_eq!(got, sealed);
    assert_eq!(
        open_text(&secret, &visit, &dev("phone-1"), TextKind::Message, &got)
            .expect("opens")
            .as_str(),
        "5 more minutes"
    );

    // The second admitter lets the patient in.
    send(
        &mut c2,
        &ClinicianToRelay::Admit {
            visit: hex(&visit),
            device: dev("phone-1"),
        },
    )
    .await;
    assert_eq!(
        recv(&mut p).await,
        Some(RelayToPatient::Admitted { turn: None })
    );
    let state = recv_until(&mut c1, |m| {
        matches!(
            m,
            RelayToClinician::DeviceState {
                state: DeviceStateName::Admitted,
                ..
            }
        )
    })
    .await;
    assert!(matches!(state, RelayToClinician::DeviceState { .. }));

    // Offer → clinician, answer → patient, untouched.
    send(
        &mut p,
        &PatientToRelay::Offer {
            sdp: "v=0 offer".into(),
            tag: "offer-tag".into(),
        },
    )
    .await;
    let offer = recv_until(&mut c1, |m| matches!(m, RelayToClinician::Offer { .. })).await;
    assert_eq!(
        offer,
        RelayToClinician::Offer {
            visit: hex(&visit),
            device: dev("phone-1"),
            sdp: "v=0 offer".into(),
            tag: "offer-tag".into(),
            turn: None,
        }
    );
    send(
        &mut c1,
        &ClinicianToRelay::Answer {
            visit: hex(&visit),
            device: dev("phone-1"),
            sdp: "v=0 answer".into(),
            tag: "answer-tag".into(),
        },
    )
    .await;
    assert_eq!(
        recv(&mut p).await,
        Some(RelayToPatient::Answer {
            sdp: "v=0 answer".into(),
            tag: "answer-tag".into()
        })
    );

    // Admitting twice is a clear error, not a crash.
    send(
        &mut c1,
        &ClinicianToRelay::Admit {
            visit: hex(&visit),
            device: dev("phone-1"),
        },
    )
    .await;
    let e = recv_until(&mut c1, |m| matches!(m, RelayToClinician::Error { .. })).await;
    assert!(matches!(
        e,
        RelayToClinician::Error {
            code: ErrorCode::BadState,
            ..
        }
    ));
}

#[tokio::test]
async fn deny_reason_reaches_the_patient() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [6u8; 16];
    let mut c = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &f.token(visit, 1), "laptop").await;
    knock(&mut p).await;
    recv_until(&mut c, |m| matches!(m, RelayToClinician::Knock { .. })).await;
    send(
        &mut c,
        &ClinicianToRelay::Deny {
            visit: hex(&visit),
            device: dev("laptop"),
            sealed: "c2VhbGVkLXJlYXNvbg".into(),
        },
    )
    .await;
    assert_eq!(
        recv(&mut p).await,
        Some(RelayToPatient::Denied {
            sealed: "c2VhbGVkLXJlYXNvbg".into()
        })
    );
    assert_eq!(
        recv::<RelayToPatient>(&mut p).await,
        None,
        "closed after deny"
    );
}

#[tokio::test]
async fn the_lobby_survives_the_clinician_and_a_new_one_can_admit() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [7u8; 16];
    let mut first = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &f.token(visit, 1), "tablet").await;
    knock(&mut p).await;
    recv_until(&mut first, |m| matches!(m, RelayToClinician::Knock { .. })).await;
    first.close(None).await.expect("close");
    drop(first);

    let mut second = ready_clinician(addr, &f.key).await;
    send(&mut second, &ClinicianToRelay::Watch { visit: hex(&visit) }).await;
    let k = recv_until(&mut second, |m| matches!(m, RelayToClinician::Knock { .. })).await;
    assert_eq!(
        k,
        RelayToClinician::Knock {
            visit: hex(&visit),
            device: dev("tablet"),
            sealed: SEALED.into(),
            extra_device: false,
            waiting_since: crate::common::NOW,
        }
    );
    send(
        &mut second,
        &ClinicianToRelay::Admit {
            visit: hex(&visit),
            device: dev("tablet"),
        },
    )
    .await;
    assert_eq!(
        recv(&mut p).await,
        Some(RelayToPatient::Admitted { turn: None })
    );

    // Another clinic's key cannot see or act on this visit.
    let other = keypair();
    let mut s = connect(addr, "/ws/clinician").await;
    send(
        &mut s,
        &ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: BASE64URL_NOPAD.encode(&bedside_visit::invite::public_key(&other)),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToClinician::Error { .. })
    ));
}

#[tokio::test]
async fn patients_with_bad_tokens_are_refused() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let mut s = connect(addr, "/ws/patient").await;
    send(
        &mut s,
        &PatientToRelay::Hello {
            v: PROTOCOL_VERSION,
            token: "forged".into(),
            device_id: dev("d"),
            public_key: BASE64URL_NOPAD.encode(device_key("d").public_key()),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::InvalidInvite,
            ..
        })
    ));
    assert_eq!(recv::<RelayToPatient>(&mut s).await, None);

    // Knocking before hello.
    let mut s = connect(addr, "/ws/patient").await;
    send(
        &mut s,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::HelloRequired,
            ..
        })
    ));
}

async fn expect_error_then_close(s: &mut Socket, code: ErrorCode) {
    match recv::<RelayToPatient>(s).await {
        Some(RelayToPatient::Error { code: c, .. }) => assert_eq!(c, code),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(recv::<RelayToPatient>(s).await, None, "closed");
}

#[tokio::test]
async fn oversized_malformed_and_unknown_frames_get_an_error_and_a_close() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let token = f.token([8; 16], 1);

    let mut p = patient(addr, &token, "a").await;
    let big = format!(
        r#"{{"type":"knock","sealed":"{}"}}"#,
        "A".repeat(MAX_MESSAGE)
    );
    p.send(Ws::text(big)).await.expect("send");
    expect_error_then_close(&mut p, ErrorCode::TooLarge).await;

    let mut p = patient(addr, &token, "b").await;
    p.send(Ws::text("{not json")).await.expect("send");
    expect_error_then_close(&mut p, ErrorCode::Malformed).await;

    let mut p = patient(addr, &token, "c").await;
    p.send(Ws::text(r#"{"type":"admit","visit":"x","device":"y"}"#))
        .await
        .expect("send");
    expect_error_then_close(&mut p, ErrorCode::UnknownType).await;

    let mut p = patient(addr, &token, "d").await;
    p.send(Ws::binary(vec![0xff; 100])).await.expect("send");
    expect_error_then_close(&mut p, ErrorCode::Malformed).await;

    // Far beyond the limit: refused by the WebSocket layer; still closed.
    let mut p = patient(addr, &token, "e").await;
    let _ = p.send(Ws::text("A".repeat(4 * MAX_MESSAGE))).await;
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), p.next()).await {
            Ok(None | Some(Err(_)) | Some(Ok(Ws::Close(_)))) => break true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => break false,
        }
    };
    assert!(closed);

    // The clinician side too.
    let mut c = ready_clinician(addr, &f.key).await;
    c.send(Ws::text(format!(
        r#"{{"type":"watch","visit":"{}"}}"#,
        "0".repeat(MAX_MESSAGE)
    )))
    .await
    .expect("send");
    assert!(matches!(
        recv(&mut c).await,
        Some(RelayToClinician::Error {
            code: ErrorCode::TooLarge,
            ..
        })
    ));
    assert_eq!(recv::<RelayToClinician>(&mut c).await, None);

    // The relay is still serving.
    let _ = patient(addr, &token, "f").await;
}

/// Everything the relay logs, at every level, while a test runs on this
/// thread (`#[tokio::test]` is single-threaded, so the relay's tasks too).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// TURN credentials go to the patient with `admitted` and to the clinicians
/// with each offer of an admitted device, never before admission: coturn
/// REST style (username `expiry:id`, password base64(HMAC-SHA1(secret,
/// username))), and the secret itself never leaves the relay, not even in
/// its logs.
#[tokio::test]
async fn turn_credentials_come_only_with_admission() {
    const SECRET: &str = "coturn-secret-MARKER";
    let logs = Captured::default();
    let sink = logs.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .finish(),
    );
    let f = Fixture::with_config(|c| {
        c.turn = Some(bedside_relay::TurnConfig {
            urls: vec!["turn:127.0.0.1:3478".into()],
            secret: SECRET.into(),
            ttl_secs: 600,
        });
    });
    let addr = start(f.state.clone()).await;
    let visit = [10u8; 16];
    let mut c = ready_clinician(addr, &f.key).await;
    send(&mut c, &ClinicianToRelay::Watch { visit: hex(&visit) }).await;
    let mut p = patient(addr, &f.token(visit, 1), "p").await;
    knock(&mut p).await;
    // Before admission: an offer is refused and not forwarded; what the
    // clinician sees until then carries no credentials.
    send(
        &mut p,
        &PatientToRelay::Offer {
            sdp: "v=0 early".into(),
            tag: "t".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::BadState,
            ..
        })
    ));
    let mut before = Vec::new();
    loop {
        let m = recv::<RelayToClinician>(&mut c).await.expect("open");
        let knocked = matches!(m, RelayToClinician::Knock { .. });
        before.push(encode(&m));
        if knocked {
            break;
        }
    }
    send(
        &mut c,
        &ClinicianToRelay::Admit {
            visit: hex(&visit),
            device: dev("p"),
        },
    )
    .await;
    let hmac = |username: &str| {
        let key =
            ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET.as_bytes());
        data_encoding::BASE64.encode(ring::hmac::sign(&key, username.as_bytes()).as_ref())
    };
    let expiry = crate::common::NOW + 600;
    match recv(&mut p).await {
        Some(RelayToPatient::Admitted { turn: Some(t) }) => {
            assert_eq!(t.urls, vec!["turn:127.0.0.1:3478".to_string()]);
            assert_eq!(t.username, format!("{expiry}:bedside"));
            assert_eq!(t.credential, hmac(&t.username));
        }
        other => panic!("expected admitted with TURN, got {other:?}"),
    }
    let admitted = recv_until(&mut c, |m| {
        matches!(
            m,
            RelayToClinician::DeviceState {
                state: DeviceStateName::Admitted,
                ..
            }
        )
    })
    .await;
    before.push(encode(&admitted));
    for m in &before {
        assert!(
            !m.contains("credential") && !m.contains("turn:"),
            "credentials before the offer of an admitted device: {m}"
        );
    }

    // After admission the offer brings the clinician its own fresh credentials.
    f.clock.set(crate::common::NOW + 5);
    send(
        &mut p,
        &PatientToRelay::Offer {
            sdp: "v=0 offer".into(),
            tag: "t".into(),
        },
    )
    .await;
    match recv_until(&mut c, |m| matches!(m, RelayToClinician::Offer { .. })).await {
        RelayToClinician::Offer { turn: Some(t), .. } => {
            assert_eq!(t.urls, vec!["turn:127.0.0.1:3478".to_string()]);
            assert_eq!(t.username, format!("{}:bedside", expiry + 5));
            let (when, id) = t.username.split_once(':').expect("expiry:id");
            assert!(when.parse::<u64>().is_ok() && !id.is_empty());
            assert_eq!(t.credential, hmac(&t.username));
        }
        other => panic!("expected an offer with TURN credentials, got {other:?}"),
    }
    let logs = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(logs.contains("knock"), "the relay logged: {logs}");
    assert!(
        !logs.contains(SECRET),
        "the TURN secret in the logs: {logs}"
    );
    assert!(
        !logs.contains(&hmac(&format!("{expiry}:bedside"))),
        "a TURN password in the logs"
    );
}

/// Device-key binding: the relay refuses a wrong signature, an id that is
/// not the key's hash, and a replayed signature from an earlier connection;
/// a reconnect that proves the same key is the same device.
#[tokio::test]
async fn devices_must_prove_their_key() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [0x5a; 16];
    let token = f.token(visit, 1);
    let refused = |m: Option<RelayToPatient>| {
        matches!(
            m,
            Some(RelayToPatient::Error {
                code: ErrorCode::Unauthorized,
                ..
            })
        )
    };

    // Signed by another key.
    let stranger = bedside_visit::device::DeviceKey::generate().expect("key");
    let mut s = hello_and_prove(addr, &token, "owner", &stranger).await;
    assert!(refused(recv(&mut s).await), "a wrong signature is refused");
    assert_eq!(recv::<RelayToPatient>(&mut s).await, None, "and closed");

    // Another key claiming the owner's id (its own valid signature).
    let mut s = connect(addr, "/ws/patient").await;
    send(
        &mut s,
        &PatientToRelay::Hello {
            v: PROTOCOL_VERSION,
            token: token.clone(),
            device_id: dev("owner"),
            public_key: BASE64URL_NOPAD.encode(stranger.public_key()),
        },
    )
    .await;
    let Some(RelayToPatient::Challenge { nonce }) = recv(&mut s).await else {
        panic!("challenge");
    };
    let nonce: [u8; 32] = BASE64URL_NOPAD
        .decode(nonce.as_bytes())
        .expect("b64")
        .try_into()
        .expect("32");
    let sig = stranger.prove(&visit, &nonce).expect("sign");
    send(
        &mut s,
        &PatientToRelay::Prove {
            signature: BASE64URL_NOPAD.encode(&sig),
        },
    )
    .await;
    assert!(refused(recv(&mut s).await), "a mismatched id is refused");

    // The owner: challenge, proof, welcome. Keep its signature to replay.
    let owner = device_key("owner");
    let mut s = connect(addr, "/ws/patient").await;
    let hello = PatientToRelay::Hello {
        v: PROTOCOL_VERSION,
        token: token.clone(),
        device_id: owner.id(),
        public_key: BASE64URL_NOPAD.encode(owner.public_key()),
    };
    send(&mut s, &hello).await;
    let Some(RelayToPatient::Challenge { nonce }) = recv(&mut s).await else {
        panic!("challenge");
    };
    let first_nonce = nonce.clone();
    let nonce: [u8; 32] = BASE64URL_NOPAD
        .decode(nonce.as_bytes())
        .expect("b64")
        .try_into()
        .expect("32");
    let old = PatientToRelay::Prove {
        signature: BASE64URL_NOPAD.encode(&owner.prove(&visit, &nonce).expect("sign")),
    };
    send(&mut s, &old).await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToPatient::Welcome { .. })
    ));
    drop(s);

    // Replaying that proof on a new connection: a new nonce, so refused.
    let mut s = connect(addr, "/ws/patient").await;
    send(&mut s, &hello).await;
    let Some(RelayToPatient::Challenge { nonce }) = recv(&mut s).await else {
        panic!("challenge");
    };
    assert_ne!(nonce, first_nonce, "every connection gets a fresh nonce");
    send(&mut s, &old).await;
    assert!(refused(recv(&mut s).await), "a replayed proof is refused");

    // Skipping the proof: refused.
    let mut s = connect(addr, "/ws/patient").await;
    send(&mut s, &hello).await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToPatient::Challenge { .. })
    ));
    send(
        &mut s,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;
    assert!(refused(recv(&mut s).await), "no knock before the proof");

    // A malformed key: refused at hello.
    let mut s = connect(addr, "/ws/patient").await;
    send(
        &mut s,
        &PatientToRelay::Hello {
            v: PROTOCOL_VERSION,
            token: token.clone(),
            device_id: owner.id(),
            public_key: "BA".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut s).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::Malformed,
            ..
        })
    ));

    // The reconnect proving the same key is the same device to the clinician.
    let mut c = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &token, "owner").await;
    knock(&mut p).await;
    match recv_until(&mut c, |m| matches!(m, RelayToClinician::Knock { .. })).await {
        RelayToClinician::Knock { device, .. } => assert_eq!(device, owner.id()),
        other => panic!("{other:?}"),
    }
}

/// A patient page that refuses the clinician's answer says why (a closed
/// list) and the relay tells the clinicians of that visit; before admission
/// there is no call to refuse.
#[tokio::test]
async fn a_refused_call_reaches_the_clinicians() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [11u8; 16];
    let mut c = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &f.token(visit, 1), "p").await;
    knock(&mut p).await;
    recv_until(&mut c, |m| matches!(m, RelayToClinician::Knock { .. })).await;
    let refused = PatientToRelay::CallRefused {
        reason: bedside_protocol::CallRefusal::AnswerTagMismatch,
    };
    send(&mut p, &refused).await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::BadState,
            ..
        })
    ));
    send(
        &mut c,
        &ClinicianToRelay::Admit {
            visit: hex(&visit),
            device: dev("p"),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Admitted { .. })
    ));
    send(&mut p, &refused).await;
    let got = recv_until(&mut c, |m| {
        matches!(
            m,
            RelayToClinician::CallRefused { .. } | RelayToClinician::Error { .. }
        )
    })
    .await;
    assert_eq!(
        got,
        RelayToClinician::CallRefused {
            visit: hex(&visit),
            device: dev("p"),
            reason: bedside_protocol::CallRefusal::AnswerTagMismatch,
        }
    );
    // A reason outside the list is not the protocol: error and close.
    p.send(Ws::text(
        r#"{"type":"call_refused","reason":"the name is Zoe"}"#,
    ))
    .await
    .expect("send");
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::Malformed,
            ..
        })
    ));
    assert_eq!(recv::<RelayToPatient>(&mut p).await, None);
}
