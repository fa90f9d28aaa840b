//! Camera capture against a real V4L2 driver: the kernel's `vivid`, a
//! virtual camera with the same ioctl, buffer and hot-unplug behaviour a USB
//! camera's driver has, drawing SMPTE-style 75 % colour bars.
//!
//! This machine has no camera and its kernel no media drivers (and no module
//! loading), so the test boots a small VM with Debian's kernel and runs
//! itself inside (`vm/mod.rs`): in the VM the body below talks to
//! `/dev/video*` through `bedside_capture` exactly as the desktop app does.

mod vivid;
mod vm;

use std::time::Duration;

use bedside_capture::camera::cameras;
use bedside_capture::{Camera, CameraFormat, DeviceKind, DeviceWatcher};

const TEST: &str = "a_v4l2_camera_is_listed_captured_refused_to_a_second_user_and_unplugged";

#[test]
fn a_v4l2_camera_is_listed_captured_refused_to_a_second_user_and_unplugged() {
    if vm::is_guest() {
        in_the_vm();
        return;
    }
    vm::run_guest_test(&["vivid"], TEST, DONE);
}

const DONE: &str = "camera checks passed in the VM";

/// The platform device vivid registers, and its driver's sysfs directory.
const VIVID_DEVICE: &str = "vivid.0";
const VIVID_DRIVER: &str = "/sys/bus/platform/drivers/vivid";

fn in_the_vm() {
    // Watching from the start, as the app does: its baseline listing is long
    // done when the camera is unplugged below, and it lists the nodes while
    // we capture.
    let (watcher, changes) = DeviceWatcher::start(Duration::from_millis(100));
    // vivid makes a video capture node among output, VBI, metadata, SDR and
    // touch nodes, as a UVC camera makes a metadata node beside its video
    // node: only the capture node is a camera.
    let nodes: Vec<String> = std::fs::read_dir("/dev")
        .expect("/dev")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("video"))
        .collect();
    assert!(nodes.len() > 1, "vivid's nodes: {nodes:?}");
    let listed = cameras();
    assert_eq!(listed.len(), 1, "cameras among {nodes:?}: {listed:?}");
    let camera = listed[0].clone();
    assert_eq!(camera.kind, DeviceKind::Camera);
    assert!(camera.is_default);
    assert!(
        camera.name.to_lowercase().contains("vivid"),
        "{}",
        camera.name
    );
    println!("camera: {} ({})", camera.name, camera.id);

    // Each uncompressed format the driver offers converts to the same
    // picture: the bars' colours, in order.
    let mut seen = Vec::new();
    for fourcc in [*b"YUYV", *b"NV12", *b"YU12", *b"BGR3"] {
        let name = String::from_utf8_lossy(&fourcc).into_owned();
        let frames = vivid::ten_frames(&camera.id, fourcc);
        for f in &frames {
            assert_eq!((f.width, f.height), (640, 480));
            assert_eq!(f.y.len(), 640 * 480);
            assert_eq!((f.u.len(), f.v.len()), (320 * 240, 320 * 240));
        }
        // vivid writes the frame's sequence number and time on the picture:
        // every capture is a fresh buffer, not the same one read again.
        assert!(
            frames.windows(2).all(|w| w[0].y != w[1].y),
            "{name}: two captures were the same picture"
        );
        vivid::check_upright(&name, frames.last().expect("frames"));
        let bars = vivid::bars(frames.last().expect("frames"));
        vivid::check_colour_bars(&name, &bars);
        seen.push((name, bars));
    }
    let (first, reference) = &seen[0];
    for (name, bars) in &seen[1..] {
        for (i, (a, b)) in reference.iter().zip(bars).enumerate() {
            for c in 0..3 {
                assert!(
                    (a[c] - b[c]).abs() <= 3.0,
                    "bar {i} plane {c}: {first} gives {a:?}, {name} gives {b:?}"
                );
            }
        }
    }

    // The default open takes YUYV (no decoding) at the size asked for.
    let mut cam = Camera::open(None, CameraFormat::default()).expect("the default camera");
    assert_eq!(cam.pixel_format(), *b"YUYV");
    cam.next_frame().expect("a frame");

    // A second user (another app, or a second open of ours) is told the
    // camera is busy; unplugged mid-capture and plugged in again.
    vivid::busy_unplugged_and_back(
        cam,
        &camera.id,
        &changes,
        || std::fs::write(format!("{VIVID_DRIVER}/unbind"), VIVID_DEVICE).expect("unbind vivid"),
        || std::fs::write(format!("{VIVID_DRIVER}/bind"), VIVID_DEVICE).expect("bind vivid"),
    );
    drop(watcher);
    println!("{DONE}");
}
