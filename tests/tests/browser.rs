//! A real headless Chromium patient joins through the real relay and is admitted by the
//! real headless host (`tests/browser/join.mjs` drives the page with playwright-core).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bedside_host::{HostConfig, HostEvent};
use bedside_visit::invite;
use data_encoding::BASE64URL_NOPAD as B64;
use tokio::sync::mpsc;

use crate::patient::{
    Relay, Run, devices, drive_script, event, expired_token, forged_token, knocks, one_browser,
    one_device_kept, random, refused_by_relay, relay, spawn_host, step, steps, token,
    token_asking_dob, workspace,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const PATIENT: &str = "Zoë O'Brien-Ngata";

/// Why the browser tests cannot run here, if they cannot.
pub(crate) fn missing_tools() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    assert!(
        workspace()
            .join("ui/node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed: run `npm ci` in ui/ (cargo xtask test does)"
    );
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("`node` is not on PATH".into()),
    }
}

/// Runs the driver script; it gives up on its own after 30 s, and is killed after 60.
/// Its screenshots stay in a fresh directory under the system temp dir (printed).
async fn drive(link: String, extra: &'static [&'static str]) -> Run {
    drive_script(
        "join.mjs",
        link,
        extra.iter().map(|s| (*s).to_owned()).collect(),
        60,
    )
    .await
}

/// What most browser tests start from: the browser slot, a relay, a visit and its secret.
pub(crate) struct Scene {
    pub(crate) relay: Relay,
    pub(crate) visit: [u8; 16],
    pub(crate) secret: [u8; 32],
    /// Held for the whole test.
    pub(crate) _browser: tokio::sync::MutexGuard<'static, ()>,
}

/// `None` (saying why) when node, playwright-core or Chromium is missing.
pub(crate) async fn scene() -> Option<Scene> {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return None;
    }
    let browser = one_browser().await;
    Some(Scene {
        relay: relay().await,
        visit: random::<16>(),
        secret: random::<32>(),
        _browser: browser,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_patient_knocks_and_is_admitted_by_the_host() {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return;
    }
    let _browser = one_browser().await;
    let started = Instant::now();
    let relay = relay().await;
    let visit = random::<16>();
    let secret = random::<32>();
    let mut host = spawn_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let run = drive(link, &["--name", PATIENT]).await;
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    assert!(
        step(&steps(&run.stdout), "admitted").is_some(),
        "no admitted step:\n{}",
        run.stdout
    );

    // The host opened the sealed knock with the secret from the link's fragment.
    let device = match event(&mut host, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock {
            device,
            name,
            dob,
            extra_device,
            ..
        } => {
            assert_eq!((name.as_str(), dob, extra_device), (PATIENT, None, false));
            device
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        event(
            &mut host,
            |e| matches!(e, HostEvent::DeviceState { state, .. } if state == "admitted")
        )
        .await,
        HostEvent::DeviceState {
            device,
            state: "admitted".into()
        }
    );
    println!("browser join took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_shows_a_forged_link_as_invalid() {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return;
    }
    let _browser = one_browser().await;
    let relay = relay().await;
    let visit = random::<16>();
    let forged = forged_token(&relay.key, visit);
    let link = invite::link(&relay.origin, &forged, &random::<32>());

    let run = drive(link, &["--expect", "invalid"]).await;
    // The relay refuses the forged token itself: the page never reaches `ready`.
    let steps = refused_by_relay(&run, "invalid", 404);
    assert!(step(&steps, "ready").is_none());
}

/// Expired and withdrawn links each get their own plain page, with the
/// status the relay documents, and never reach the knock form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_shows_expired_and_withdrawn_links_plainly() {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return;
    }
    let _browser = one_browser().await;
    let relay = relay().await;
    let visit = random::<16>();
    let expired = expired_token(&relay.key, visit);
    let run = drive(
        invite::link(&relay.origin, &expired, &random::<32>()),
        &["--expect", "expired"],
    )
    .await;
    refused_by_relay(&run, "expired", 410);

    let withdrawn_visit = random::<16>();
    let live = token(&relay.key, withdrawn_visit);
    bedside_host::revoke(&relay.origin, &relay.key, &withdrawn_visit, 1)
        .await
        .expect("revoke");
    let run = drive(
        invite::link(&relay.origin, &live, &random::<32>()),
        &["--expect", "withdrawn"],
    )
    .await;
    let seen = refused_by_relay(&run, "withdrawn", 410);
    assert!(step(&seen, "ready").is_none());
}

