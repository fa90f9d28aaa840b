//! Camera capture from USB cameras through the kernel's real `uvcvideo`
//! driver: each camera (`uvc/mod.rs`) is a UVC device on a virtual USB port
//! (USB/IP into `vhci_hcd`) offering MJPEG and YUYV, one streaming on a
//! bulk endpoint, a second plugged in later on an isochronous endpoint (as
//! most webcams stream). In the camera VM (`vm/mod.rs`; this machine's kernel has
//! no USB or media drivers) the body below talks to `/dev/video*` through
//! `bedside_capture` exactly as the desktop app does.

mod uvc;
mod vivid;
mod vm;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_capture::DeviceInfo;
use bedside_capture::camera::cameras;
use bedside_capture::{Camera, CameraFormat, DeviceChange, DeviceKind, DeviceWatcher};
use uvc::{Mode, Pixels, Transfer, UsbCamera};

const TEST: &str =
    "usb_cameras_are_listed_captured_in_mjpeg_and_yuyv_refused_to_a_second_user_and_unplugged";

#[test]
fn usb_cameras_are_listed_captured_in_mjpeg_and_yuyv_refused_to_a_second_user_and_unplugged() {
    if vm::is_guest() {
        in_the_vm();
        return;
    }
    vm::run_guest_test(&["vhci_hcd", "uvcvideo"], TEST, DONE);
}

const DONE: &str = "USB camera checks passed in the VM";

/// The virtual root-hub ports the cameras are plugged into.
const PORT: u32 = 0;
const ISO_PORT: u32 = 1;

/// What the camera offers, MJPEG first as webcams list it: MJPEG at 30 fps
/// in both sizes, YUYV at 30 fps in VGA but only 10 fps in 720p (a USB 2
/// camera's bandwidth).
const MODES: [Mode; 4] = [
    Mode {
        pixels: Pixels::Mjpeg,
        width: 640,
        height: 480,
        fps: 30,
    },
    Mode {
        pixels: Pixels::Mjpeg,
        width: 1280,
        height: 720,
        fps: 30,
    },
    Mode {
        pixels: Pixels::Yuyv,
        width: 640,
        height: 480,
        fps: 30,
    },
    Mode {
        pixels: Pixels::Yuyv,
        width: 1280,
        height: 720,
        fps: 10,
    },
];

fn in_the_vm() {
    let commits = Arc::new(Mutex::new(Vec::new()));
    let usb = UsbCamera::plug(PORT, Transfer::Bulk, &MODES, Arc::clone(&commits))
        .expect("plug the camera in");
    let listed = listed_when(1);
    let nodes = video_nodes();
    // uvcvideo makes a metadata node beside the capture node.
    assert_eq!(nodes.len(), 2, "uvcvideo's nodes: {nodes:?}");
    assert_eq!(listed.len(), 1, "cameras among {nodes:?}: {listed:?}");
    let camera = listed[0].clone();
    assert_eq!(camera.kind, DeviceKind::Camera);
    assert!(camera.is_default);
    assert_eq!(camera.name, uvc::PRODUCT);
    println!("camera: {} ({})", camera.name, camera.id);
    let (watcher, changes) = DeviceWatcher::start(Duration::from_millis(100));

    capture_each_format(&camera, &commits);

    // 720p at 30 fps: only MJPEG keeps that rate, so MJPEG it is; asking
    // for 10 fps takes YUYV (no decoding) at 720p.
    for (fps, fourcc, pixels) in [(30, *b"MJPG", Pixels::Mjpeg), (10, *b"YUYV", Pixels::Yuyv)] {
        let hd = CameraFormat {
            width: 1280,
            height: 720,
            fps,
        };
        let mut cam = Camera::open(Some(&camera.id), hd).expect("720p");
        assert_eq!(
            (cam.pixel_format(), cam.size()),
            (fourcc, (1280, 720)),
            "720p at {fps} fps"
        );
        let frame = cam.next_frame().expect("a 720p frame");
        vivid::check_colour_bars("720p", &vivid::bars(&frame));
        assert_eq!(
            commits.lock().expect("commits").last(),
            Some(&Mode {
                pixels,
                width: 1280,
                height: 720,
                fps
            }),
            "720p at {fps} fps: what the camera was asked for"
        );
    }

    // The default open takes YUYV (no decoding) at VGA.
    let mut cam = Camera::open(None, CameraFormat::default()).expect("the default camera");
    assert_eq!(cam.pixel_format(), *b"YUYV");
    cam.next_frame().expect("a frame");
    assert_eq!(
        commits
            .lock()
            .expect("commits")
            .last()
            .map(|m| (m.pixels, m.fps)),
        Some((Pixels::Yuyv, 30))
    );

    // A second user is told the camera is busy; unplugged mid-capture (a USB
    // disconnect) and plugged in again.
    let mut again = None;
    let plug_again = || {
        UsbCamera::plug(PORT, Transfer::Bulk, &MODES, Arc::clone(&commits))
            .expect("plug it in again")
    };
    vivid::busy_unplugged_and_back(
        cam,
        &camera.id,
        &changes,
        || usb.unplug().expect("unplug the camera"),
        || again = Some(plug_again()),
    );

    // A second camera, streaming isochronously, is listed after the first
    // and captures in both formats; pulled out, it is reported removed.
    let iso = UsbCamera::plug(
        ISO_PORT,
        Transfer::Isochronous,
        &MODES[..3],
        Arc::clone(&commits),
    )
    .expect("plug the isochronous camera in");
    let listed = listed_when(2);
    assert_eq!(listed.len(), 2, "{listed:?} among {:?}", video_nodes());
    let second = listed[1].clone();
    assert_eq!(listed[0].id, camera.id);
    assert!(!second.is_default);
    assert_eq!(second.name, uvc::PRODUCT);
    println!("second camera: {} ({})", second.name, second.id);
    capture_each_format(&second, &commits);
    iso.unplug().expect("unplug the isochronous camera");
    let gone = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        changes
            .try_iter()
            .any(|c| matches!(c, DeviceChange::Removed(d) if d.id == second.id))
    });
    assert!(gone, "the watcher did not report the second camera removed");
    assert_eq!(cameras(), std::slice::from_ref(&camera));

    drop(watcher);
    if let Some(usb) = again {
        usb.unplug().expect("unplug at the end");
    }
    println!("{DONE}");
}

