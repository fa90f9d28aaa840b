//! A flood of bogus knocks — forged tokens, and knocks on another visit
//! from many connections, from one address or from ten — while one real
//! patient knocks and is admitted. Attackers and the patient use distinct
//! loopback addresses (127.0.0.0/8 all reaches `lo`), with the per-address
//! limits on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bedside_protocol::{
    ClinicianToRelay, PROTOCOL_VERSION, PatientToRelay, RelayToClinician, RelayToPatient,
};
use bedside_visit::device::DeviceKey;
use data_encoding::BASE64URL_NOPAD;
use ring::rand::SecureRandom as _;
use tokio_tungstenite::MaybeTlsStream;
use tower::ServiceExt as _;

use crate::common::{Fixture, hex};
use crate::ws::{SEALED, Socket, ready_clinician, recv, send, start};

/// A patient WebSocket from a chosen loopback address; `None` when refused.
async fn ws_from(ip: [u8; 4], addr: SocketAddr) -> Option<Socket> {
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    sock.bind(SocketAddr::from((ip, 0))).ok()?;
    let stream = sock.connect(addr).await.ok()?;
    tokio_tungstenite::client_async(
        format!("ws://{addr}/ws/patient"),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .ok()
    .map(|(ws, _)| ws)
}

/// Sends without panicking: the relay may close an attacker at any moment.
async fn try_send<T: bedside_protocol::Message>(s: &mut Socket, m: &T) -> bool {
    use futures_util::SinkExt as _;
    s.send(tokio_tungstenite::tungstenite::Message::text(
        bedside_protocol::encode(m),
    ))
    .await
    .is_ok()
}

/// Receives without panicking; `None` on close, error or 5 s of silence.
async fn try_recv(s: &mut Socket) -> Option<RelayToPatient> {
    use futures_util::StreamExt as _;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                return bedside_protocol::decode(t.as_bytes()).ok();
            }
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))))
            | Ok(Some(Err(_)))
            | Ok(None)
            | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// hello + prove; true when welcomed.
async fn join(s: &mut Socket, token: &str, key: &DeviceKey) -> bool {
    let hello = PatientToRelay::Hello {
        v: PROTOCOL_VERSION,
        token: token.into(),
        device_id: key.id(),
        public_key: BASE64URL_NOPAD.encode(key.public_key()),
    };
    if !try_send(s, &hello).await {
        return false;
    }
    let Some(RelayToPatient::Challenge { nonce }) = try_recv(s).await else {
        return false;
    };
    let Ok(nonce) = <[u8; 32]>::try_from(
        BASE64URL_NOPAD
            .decode(nonce.as_bytes())
            .unwrap_or_default()
            .as_slice(),
    ) else {
        return false;
    };
    let visit = bedside_visit::invite::peek(token).expect("token").visit.0;
    let sig = key.prove(&visit, &nonce).expect("sign");
    let prove = PatientToRelay::Prove {
        signature: BASE64URL_NOPAD.encode(&sig),
    };
    try_send(s, &prove).await && matches!(try_recv(s).await, Some(RelayToPatient::Welcome { .. }))
}

/// 2,000 attempts at 1,000 a second from ten addresses: most are turned away at the
/// door, every forged token that gets a connection is refused, the patient gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_patient_gets_through_a_flood_of_bogus_knocks() {
    let flood = flood_while_a_patient_knocks(10).await;
    assert!(flood.rate_limited >= 1000, "{flood:?}");
    assert!(flood.refused_tokens >= 100, "{flood:?}");
}

/// The same 1,000 attempts a second from one address: that address is throttled to its
/// per-minute budget, and the patient on another address still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_patient_gets_through_a_flood_from_one_address() {
    let flood = flood_while_a_patient_knocks(1).await;
    let budget = bedside_relay::Limits::default().connections_per_ip_per_minute as usize;
    assert!(
        flood.accepted.len() == 1 && (1..=budget).contains(&flood.accepted[0]),
        "{flood:?}"
    );
    assert!(flood.rate_limited >= 2000 - budget as u64, "{flood:?}");
    assert!(flood.refused_tokens >= 1, "{flood:?}");
}

/// What a flood run saw (the patient's admission is asserted inside).
#[derive(Debug)]
struct Flood {
    /// Connections accepted per attacker address.
    accepted: Vec<usize>,
    /// The relay's rate-limited counter.
    rate_limited: u64,
    /// Forged or malformed tokens the relay refused.
    refused_tokens: u64,
}

