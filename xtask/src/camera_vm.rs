//! The kernel for the camera test (`crates/bedside-capture/tests/camera.rs`): this CI has
//! no camera and its kernel has no media drivers, so the test boots a small VM with
//! Debian's kernel and loads `vivid`, the kernel's own virtual V4L2 camera, and runs
//! Bedside's capture code against that real driver.
//!
//! Here we fetch Debian's current `linux-image-*-amd64` package once (`apt-get download`,
//! no root needed, nothing installed) and unpack only the kernel image and the modules the
//! VM loads ([`MODULE_DIRS`]: the media drivers, and virtio-9p for sharing this machine's
//! files) into `<target>/camera-vm/kernel`. The test reads that directory from
//! [`KERNEL_VAR`], which `cargo xtask test` sets when the kernel is there: then the test
//! must run. Where Debian's kernel package does not exist (Ubuntu), setup says so and the
//! test skips.
//!
//! The Windows camera backend runs in the same VM under Wine (`tests/camera_windows.rs`):
//! [`windows_test`] cross-compiles that test and names it in [`WINE_EXE_VAR`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{Workspace, check, describe, on_path, output, step};

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

/// The module directories unpacked: vivid and what it needs, and virtio-9p (the Windows
/// camera test shares this machine's root with the VM).
const MODULE_DIRS: &[&str] = &[
    "drivers/media",
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
        .ok()
        .and_then(|text| Some(text.lines().next()?.to_owned()))
        .filter(|package| fs::read_to_string(&stamp).ok() == Some(stamp_text(package)));
    if complete.is_some() {
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
        "unpacking the kernel and its media and virtio-9p modules into {}",
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

/// The environment variable that names the Windows build of `tests/camera_windows.rs`.
pub const WINE_EXE_VAR: &str = "BEDSIDE_CAMERA_WINE_EXE";

const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";
const MINGW_CC: &str = "x86_64-w64-mingw32-gcc";
const WINE: &str = "/usr/lib/wine/wine64";

/// Cross-compiles the Windows camera test when the VM can run it (its kernel, Wine and
/// MinGW are here), with Wine's missing `bcryptprimitives.dll` beside it; `None` when it
/// cannot run here (the test then skips, unless the kernel is there: then it fails).
pub fn windows_test(ws: &Workspace) -> Result<Option<PathBuf>> {
    if ready_kernel(ws).is_none() || !Path::new(WINE).is_file() || !on_path(MINGW_CC) {
        return Ok(None);
    }
    let mut cmd = ws.cargo(&[
        "test",
        "--no-run",
        "--quiet",
        "--message-format=json",
        "--target",
        WINDOWS_TARGET,
        "-p",
        "bedside-capture",
        "--test",
        "camera_windows",
    ]);
    step(format!("{} (the Windows camera test)", describe(&cmd)));
    let json = output(&mut cmd)?;
    let exe = json
        .lines()
        .filter(|l| l.contains("\"camera_windows\""))
        .find_map(executable)
        .context("cargo named no camera_windows executable")?;
    // Rust's standard library takes its random numbers from `ProcessPrng`
    // (bcryptprimitives.dll, Windows 10); Wine 8 lacks the DLL, so a shim beside the
    // test asks the system's RNG instead (`RtlGenRandom`).
    let shim = ws
        .root
        .join("crates/bedside-capture/tests/wine/bcryptprimitives.c");
    let dll = exe
        .parent()
        .context("the test executable has no directory")?
        .join("bcryptprimitives.dll");
    check(
        Command::new(MINGW_CC)
            .args(["-O2", "-shared", "-s", "-o"])
            .arg(&dll)
            .arg(&shim)
            .arg("-ladvapi32"),
    )?;
    Ok(Some(exe))
}

/// The `"executable"` of one line of cargo's JSON messages.
fn executable(line: &str) -> Option<PathBuf> {
    let rest = line.split_once("\"executable\":\"")?.1;
    let path = rest.split_once('"')?.0;
    (!path.contains('\\')).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_executable_is_read_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"camera_windows"},"executable":"/t/x86_64-pc-windows-gnu/debug/deps/camera_windows-1a.exe","fresh":true}"#;
        assert_eq!(
            executable(line),
            Some(PathBuf::from(
                "/t/x86_64-pc-windows-gnu/debug/deps/camera_windows-1a.exe"
            ))
        );
        assert_eq!(executable(r#"{"executable":null}"#), None);
        assert_eq!(executable(r#"{"executable":"C:\\x.exe"}"#), None);
    }

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
