//! Limits and lifecycle: handshake and idle timeouts, the connection limit,
//! knock rate limiting, expiry driven by the injected clock, revocation of a
//! live patient, locking, and logs free of tokens, full visit ids and
//! addresses.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bedside_protocol::{
    ClinicianToRelay, DeviceStateName, ErrorCode, PatientToRelay, RelayToClinician, RelayToPatient,
};
use data_encoding::BASE64URL_NOPAD;
use tower::ServiceExt as _;

use crate::common::{Fixture, NOT_BEFORE, dev, hex};
use crate::ws::{SEALED, connect, knock, patient, ready_clinician, recv, recv_until, send, start};

#[tokio::test]
async fn handshake_and_idle_timeouts_close_the_connection() {
    let f = Fixture::with_limits(|l| {
        l.handshake_timeout_secs = 1;
        l.idle_timeout_secs = 1;
    });
    let addr = start(f.state.clone()).await;
    let mut silent = connect(addr, "/ws/patient").await;
    assert!(matches!(
        recv(&mut silent).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::IdleTimeout,
            ..
        })
    ));
    assert_eq!(recv::<RelayToPatient>(&mut silent).await, None);

    let mut p = patient(addr, &f.token([1; 16], 1), "p").await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::IdleTimeout,
            ..
        })
    ));
    assert_eq!(recv::<RelayToPatient>(&mut p).await, None);
}

#[tokio::test]
async fn the_connection_limit_refuses_extra_sockets() {
    let f = Fixture::with_limits(|l| l.max_connections = 1);
    let addr = start(f.state.clone()).await;
    let first = patient(addr, &f.token([2; 16], 1), "p").await;
    let second = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/patient")).await;
    assert!(second.is_err(), "refused at the limit");
    drop(first);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio_tungstenite::connect_async(format!("ws://{addr}/ws/patient"))
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
    }
    assert!(ok, "the slot is freed when a connection ends");
}

#[tokio::test]
async fn knocks_are_rate_limited_and_a_locked_visit_turns_knocks_away() {
    let f = Fixture::with_limits(|l| l.knocks_per_minute = 2);
    let addr = start(f.state.clone()).await;
    let visit = [3u8; 16];
    let mut c = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &f.token(visit, 1), "p").await;
    knock(&mut p).await;
    knock(&mut p).await;
    send(
        &mut p,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::RateLimited,
            ..
        })
    ));
    send(&mut p, &PatientToRelay::Ping).await;
    assert_eq!(recv(&mut p).await, Some(RelayToPatient::Pong), "still open");

    send(&mut c, &ClinicianToRelay::Lock { visit: hex(&visit) }).await;
    send(&mut c, &ClinicianToRelay::Ping).await;
    recv_until(&mut c, |m| matches!(m, RelayToClinician::Pong)).await;
    let mut q = patient(addr, &f.token(visit, 1), "q").await;
    send(
        &mut q,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;
    assert_eq!(recv(&mut q).await, Some(RelayToPatient::Locked));
}

#[tokio::test]
async fn waiting_patients_expire_with_the_injected_clock() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [4u8; 16];
    let mut c = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &f.token(visit, 1), "p").await;
    knock(&mut p).await;
    f.clock.set(u64::from(NOT_BEFORE) + 3600);
    assert_eq!(recv(&mut p).await, Some(RelayToPatient::Expired));
    assert_eq!(recv::<RelayToPatient>(&mut p).await, None);
    recv_until(&mut c, |m| {
        matches!(
            m,
            RelayToClinician::DeviceState {
                state: DeviceStateName::Expired,
                ..
            }
        )
    })
    .await;
}

