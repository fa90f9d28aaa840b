//! What the camera tests (V4L2 in `camera.rs`, USB cameras in
//! `camera_uvc.rs`, DirectShow under Wine in `camera_windows.rs`) check of
//! vivid's picture — its 75 % colour bars and status text, which the USB
//! test camera draws too — read back from captured pictures, and a camera
//! busy in another user's hands, unplugged and plugged in again.

// Shared by the test binaries that include it; not all use every item.
#![allow(dead_code)]

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use bedside_capture::camera::cameras;
use bedside_capture::{
    Camera, CameraFormat, DeviceChange, DeviceError, DeviceId, DeviceKind, Picture,
};

/// The checks both camera tests end with, on the open camera `cam` (listed
/// as `id`) under a running watcher: a second user is told the camera is
/// busy while the first keeps capturing; unplugged mid-capture (`unbind`),
/// the open camera says it vanished, the watcher reports it removed, nothing
/// is listed and opening says there is no camera; plugged in again (`bind`),
/// the watcher reports it added and it captures again.
pub fn busy_unplugged_and_back(
    mut cam: Camera,
    id: &DeviceId,
    changes: &Receiver<DeviceChange>,
    unbind: impl FnOnce(),
    bind: impl FnOnce(),
) {
    let second = Camera::open(Some(id), CameraFormat::default()).map(|_| ());
    assert_eq!(
        second,
        Err(DeviceError::Busy {
            kind: DeviceKind::Camera
        })
    );
    cam.next_frame().expect("the first user still captures");

    unbind();
    let error = (0..10)
        .find_map(|_| cam.next_frame().err())
        .expect("capture fails once the camera is gone");
    assert_eq!(
        error,
        DeviceError::Vanished {
            kind: DeviceKind::Camera
        }
    );
    expect_change(
        changes,
        "removed",
        |c| matches!(c, DeviceChange::Removed(d) if d.id == *id),
    );
    assert!(cameras().is_empty(), "{:?}", cameras());
    assert_eq!(
        Camera::open(None, CameraFormat::default()).map(|_| ()),
        Err(DeviceError::NoCamera)
    );
    drop(cam);
    bind();
    expect_change(
        changes,
        "added",
        |c| matches!(c, DeviceChange::Added(d) if d.id == *id),
    );
    let mut again = Camera::open(Some(id), CameraFormat::default()).expect("the camera is back");
    again.next_frame().expect("a frame after plugging in again");
}

/// Ten pictures from camera `id` opened in pixel format `fourcc` at the
/// default 640×480 (checked, with the format).
pub fn ten_frames(id: &DeviceId, fourcc: [u8; 4]) -> Vec<Picture> {
    let name = String::from_utf8_lossy(&fourcc).into_owned();
    let mut cam = Camera::open_with_pixel_format(Some(id), CameraFormat::default(), fourcc)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(cam.pixel_format(), fourcc, "{name}");
    assert_eq!(cam.size(), (640, 480), "{name}");
    (0..10)
        .map(|i| {
            cam.next_frame()
                .unwrap_or_else(|e| panic!("{name} frame {i}: {e}"))
        })
        .collect()
}

fn expect_change(
    changes: &Receiver<DeviceChange>,
    what: &str,
    want: impl Fn(&DeviceChange) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match changes.recv_timeout(left) {
            Ok(change) if want(&change) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the watcher did not report the camera {what} within 20 s");
}

/// Mean (Y, Cb, Cr) at the middle of each of the 8 bars, three quarters of
/// the way down (clear of the text vivid writes at the top).
pub fn bars(p: &Picture) -> [[f64; 3]; 8] {
    let (w, h) = (p.width as usize, p.height as usize);
    let bar = w / 8;
    let row = h * 3 / 4;
    let mut out = [[0.0; 3]; 8];
    for (i, slot) in out.iter_mut().enumerate() {
        let (x0, x1) = (i * bar + bar / 4, i * bar + bar * 3 / 4);
        let (y0, y1) = (row - 8, row + 8);
        let luma = mean((y0..y1).flat_map(|y| (x0..x1).map(move |x| p.y[y * w + x])));
        let cw = w / 2;
        let chroma = |plane: &[u8]| {
            mean((y0 / 2..y1 / 2).flat_map(|y| (x0 / 2..x1 / 2).map(move |x| plane[y * cw + x])))
        };
        *slot = [luma, chroma(&p.u), chroma(&p.v)];
    }
    out
}

fn mean(values: impl Iterator<Item = u8>) -> f64 {
    let (sum, n) = values.fold((0.0, 0.0), |(s, n), v| (s + f64::from(v), n + 1.0));
    sum / n
}

/// 75 % bars in BT.601 limited range: white, yellow, cyan, green, magenta,
/// red, blue, black — luma falling bar by bar (180 → 16) and each bar's
/// chroma on its own side of grey (swapped or misplaced planes fail here).
pub fn check_colour_bars(format: &str, bars: &[[f64; 3]; 8]) {
    let show = || format!("{format}: (Y, Cb, Cr) per bar {bars:?}");
    for pair in bars.windows(2) {
        assert!(pair[0][0] - pair[1][0] >= 10.0, "luma order: {}", show());
    }
    let [white, yellow, cyan, green, magenta, red, blue, black] = *bars;
    for grey in [white, black] {
        assert!(
            (grey[1] - 128.0).abs() <= 8.0 && (grey[2] - 128.0).abs() <= 8.0,
            "grey bars: {}",
            show()
        );
    }
    assert!(yellow[1] < 100.0, "yellow: {}", show());
    assert!(cyan[2] < 100.0, "cyan: {}", show());
    assert!(green[1] < 100.0 && green[2] < 100.0, "green: {}", show());
    assert!(
        magenta[1] > 150.0 && magenta[2] > 150.0,
        "magenta: {}",
        show()
    );
    assert!(red[2] > 160.0, "red: {}", show());
    assert!(blue[1] > 160.0, "blue: {}", show());
}

/// vivid writes its status text over the top rows: a picture that is the
/// right way up has it there, not at the bottom (a bottom-up bitmap read
/// top-down would). Counts the pixels in the top and bottom 48 rows whose
/// luma is more than 40 away from their column's value lower down.
pub fn check_upright(format: &str, p: &Picture) {
    let (w, h) = (p.width as usize, p.height as usize);
    let reference = h * 3 / 4;
    let odd = |rows: std::ops::Range<usize>| {
        rows.flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| p.y[y * w + x].abs_diff(p.y[reference * w + x]) > 40)
            .count()
    };
    let (top, bottom) = (odd(0..48), odd(h - 48..h));
    assert!(
        top > 500 && bottom < 50,
        "{format}: vivid's text should be at the top: {top} odd pixels in the top rows, {bottom} in the bottom rows"
    );
}
