//! The kernel for the camera test (`crates/bedside-capture/tests/camera.rs`): this CI has
//! no camera and its kernel has no media drivers, so the test boots a small VM with
//! Debian's kernel and loads `vivid`, the kernel's own virtual V4L2 camera, and runs
//! Bedside's capture code against that real driver.
//!
//! Here we fetch Debian's current `linux-image-*-amd64` package once (`apt-get download`,
//! no root needed, nothing installed) and unpack only the kernel image and the modules the
//! VM loads ([`MODULE_DIRS`]: the media drivers, USB and USB/IP for the USB camera test,
//! and virtio-9p for sharing this machine's files) into `<target>/camera-vm/kernel`. The
//! test reads that directory from [`KERNEL_VAR`], which `cargo xtask test` sets when the
//! kernel is there: then the test must run. Where Debian's kernel package does not exist (Ubuntu), setup says so and the
//! test skips.
//!
//! The same VM runs a USB camera through the real `uvcvideo` driver on a virtual USB port
//! (`tests/camera_uvc.rs`), and the Windows camera backend under Wine
//! (`tests/camera_windows.rs`, built by `wine.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{Workspace, check, output, step};

/// The environment variable that hands the test the unpacked kernel (and, being set,
/// makes the test fail rather than skip when the VM cannot run).
pub const KERNEL_VAR: &str = "BEDSIDE_CAMERA_VM_KERNEL";

/// Debian's metapackage that always depends on the current kernel.
const META: &str = "linux-image-amd64";

/// `<target>/camera-vm/kernel`, where the kernel is unpacked.
pub fn kernel_dir(ws: &Workspace) -> PathBuf {
    ws.target_dir().join("camera-vm/kernel")
}

/// The unpacked kernel, if it is complete.
pub fn ready_kernel(ws: &Workspace) -> Option<PathBuf> {
    let dir = kernel_dir(ws);
    dir.join(STAMP).is_file().then_some(dir)
}

/// The file that marks a complete unpack (it holds the package and [`MODULE_DIRS`]).
const STAMP: &str = ".complete";

/// The module directories unpacked: vivid, uvcvideo and what they need; USB core and
/// USB/IP's virtual host controller (the USB camera test, `tests/camera_uvc.rs`); and
/// virtio-9p (the Windows camera test shares this machine's root with the VM).
const MODULE_DIRS: &[&str] = &[
    "drivers/media",
    "drivers/usb/common",
    "drivers/usb/core",
    "drivers/usb/usbip",
    "drivers/virtio",
    "fs/9p",
    "fs/netfs",
    "fs/fscache",
    "net/9p",
];

fn stamp_text(package: &str) -> String {
    format!("{package}\n{}\n", MODULE_DIRS.join("\n"))
}

/// Fetches and unpacks the kernel unless it is already there.
pub fn ensure(ws: &Workspace) -> Result<()> {
    let dir = kernel_dir(ws);
    let stamp = dir.join(STAMP);
    // An unpack from before a module directory was added is redone.
    let complete = fs::read_to_string(&stamp)
        .is_ok_and(|text| text.lines().next().is_some_and(|p| text == stamp_text(p)));
    if complete {
        step(format!("camera VM kernel: {}", dir.display()));
        return Ok(());
    }
    if !cfg!(target_arch = "x86_64") {
        step("camera VM kernel: not x86_64, the camera test will be skipped");
        return Ok(());
    }
    let Some(package) = current_kernel_package() else {
        // Not Debian (Ubuntu's kernels split their modules into other packages and
        // compress them): the test skips unless a kernel is put there by hand.
        step(format!(
            "camera VM kernel: no Debian `{META}` package here, so the camera test will be \
             skipped; to run it, put a kernel with the vivid module (`boot/vmlinuz-*` and \
             uncompressed `lib/modules/*/kernel/drivers/media`) into {} and create the file \
             .complete there",
            dir.display()
        ));
        return Ok(());
    };
    let download = dir.with_file_name("download");
    let _ = fs::remove_dir_all(&download);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&download)?;
    fs::create_dir_all(&dir)?;
    step(format!(
        "apt-get download {package} (the camera test's VM kernel)"
    ));
    check(
        Command::new("apt-get")
            .args(["download", &package])
            .current_dir(&download),
    )?;
    let deb = fs::read_dir(&download)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download left no .deb")?;
    unpack(&deb, &dir)?;
    fs::remove_dir_all(&download)?;
    fs::write(&stamp, stamp_text(&package))?;
    Ok(())
}

/// `linux-image-<version>-amd64`, the package [`META`] depends on, if apt knows it.
fn current_kernel_package() -> Option<String> {
    let deps = output(Command::new("apt-cache").args(["depends", META])).ok()?;
    parse_kernel_package(&deps)
}

fn parse_kernel_package(apt_cache_depends: &str) -> Option<String> {
    apt_cache_depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && *p != META)
        .map(str::to_owned)
}

/// Unpacks the kernel image and [`MODULE_DIRS`] from `deb`.
fn unpack(deb: &Path, into: &Path) -> Result<()> {
    step(format!(
        "unpacking the kernel and its media, USB and virtio-9p modules into {}",
        into.display()
    ));
    let wanted: Vec<String> = MODULE_DIRS
        .iter()
        .map(|d| format!("./lib/modules/*/kernel/{d}"))
        .collect();
    let mut fsys = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not run dpkg-deb")?;
    let tar_in = fsys.stdout.take().context("dpkg-deb's stdout")?;
    let st = Command::new("tar")
        .args(["-x", "--wildcards", "-C"])
        .arg(into)
        .arg("./boot/vmlinuz-*")
        .args(&wanted)
        .stdin(tar_in)
        .status()
        .context("could not run tar")?;
    let fsys_st = fsys.wait()?;
    if !st.success() || !fsys_st.success() {
        bail!(
            "unpacking {} failed (tar: {st}, dpkg-deb: {fsys_st})",
            deb.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versioned_kernel_is_found_among_the_metapackage_dependencies() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-48-amd64\n";
        assert_eq!(
            parse_kernel_package(out).as_deref(),
            Some("linux-image-6.1.0-48-amd64")
        );
        assert_eq!(parse_kernel_package("linux-image-amd64\n"), None);
        assert_eq!(
            parse_kernel_package("x\n  Depends: linux-image-amd64\n  Depends: dkms\n"),
            None
        );
    }
}