/// The device key binds the visit: the page keeps a non-extractable key in IndexedDB,
/// and after a reload the same browser proves the same key, so the relay and the host
/// see the same device — already bound to the invite, not an extra device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_page_is_the_same_device_and_proves_its_key() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let mut host = spawn_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let run = drive(link, &["--reload", "--name", PATIENT]).await;
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);
    let page_id = one_device_kept(&devices(&seen, "admitted"), &devices(&seen, "rewaiting"));

    // The host saw the first knock and the knock after the reload from the same device,
    // the second not flagged as extra (max devices is 1).
    assert_eq!(
        knocks(&mut host, 2, PATIENT).await,
        vec![(page_id.clone(), false), (page_id, false)],
        "both knocks come from the page's key"
    );
}

/// Policy asks for the date of birth: the flag signed into the token makes the page ask
/// (and require) it, and the host opens it from the sealed knock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gives_the_date_of_birth_when_the_invite_asks() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let mut host = spawn_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(
        &relay.origin,
        &token_asking_dob(&relay.key, visit, true),
        &secret,
    );
    let run = drive(link, &["--name", PATIENT, "--dob", "1980-02-03"]).await;
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);
    assert_eq!(
        step(&seen, "knock_form").map(|s| s["dob_asked"].clone()),
        Some(true.into())
    );
    match event(&mut host, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock { name, dob, .. } => {
            assert_eq!(
                (name.as_str(), dob.as_deref()),
                (PATIENT, Some("1980-02-03"))
            );
        }
        other => panic!("{other:?}"),
    }
}

type ClinicianWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A clinician connection driven by hand (the headless host only auto-admits): it
/// proves the clinic key, watches the visit, and sends what the test decides.
struct Clinician {
    ws: ClinicianWs,
    visit: [u8; 16],
}

impl Clinician {
    async fn connect(relay: &Relay, visit: [u8; 16]) -> Self {
        use bedside_protocol::{ClinicianToRelay, PROTOCOL_VERSION, RelayToClinician};
        let url = format!("{}/ws/clinician", relay.origin.replace("http://", "ws://"));
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("clinician connects");
        let mut c = Self { ws, visit };
        c.send(ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: B64.encode(&invite::public_key(&relay.key)),
        })
        .await;
        let RelayToClinician::Challenge { nonce } = c.next().await else {
            panic!("challenge");
        };
        let nonce = B64.decode(nonce.as_bytes()).expect("b64");
        let sig = relay.key.sign(&bedside_protocol::auth_message(&nonce));
        c.send(ClinicianToRelay::Auth {
            signature: B64.encode(sig.as_ref()),
        })
        .await;
        assert!(matches!(c.next().await, RelayToClinician::Ready { .. }));
        c.send(ClinicianToRelay::Watch {
            visit: data_encoding::HEXLOWER.encode(&visit),
        })
        .await;
        c
    }

    async fn send(&mut self, m: bedside_protocol::ClinicianToRelay) {
        use futures_util::SinkExt as _;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::text(
                bedside_protocol::encode(&m),
            ))
            .await
            .expect("send");
    }

    async fn next(&mut self) -> bedside_protocol::RelayToClinician {
        use futures_util::StreamExt as _;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .expect("relay message in time")
                .expect("open")
                .expect("frame");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = frame {
                return bedside_protocol::decode(t.as_bytes()).expect("protocol");
            }
        }
    }

    /// The next knock: device id and the extra-device flag.
    async fn knock(&mut self) -> (String, bool) {
        loop {
            if let bedside_protocol::RelayToClinician::Knock {
                device,
                extra_device,
                ..
            } = self.next().await
            {
                return (device, extra_device);
            }
        }
    }

    async fn admit(&mut self, device: &str) {
        self.send(bedside_protocol::ClinicianToRelay::Admit {
            visit: data_encoding::HEXLOWER.encode(&self.visit),
            device: device.to_owned(),
        })
        .await;
    }

    async fn deny(&mut self, device: &str, secret: &[u8; 32], reason: &str) {
        let sealed = bedside_host::seal_for_patient(
            secret,
            &self.visit,
            device,
            bedside_visit::sealed::TextKind::Deny,
            reason,
        )
        .expect("seal");
        assert!(!sealed.contains(reason), "the reason travels sealed");
        self.send(bedside_protocol::ClinicianToRelay::Deny {
            visit: data_encoding::HEXLOWER.encode(&self.visit),
            device: device.to_owned(),
            sealed,
        })
        .await;
    }
}