/// What is listed once `n` cameras are (the kernel enumerates a device and
/// binds uvcvideo in the background), or after 60 s.
fn listed_when(n: usize) -> Vec<DeviceInfo> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = cameras();
        if listed.len() >= n || Instant::now() > deadline {
            return listed;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn video_nodes() -> Vec<String> {
    std::fs::read_dir("/dev")
        .expect("/dev")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("video"))
        .collect()
}

/// MJPEG and YUYV at VGA from `camera`: each gives fresh frames in order,
/// upright, with the bars' colours (the same in both), and the camera was
/// asked for what was opened.
fn capture_each_format(camera: &DeviceInfo, commits: &Mutex<Vec<Mode>>) {
    let mut seen = Vec::new();
    for (fourcc, pixels) in [(*b"MJPG", Pixels::Mjpeg), (*b"YUYV", Pixels::Yuyv)] {
        let name = String::from_utf8_lossy(&fourcc).into_owned();
        let frames = vivid::ten_frames(&camera.id, fourcc);
        assert_eq!(
            commits.lock().expect("commits").last(),
            Some(&Mode {
                pixels,
                width: 640,
                height: 480,
                fps: 30
            }),
            "{name}: what the camera was asked for"
        );
        let numbers: Vec<u32> = frames
            .iter()
            .map(|f| uvc::frame_number(f).unwrap_or_else(|| panic!("{name}: no frame number")))
            .collect();
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "{name}: frames out of order or repeated: {numbers:?}"
        );
        if pixels == Pixels::Mjpeg {
            // A corrupt frame is skipped, not an error.
            let (first, last) = (numbers[0], numbers[numbers.len() - 1]);
            assert!(
                (first..=last).any(uvc::is_corrupt),
                "{name}: no corrupt frame was sent among {numbers:?}"
            );
            assert!(
                !numbers.iter().any(|&n| uvc::is_corrupt(n)),
                "{name}: a corrupt frame came through: {numbers:?}"
            );
        }
        vivid::check_upright(&name, frames.last().expect("frames"));
        let bars = vivid::bars(frames.last().expect("frames"));
        vivid::check_colour_bars(&name, &bars);
        println!("{} {name}: frames {numbers:?}", camera.id);
        seen.push((name, bars));
    }
    let ((first, a), (second, b)) = (&seen[0], &seen[1]);
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        for c in 0..3 {
            assert!(
                (a[c] - b[c]).abs() <= 4.0,
                "bar {i} plane {c}: {first} gives {a:?}, {second} gives {b:?}"
            );
        }
    }
}