async fn flood_while_a_patient_knocks(attacker_addresses: u8) -> Flood {
    let f = Fixture::with_limits(|l| l.per_ip_limits_on_loopback = true);
    let limits = bedside_relay::Limits::default();
    let addr = start(f.state.clone()).await;
    let (visit, other_visit) = ([0x1e; 16], [0xbd; 16]);
    let mut clinician = ready_clinician(addr, &f.key).await;
    for v in [visit, other_visit] {
        send(&mut clinician, &ClinicianToRelay::Watch { visit: hex(&v) }).await;
    }
    let other_token = f.token(other_visit, 2);
    let device_keys: Arc<Vec<DeviceKey>> = Arc::new(
        (0..40)
            .map(|_| DeviceKey::generate().expect("key"))
            .collect(),
    );
    let accepted_per_address: Arc<Vec<AtomicUsize>> = Arc::new(
        (0..attacker_addresses)
            .map(|_| AtomicUsize::new(0))
            .collect(),
    );

    // 2,000 attempts at one per millisecond.
    let flood = tokio::spawn({
        let (keys, accepted) = (device_keys.clone(), accepted_per_address.clone());
        async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut tasks = Vec::new();
            for i in 0..2000usize {
                tick.tick().await;
                let (keys, accepted, other_token) =
                    (keys.clone(), accepted.clone(), other_token.clone());
                tasks.push(tokio::spawn(async move {
                    let n = i % usize::from(attacker_addresses);
                    let ip = [127, 0, 0, 2 + n as u8];
                    let Some(mut s) = ws_from(ip, addr).await else {
                        return;
                    };
                    accepted[n].fetch_add(1, Ordering::Relaxed);
                    if i % 2 == 0 {
                        // A forged token of the right shape.
                        let mut raw = [0u8; bedside_visit::invite::TOKEN_BYTES];
                        ring::rand::SystemRandom::new().fill(&mut raw).expect("rng");
                        let key = &keys[i % keys.len()];
                        let forged = BASE64URL_NOPAD.encode(&raw);
                        assert!(!join(&mut s, &forged, key).await, "a forged token got in");
                    } else if join(&mut s, &other_token, &keys[i % keys.len()]).await {
                        // Knocks on another visit, as fast as it can.
                        for _ in 0..10 {
                            let knock = PatientToRelay::Knock {
                                sealed: SEALED.into(),
                            };
                            if !try_send(&mut s, &knock).await {
                                break;
                            }
                        }
                        let _ = tokio::time::timeout(
                            Duration::from_millis(200),
                            recv::<RelayToPatient>(&mut s),
                        )
                        .await;
                    }
                }));
            }
            let rate = 2000.0 / started.elapsed().as_secs_f64();
            for t in tasks {
                t.await.expect("attacker task");
            }
            rate
        }
    });

    // Half a second into the flood, the real patient knocks from its own address.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let key = DeviceKey::generate().expect("key");
    let mut p = ws_from([127, 0, 0, 200], addr)
        .await
        .expect("patient connects");
    let knocked = Instant::now();
    assert!(
        join(&mut p, &f.token(visit, 1), &key).await,
        "the patient is welcomed"
    );
    send(
        &mut p,
        &PatientToRelay::Knock {
            sealed: SEALED.into(),
        },
    )
    .await;

    // The clinician sees the real knock among the noise, admits, and the patient is in.
    let mut other_knocks = 0;
    loop {
        let m = tokio::time::timeout(
            Duration::from_secs(10),
            recv::<RelayToClinician>(&mut clinician),
        )
        .await
        .expect("the real knock arrives within 10 s")
        .expect("clinician connection open");
        if let RelayToClinician::Knock {
            visit: v, device, ..
        } = m
        {
            if v == hex(&visit) {
                assert_eq!(device, key.id());
                send(
                    &mut clinician,
                    &ClinicianToRelay::Admit {
                        visit: hex(&visit),
                        device,
                    },
                )
                .await;
                break;
            }
            other_knocks += 1;
        }
    }
    loop {
        match recv::<RelayToPatient>(&mut p).await {
            Some(RelayToPatient::Admitted { .. }) => break,
            Some(RelayToPatient::Waiting | RelayToPatient::Pong) => {}
            other => panic!("the patient got {other:?}"),
        }
    }
    let admitted_after = knocked.elapsed();
    let rate = flood.await.expect("flood");
    println!("flood: {rate:.0} attempts/s; patient admitted {admitted_after:?} after its hello");
    // Drain what the clinician got for the other visit during the whole flood.
    while let Ok(Some(m)) = tokio::time::timeout(
        Duration::from_millis(300),
        recv::<RelayToClinician>(&mut clinician),
    )
    .await
    {
        if matches!(&m, RelayToClinician::Knock { visit: v, .. } if *v == hex(&other_visit)) {
            other_knocks += 1;
        }
    }

    assert!(
        admitted_after < Duration::from_secs(5),
        "{admitted_after:?}"
    );
    // Limits held: per address, no more connections than a minute allows; the other
    // visit passed on no more knocks than its per-visit budget.
    for (n, a) in accepted_per_address.iter().enumerate() {
        let a = a.load(Ordering::Relaxed);
        assert!(
            a <= limits.connections_per_ip_per_minute as usize,
            "address {n}: {a} connections accepted"
        );
    }
    assert!(
        other_knocks <= limits.knocks_per_visit_per_minute,
        "{other_knocks} knocks reached the clinician for the flooded visit"
    );
    let reply = bedside_relay::app(f.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("metrics");
    let body = http_body_util::BodyExt::collect(reply.into_body())
        .await
        .expect("body")
        .to_bytes();
    let m = String::from_utf8_lossy(&body).into_owned();
    let value = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    };
    let refused_tokens = value("bedside_relay_rejected_tokens_total{reason=\"forged\"}")
        + value("bedside_relay_rejected_tokens_total{reason=\"malformed\"}");
    let accepted: Vec<usize> = accepted_per_address
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    println!(
        "accepted connections per address {accepted:?}; rate limited {}; forged tokens refused {refused_tokens}; \
         knocks for the flooded visit reaching the clinician {other_knocks}",
        value("bedside_relay_rate_limited_total")
    );
    Flood {
        accepted,
        rate_limited: value("bedside_relay_rate_limited_total"),
        refused_tokens,
    }
}