/// The clinician's app drops (killed: no goodbye) while the patient waits, and comes back.
/// The lobby lives on the relay, so the page keeps its ordinary waiting room — "Your clinic
/// knows you are here and will let you in soon. Please keep this page open." — with no
/// error, no reconnecting and no "your clinician left" message: an app going away for a
/// moment (a lock, a sleep, a network change, another computer) changes nothing the patient
/// should do, and the relay does not tell link holders whether the clinic is online. The
/// returning host sees the patient still waiting and admits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_patient_keeps_waiting_while_the_host_drops_and_returns() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    // The first host only watches (no auto-admit), then is killed.
    let (tx, mut first) = mpsc::unbounded_channel();
    let cfg = HostConfig {
        relay_origin: relay.origin.clone(),
        key: relay.key.clone(),
        visit,
        secret: zeroize::Zeroizing::new(secret),
        auto_admit: false,
    };
    let first_host = tokio::spawn(async move {
        let _ = bedside_host::run(cfg, move |e| drop(tx.send(e)), std::future::pending()).await;
    });
    event(&mut first, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);
    let page = tokio::spawn(drive(link, &["--name", PATIENT, "--record"]));
    let device = match event(&mut first, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock { device, .. } => device,
        other => panic!("{other:?}"),
    };
    // Let the page settle in the waiting room and start recording, then kill the host.
    tokio::time::sleep(Duration::from_secs(2)).await;
    first_host.abort();
    let _ = first_host.await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !page.is_finished(),
        "the page waits while no clinician is there"
    );

    let mut back = spawn_host(&relay, visit, secret);
    match event(&mut back, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock {
            device: again,
            name,
            ..
        } => {
            assert_eq!(
                again, device,
                "the returning host sees the same waiting device"
            );
            assert_eq!(name, PATIENT);
        }
        other => panic!("{other:?}"),
    }
    event(
        &mut back,
        |e| matches!(e, HostEvent::DeviceState { state, .. } if state == "admitted"),
    )
    .await;
    let run = page.await.expect("driver");
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);
    let admitted = step(&seen, "admitted").expect("an admitted step");
    let states: Vec<&str> = admitted["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        states,
        ["waiting", "admitted"],
        "the page stayed in the waiting room until admitted"
    );
    let texts: Vec<&str> = admitted["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        !texts.is_empty()
            && texts
                .iter()
                .all(|t| t.contains("You are in the waiting room")
                    && t.contains("Please keep this page open")
                    && !t.contains("went wrong")
                    && !t.contains("lost")),
        "{texts:?}"
    );
}