#[tokio::test]
async fn revoking_closes_a_waiting_patient() {
    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [5u8; 16];
    let mut p = patient(addr, &f.token(visit, 9), "p").await;
    knock(&mut p).await;
    let sig = f.key.sign(&bedside_protocol::revoke_message(&visit, 9));
    let body = serde_json::json!({
        "visit": hex(&visit),
        "token_id": 9,
        "signature": BASE64URL_NOPAD.encode(sig.as_ref()),
    });
    let res = bedside_relay::app(f.state.clone())
        .oneshot(
            axum::http::Request::post("/api/revoke")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(res.status(), axum::http::StatusCode::OK);
    match recv::<RelayToPatient>(&mut p).await {
        Some(RelayToPatient::Error {
            code: ErrorCode::InvalidInvite,
            message,
        }) => assert!(message.contains("withdrawn")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(recv::<RelayToPatient>(&mut p).await, None);
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every task runs on this test's one thread, so a thread-local subscriber
/// sees the relay's logs.
#[tokio::test(flavor = "current_thread")]
async fn logs_hold_no_tokens_full_visit_ids_knocks_or_addresses() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(bedside_relay::log_filter(tracing::Level::TRACE))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = Fixture::new();
    let addr = start(f.state.clone()).await;
    let visit = [0xab; 16];
    let token = f.token(visit, 1);
    let mut c = ready_clinician(addr, &f.key).await;
    let mut p = patient(addr, &token, "device-fingerprint").await;
    knock(&mut p).await;
    recv_until(&mut c, |m| matches!(m, RelayToClinician::Knock { .. })).await;
    send(
        &mut c,
        &ClinicianToRelay::Admit {
            visit: hex(&visit),
            device: dev("device-fingerprint"),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut p).await,
        Some(RelayToPatient::Admitted { .. })
    ));
    drop(p);
    drop(c);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let logs = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("abababab"),
        "the short visit id is logged: {logs}"
    );
    for secret in [
        token.as_str(),
        &hex(&visit),
        SEALED,
        "127.0.0.1",
        &dev("device-fingerprint"),
        &f.public_key_b64(),
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message as Ws;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let f = Fixture::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bedside_relay::serve(listener, f.state.clone(), async {
        let _ = stopped.await;
    }));
    let mut p = patient(addr, &f.token([6; 16], 1), "p").await;
    let _ = stop.send(());
    let frame = tokio::time::timeout(Duration::from_secs(5), p.next())
        .await
        .expect("closed in time");
    match frame {
        Some(Ok(Ws::Close(Some(c)))) => assert_eq!(c.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(p);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .expect("join")
        .expect("serve");
}

async fn try_connect(addr: std::net::SocketAddr) -> bool {
    tokio_tungstenite::connect_async(format!("ws://{addr}/ws/patient"))
        .await
        .is_ok()
}

#[tokio::test]
async fn per_address_limits_refuse_extra_and_fast_connections() {
    let f = Fixture::with_limits(|l| {
        l.per_ip_limits_on_loopback = true;
        l.max_connections_per_ip = 2;
        l.connections_per_ip_per_minute = 3;
    });
    let addr = start(f.state.clone()).await;
    let a = patient(addr, &f.token([7; 16], 1), "a").await;
    let b = patient(addr, &f.token([7; 16], 1), "b").await;
    assert!(
        !try_connect(addr).await,
        "a third open connection is refused"
    );
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two open slots again, but the minute's budget of three is spent.
    assert!(
        try_connect(addr).await,
        "the third of the minute is allowed"
    );
    assert!(
        !try_connect(addr).await,
        "a fourth in the same minute is refused"
    );
    let m = bedside_relay::app(f.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("metrics");
    let body = http_body_util::BodyExt::collect(m.into_body())
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("bedside_relay_rate_limited_total 2"),
        "{text}"
    );
}

#[tokio::test]
async fn loopback_peers_are_exempt_from_per_address_limits_by_default() {
    let f = Fixture::with_limits(|l| l.max_connections_per_ip = 1);
    let addr = start(f.state.clone()).await;
    let _a = patient(addr, &f.token([8; 16], 1), "a").await;
    let _b = patient(addr, &f.token([8; 16], 1), "b").await;
}

#[tokio::test]
async fn knocks_are_limited_per_visit_across_connections() {
    let f = Fixture::with_limits(|l| l.knocks_per_visit_per_minute = 2);
    let addr = start(f.state.clone()).await;
    let token = f.token([9; 16], 1);
    let mut a = patient(addr, &token, "a").await;
    let mut b = patient(addr, &token, "b").await;
    let mut c = patient(addr, &token, "c").await;
    knock(&mut a).await;
    knock(&mut b).await;
    send(
        &mut c,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut c).await,
        Some(RelayToPatient::Error {
            code: ErrorCode::RateLimited,
            ..
        })
    ));
}