/// An admitted patient floods the relay with ICE candidates as fast as it
/// can write: it is closed with `rate_limited` after its burst, the
/// clinician gets at most that burst from it and stays connected and
/// answering, and another patient of the clinic is admitted as usual.
#[tokio::test]
async fn a_flooding_patient_is_closed_and_cannot_starve_the_clinician_or_others() {
    use crate::ws::{knock, patient, recv_until};
    let f = Fixture::new();
    let burst = f.config.limits.patient_message_burst as usize;
    let addr = start(f.state.clone()).await;
    let (noisy_visit, calm_visit) = ([0x71; 16], [0x72; 16]);
    let mut c = ready_clinician(addr, &f.key).await;
    let mut noisy = patient(addr, &f.token(noisy_visit, 1), "noisy").await;
    knock(&mut noisy).await;
    let mut calm = patient(addr, &f.token(calm_visit, 1), "calm").await;
    knock(&mut calm).await;
    for _ in 0..2 {
        recv_until(&mut c, |m: &RelayToClinician| {
            matches!(m, RelayToClinician::Knock { .. })
        })
        .await;
    }
    send(
        &mut c,
        &ClinicianToRelay::Admit {
            visit: hex(&noisy_visit),
            device: crate::common::dev("noisy"),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut noisy).await,
        Some(RelayToPatient::Admitted { .. })
    ));

    // 5,000 candidates, as fast as the socket takes them.
    let candidate = PatientToRelay::Ice {
        candidate: r#"{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMLineIndex":0}"#.into(),
    };
    let started = Instant::now();
    let mut written = 0;
    for _ in 0..5_000 {
        if !try_send(&mut noisy, &candidate).await {
            break;
        }
        written += 1;
    }
    let mut told = None;
    while let Some(m) = try_recv(&mut noisy).await {
        if let RelayToPatient::Error { code, .. } = m {
            told = Some(code);
        }
    }
    assert_eq!(
        told,
        Some(bedside_protocol::ErrorCode::RateLimited),
        "the flooder is told, then closed (wrote {written})"
    );
    let elapsed = started.elapsed().as_secs_f64();

    // The clinician is still connected and answering; of the flood it saw at
    // most the burst plus the refill while it lasted.
    send(&mut c, &ClinicianToRelay::Ping).await;
    let mut forwarded = 0;
    loop {
        match recv::<RelayToClinician>(&mut c)
            .await
            .expect("the clinician stays connected")
        {
            RelayToClinician::Ice { .. } => forwarded += 1,
            RelayToClinician::Pong => break,
            _ => {}
        }
    }
    let allowed = burst
        + (elapsed * f64::from(f.config.limits.patient_messages_per_second)).ceil() as usize
        + 1;
    assert!(
        forwarded <= allowed,
        "{forwarded} candidates reached the clinician (at most {allowed})"
    );
    assert!(
        forwarded >= burst / 2,
        "the burst itself is forwarded ({forwarded})"
    );

    // The other patient is admitted as usual.
    send(
        &mut c,
        &ClinicianToRelay::Admit {
            visit: hex(&calm_visit),
            device: crate::common::dev("calm"),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut calm).await,
        Some(RelayToPatient::Admitted { .. })
    ));
}