/// Denied with a reason: it crosses the relay sealed for the device, and the page opens
/// and shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_patient_is_denied_and_sees_the_sealed_reason() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let mut clinician = Clinician::connect(&relay, visit).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);
    const REASON: &str = "Your appointment is on Thursday — please call us";
    let page = tokio::spawn(drive(link, &["--expect", "denied"]));
    let (device, extra) = clinician.knock().await;
    assert!(!extra);
    clinician.deny(&device, &secret, REASON).await;
    let run = page.await.expect("driver");
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);
    let shown = step(&seen, "denied").expect("a denied step");
    assert!(
        shown["reason"].as_str().is_some_and(|r| r.contains(REASON)),
        "{}",
        run.stdout
    );
}

/// With max devices 1, a second browser on the same link is flagged as an extra device
/// and waits until the clinician admits it explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_browser_is_an_extra_device_until_admitted() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let mut clinician = Clinician::connect(&relay, visit).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let first = tokio::spawn(drive(link.clone(), &[]));
    let (device_a, extra) = clinician.knock().await;
    assert!(!extra, "the first device is within the invite's limit");
    clinician.admit(&device_a).await;
    let run = first.await.expect("driver");
    assert!(run.ok, "first browser:\n{}{}", run.stdout, run.stderr);

    // A second browser profile: another device key, beyond the limit.
    let second = tokio::spawn(drive(link, &[]));
    let (device_b, extra) = clinician.knock().await;
    assert_ne!(device_b, device_a);
    assert!(extra, "the second device is flagged");
    // Not admitted yet: give the page time to show the waiting room, then admit.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !second.is_finished(),
        "the extra device waits for admission"
    );
    clinician.admit(&device_b).await;
    let run = second.await.expect("driver");
    assert!(run.ok, "second browser:\n{}{}", run.stdout, run.stderr);
    let seen = steps(&run.stdout);
    assert!(step(&seen, "waiting").is_some_and(|s| s.get("skipped").is_none()));
    assert!(step(&seen, "admitted").is_some());
}

/// The relay restarts while the patient is in: the page loses the connection, re-opens it
/// by itself, proves the same device key and knocks again, and the new host admits it.
/// A link withdrawn before the restart stays withdrawn after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_relay_restart_the_page_reconnects_and_revocations_survive() {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return;
    }
    let _browser = one_browser().await;
    let mut relay = relay().await;
    let visit = random::<16>();
    let secret = random::<32>();
    let mut host = spawn_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;

    // Another link, withdrawn before the restart.
    let withdrawn_visit = random::<16>();
    let withdrawn = token(&relay.key, withdrawn_visit);
    bedside_host::revoke(&relay.origin, &relay.key, &withdrawn_visit, 1)
        .await
        .expect("revoke");

    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);
    let page = tokio::spawn(drive(link, &["--name", PATIENT, "--restart"]));
    let first_device = match event(&mut host, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock { device, .. } => device,
        other => panic!("{other:?}"),
    };
    event(
        &mut host,
        |e| matches!(e, HostEvent::DeviceState { state, .. } if state == "admitted"),
    )
    .await;
    // Give the page a moment to start watching, then restart the relay on the same port.
    tokio::time::sleep(Duration::from_secs(1)).await;
    relay.restart().await;
    let mut host = spawn_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;

    let run = page.await.expect("driver");
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);
    let again = step(&seen, "readmitted").expect("a readmitted step");
    let states: Vec<&str> = again["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        !states.contains(&"error") && states.contains(&"waiting"),
        "the page went back to the lobby by itself: {states:?}"
    );
    // The new relay and host saw the same device, proved by the same key.
    match event(&mut host, |e| matches!(e, HostEvent::Knock { .. })).await {
        HostEvent::Knock { device, .. } => assert_eq!(device, first_device),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        again["devices"][0]["id"].as_str(),
        Some(first_device.as_str())
    );

    let run = drive(
        invite::link(&relay.origin, &withdrawn, &random::<32>()),
        &["--expect", "withdrawn"],
    )
    .await;
    refused_by_relay(&run, "withdrawn", 410);
}
