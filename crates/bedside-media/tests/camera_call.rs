//! A visit's video from real camera drivers: in the camera VM (`vm`), two
//! USB cameras (`uvc`: UVC devices on virtual USB ports, read by the
//! kernel's `uvcvideo`) and a call on loopback with the `devices` source, to
//! a webrtc-rs patient (`patient`). The call sends the first camera; a
//! switch mid-call closes it and opens the second; camera off closes the
//! device (its light goes off) and on opens it again; the camera in use
//! pulled out mid-call is reported, and the call goes on.
//!
//! The cameras and the VM runner are bedside-capture's test modules.

#[path = "../../bedside-capture/tests/uvc/mod.rs"]
mod uvc;
#[path = "../../bedside-capture/tests/vm/mod.rs"]
mod vm;

mod patient;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_capture::camera::cameras;
use bedside_media::{Call, MediaSource, PeerConfig, PeerEvent, VideoSettings};
use patient::{DEVICE, Patient, Seen, pump};
use tokio::sync::mpsc;
use uvc::{Mode, Pixels, Transfer, UsbCamera};

const TEST: &str = "a_call_sends_a_usb_camera_switches_turns_it_off_and_survives_its_unplugging";
const DONE: &str = "camera call checks passed in the VM";

#[test]
fn a_call_sends_a_usb_camera_switches_turns_it_off_and_survives_its_unplugging() {
    if vm::is_guest() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(in_the_vm());
        return;
    }
    vm::run_guest_test(&["vhci_hcd", "uvcvideo"], TEST, DONE);
}

/// Small pictures: the VM is emulated, and the call encodes them in VP8.
const MODES: [Mode; 1] = [Mode {
    pixels: Pixels::Yuyv,
    width: 320,
    height: 240,
    fps: 30,
}];

/// Everything a stretch of the call needs.
struct Visit {
    call: Call,
    events: mpsc::Receiver<PeerEvent>,
    patient: Patient,
    seen: Seen,
}

impl Visit {
    async fn run(&mut self, secs: f64) {
        pump(
            &self.call,
            &mut self.patient,
            &mut self.events,
            Duration::from_secs_f64(secs),
            &mut self.seen,
        )
        .await;
    }

    fn video_packets(&self) -> u64 {
        self.patient.video_packets.load(Ordering::Relaxed)
    }

    fn state(&self) -> String {
        self.seen
            .stats
            .as_ref()
            .map(|s| s.state.clone())
            .unwrap_or_default()
    }
}

/// Whether `camera` starts frames over `secs` of the call (it is open and
/// captured), and how many.
async fn streams(visit: &mut Visit, camera: &UsbCamera, secs: f64) -> u32 {
    let before = camera.frames_started();
    visit.run(secs).await;
    let started = camera.frames_started() - before;
    println!(
        "{started} frames in {secs} s; {} video packets so far",
        visit.video_packets()
    );
    started
}

async fn in_the_vm() {
    let log = || Arc::new(Mutex::new(Vec::new()));
    let first = UsbCamera::plug(0, Transfer::Bulk, &MODES, log()).expect("plug the first camera");
    let second =
        UsbCamera::plug(1, Transfer::Isochronous, &MODES, log()).expect("plug the second camera");
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let listed = cameras();
        if listed.len() >= 2 || Instant::now() > deadline {
            break listed;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(listed.len(), 2, "{listed:?}");
    let config = PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        source: MediaSource::Devices,
        video: VideoSettings {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 300,
        },
        ..PeerConfig::default()
    };
    let (call, events, patient) = patient::call(config).await;
    let mut visit = Visit {
        call,
        events,
        patient,
        seen: Seen::default(),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while visit.state() != "connected" && Instant::now() < deadline {
        visit.run(1.0).await;
    }
    assert_eq!(visit.state(), "connected", "events: {:?}", visit.seen.codes);
    let peer = visit.call.peer(DEVICE).expect("peer").clone();

    // The call opens the default camera and sends its pictures.
    let sent = visit.video_packets();
    assert!(
        streams(&mut visit, &first, 4.0).await >= 10,
        "the first camera is captured"
    );
    assert!(
        visit.video_packets() > sent + 20,
        "video reaches the patient"
    );
    assert_eq!(second.frames_started(), 0, "the second camera is not open");
    let report = peer.devices().expect("a device report");
    assert_eq!(report.camera.as_deref(), Some(uvc::PRODUCT));
    assert!(!report.audio_only);

    // Switched mid-call: the first camera is closed, the second sends.
    peer.set_camera(Some(listed[1].id.clone()));
    visit.run(3.0).await;
    assert_eq!(
        streams(&mut visit, &first, 2.0).await,
        0,
        "the first camera is closed"
    );
    let sent = visit.video_packets();
    assert!(
        streams(&mut visit, &second, 3.0).await >= 10,
        "the second camera is captured"
    );
    assert!(
        visit.video_packets() > sent + 20,
        "its video reaches the patient"
    );

    // Camera off closes the device; on opens it again.
    peer.set_camera_off(true);
    visit.run(2.0).await;
    assert_eq!(
        streams(&mut visit, &second, 2.0).await,
        0,
        "camera off closes the camera"
    );
    peer.set_camera_off(false);
    visit.run(2.0).await;
    assert!(
        streams(&mut visit, &second, 3.0).await >= 10,
        "camera on opens it again"
    );

    // The camera in use is pulled out: reported, and the call goes on.
    second.unplug().expect("unplug the second camera");
    visit.run(5.0).await;
    assert!(
        visit.seen.codes.iter().any(|c| c == "device_vanished"),
        "events: {:?}",
        visit.seen.codes
    );
    let report = peer.devices().expect("a device report");
    assert!(
        report
            .notices
            .iter()
            .any(|n| n.code == "device_vanished"
                && n.kind == bedside_media::devices::DeviceKind::Camera),
        "{report:?}"
    );
    assert_eq!(visit.state(), "connected");

    visit.call.close().await;
    first.unplug().expect("unplug the first camera");
    println!("{DONE}");
}
