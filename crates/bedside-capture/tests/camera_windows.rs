//! The Windows camera backend (DirectShow) against a real driver: the same
//! `vivid` virtual camera as `camera.rs`, seen through Wine's DirectShow
//! (whose video capture filter reads V4L2), inside the camera VM.
//!
//! Two builds of this file meet here. On Linux the test boots the VM and
//! runs the Windows build of this file there under Wine; `cargo xtask test`
//! cross-compiles that build (`xtask/src/wine.rs`) and names it in
//! [`EXE_VAR`]. On Windows, with [`vm::GUEST_VAR`]'s value set, the body
//! talks to the camera through `bedside_capture` exactly as the desktop app
//! does.

#[cfg(windows)]
mod vivid;
#[cfg(target_os = "linux")]
mod vm;

/// The Windows build of this test binary (set by `cargo xtask test`).
#[cfg(target_os = "linux")]
const EXE_VAR: &str = "BEDSIDE_CAMERA_WINE_EXE";

#[cfg(target_os = "linux")]
const TEST: &str = "a_directshow_camera_is_listed_captured_refused_to_a_second_user_and_unplugged";
const DONE: &str = "DirectShow camera checks passed under Wine";

#[cfg(target_os = "linux")]
#[test]
fn a_directshow_camera_is_listed_captured_refused_to_a_second_user_and_unplugged() {
    use std::path::PathBuf;
    use std::time::Duration;

    let skip_or_fail = |why: String| {
        if vm::required() {
            panic!("the Windows camera test cannot run: {why}");
        }
        println!("skipped: {why}");
    };
    let kernel = match vm::kernel() {
        Ok(kernel) => kernel,
        Err(why) => return skip_or_fail(why),
    };
    let Some(exe) = std::env::var_os(EXE_VAR).map(PathBuf::from) else {
        return skip_or_fail(format!("{EXE_VAR} is not set (`cargo xtask test` sets it)"));
    };
    // <target>/camera-vm/wine-prefix, beside the kernel.
    let prefix = std::env::var_os(vm::KERNEL_VAR)
        .map(PathBuf::from)
        .and_then(|k| Some(k.parent()?.join("wine-prefix")))
        .unwrap_or_else(|| std::env::temp_dir().join("bedside-camera-wine-prefix"));
    if let Err(why) = vm::wine_prefix(&prefix) {
        return skip_or_fail(why);
    }
    let run = vm::run_wine_test(
        &kernel,
        &["vivid"],
        &exe,
        &prefix,
        TEST,
        Duration::from_secs(600),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", run.console);
    assert_eq!(run.exit, Some(0), "the test failed under Wine in the VM");
    assert!(
        run.console.contains(DONE),
        "the test under Wine did not run to its end"
    );
}

#[cfg(windows)]
#[test]
fn a_directshow_camera_is_listed_captured_refused_to_a_second_user_and_unplugged() {
    // The VM's init sets this (tests/vm/mod.rs `GUEST_VAR`).
    if std::env::var_os("BEDSIDE_VM_GUEST").is_none() {
        println!("skipped: this runs under Wine in the camera VM (see the Linux build)");
        return;
    }
    under_wine();
}

/// The platform device vivid registers, and its driver's sysfs directory.
#[cfg(windows)]
const VIVID_DEVICE: &str = "vivid.0";
#[cfg(windows)]
const VIVID_DRIVER: &str = "/sys/bus/platform/drivers/vivid";

/// Writes `value` to vivid's `file` in sysfs, through the VM's init (the
/// `vm-sysfs-` requests of `tests/vm/mod.rs`: Wine cannot open sysfs's
/// write-only files), and waits until it is done. `Z:` is the VM's root.
#[cfg(windows)]
fn sysfs_write(file: &str, value: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (part, request) = (format!(r"Z:\tmp\part-{n}"), format!(r"Z:\tmp\vm-sysfs-{n}"));
    std::fs::write(&part, format!("{VIVID_DRIVER}/{file}\n{value}\n")).expect(&part);
    std::fs::rename(&part, &request).expect(&request);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::exists(&request).unwrap_or(false) {
        assert!(Instant::now() < deadline, "the VM did not write {file}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(windows)]
fn under_wine() {
    use std::time::Duration;

    use bedside_capture::camera::cameras;
    use bedside_capture::{Camera, CameraFormat, DeviceKind, DeviceWatcher, Picture};

    let listed = cameras();
    println!("DirectShow lists: {listed:?}");
    // Started after the first listing: Wine's loader deadlocks when two
    // threads load its audio and DirectShow libraries at once (seen here).
    let (watcher, changes) = DeviceWatcher::start(Duration::from_millis(200));
    assert!(!listed.is_empty(), "DirectShow lists no camera");
    let camera = listed[0].clone();
    assert_eq!(camera.kind, DeviceKind::Camera);
    assert!(camera.is_default);
    assert!(camera.id.as_str().starts_with("dshow:"), "{}", camera.id);

    // Wine's capture filter offers packed BGR, bottom-up, at the driver's
    // sizes: the exact size asked for is taken, the picture is turned the
    // right way up and its bars have the right colours in order.
    let mut cam = Camera::open(None, CameraFormat::default()).expect("the default camera");
    assert_eq!(cam.pixel_format(), *b"BGR3");
    assert_eq!(cam.size(), (640, 480));
    let frames: Vec<Picture> = (0..10)
        .map(|i| {
            cam.next_frame()
                .unwrap_or_else(|e| panic!("frame {i}: {e}"))
        })
        .collect();
    for f in &frames {
        assert_eq!((f.width, f.height), (640, 480));
    }
    assert!(
        frames.windows(2).all(|w| w[0].y != w[1].y),
        "two captures were the same picture"
    );
    let last = frames.last().expect("frames");
    vivid::check_upright("DirectShow RGB24", last);
    vivid::check_colour_bars("DirectShow RGB24", &vivid::bars(last));

    // A second user is told the camera is busy; unplugged mid-capture and
    // plugged in again.
    vivid::busy_unplugged_and_back(
        cam,
        &camera.id,
        &changes,
        || sysfs_write("unbind", VIVID_DEVICE),
        || sysfs_write("bind", VIVID_DEVICE),
    );
    drop(watcher);
    println!("{DONE}");
}
