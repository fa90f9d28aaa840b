//! A throwaway VM that runs one test of the current test binary under a real
//! kernel, with kernel modules this machine cannot load (its kernel has no
//! media drivers and no module loading).
//!
//! The VM boots Debian's kernel (unpacked by `cargo xtask setup --for test`,
//! see `xtask/src/camera_vm.rs`) from an initramfs written here: busybox as
//! the userland, the requested modules with everything they depend on
//! (read from each module's `depends=`), and this test binary with the
//! shared libraries `ldd` names. `/init` loads the modules, runs the one
//! test with [`GUEST_VAR`] set, prints [`EXIT_MARK`] and its exit code, and
//! powers off. The serial console is the VM's stdout.
//!
//! [`run_wine_test`] runs a Windows test binary there instead, under Wine:
//! the initramfs then holds only busybox and the modules, and the VM mounts
//! this machine's root (read-only) and a Wine prefix over virtio-9p.

// Shared by `camera.rs` (the test binary inside the VM) and `camera_windows.rs`
// (a Windows build under Wine there): each uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set inside the VM: the test body runs there.
pub const GUEST_VAR: &str = "BEDSIDE_VM_GUEST";
/// The line `/init` prints after the test, followed by its exit code.
pub const EXIT_MARK: &str = "BEDSIDE-VM-EXIT";
/// Where `cargo xtask test` says the kernel is (`xtask/src/camera_vm.rs`).
pub const KERNEL_VAR: &str = "BEDSIDE_CAMERA_VM_KERNEL";

/// Whether this process is the test inside the VM.
pub fn is_guest() -> bool {
    std::env::var_os(GUEST_VAR).is_some()
}

/// A kernel image and its module tree.
#[derive(Debug)]
pub struct Kernel {
    vmlinuz: PathBuf,
    /// `lib/modules/<version>/kernel`.
    modules: PathBuf,
}

/// The kernel the xtask unpacked, or why there is none. When `cargo xtask
/// test` found the kernel ([`KERNEL_VAR`] set), a missing kernel or VM is a
/// failure; otherwise (a plain `cargo test` before setup, or no Debian kernel
/// package on this system) it is a skip.
pub fn kernel() -> Result<Kernel, String> {
    let dir = std::env::var_os(KERNEL_VAR)
        .map(PathBuf::from)
        .or_else(|| {
            // <target>/debug/deps/camera-<hash> → <target>/camera-vm/kernel
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.join("camera-vm/kernel"))
        })
        .ok_or("no kernel directory")?;
    if !dir.join(".complete").is_file() {
        return Err(format!(
            "no VM kernel in {} (`cargo xtask setup --for test` fetches it)",
            dir.display()
        ));
    }
    let vmlinuz = only_entry(&dir.join("boot"), "vmlinuz-")?;
    let modules = only_entry(&dir.join("lib/modules"), "")?.join("kernel");
    if !Path::new(QEMU).is_file() {
        return Err(format!("{QEMU} is missing (Debian: qemu-system-x86)"));
    }
    if !Path::new(BUSYBOX).is_file() {
        return Err(format!("{BUSYBOX} is missing (Debian: busybox-static)"));
    }
    Ok(Kernel { vmlinuz, modules })
}

/// Whether a missing kernel or VM must fail the test ([`KERNEL_VAR`] is set).
pub fn required() -> bool {
    std::env::var_os(KERNEL_VAR).is_some()
}

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const BUSYBOX: &str = "/bin/busybox";

fn only_entry(dir: &Path, prefix: &str) -> Result<PathBuf, String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    read.filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .ok_or_else(|| format!("nothing named {prefix}* in {}", dir.display()))
}

/// What the VM printed, and the guest test's exit code if it got that far.
#[derive(Debug)]
pub struct Run {
    /// The serial console.
    pub console: String,
    /// The test binary's exit code inside the VM.
    pub exit: Option<i32>,
}

/// Boots `kernel` with `modules` (names as the kernel spells them, e.g.
/// `vivid`) loaded with their dependencies, and runs `test` of this binary
/// inside. Gives up after `timeout`.
pub fn run_test(
    kernel: &Kernel,
    modules: &[&str],
    test: &str,
    timeout: Duration,
) -> Result<Run, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cpio = Cpio::with_userland()?;
    cpio.file("bin/guest", &read(&exe)?, 0o755);
    for lib in shared_libraries(&exe)? {
        let inside = lib.to_string_lossy().trim_start_matches('/').to_owned();
        for parent in Path::new(&inside).ancestors().skip(1) {
            if !parent.as_os_str().is_empty() {
                cpio.dir(&parent.to_string_lossy());
            }
        }
        cpio.file(&inside, &read(&lib)?, 0o755);
    }
    // Loopback up: a test may make a call on 127.0.0.1.
    let command = format!(
        "/bin/busybox ip link set lo up\n\
         export {GUEST_VAR}=1 RUST_BACKTRACE=1 HOME=/tmp PATH=/bin\n\
         /bin/guest --exact {test} --nocapture --test-threads=1\n"
    );
    boot(kernel, modules, cpio, &command, &[], 1024, timeout)
}

/// The host half of a test whose body runs in the VM: boots it with
/// `modules`, runs `test` of this binary there, and asserts it passed and
/// printed `done` (libtest also exits 0 when no test matched). Without a
/// kernel it prints why and returns, unless `cargo xtask test` required one.
pub fn run_guest_test(modules: &[&str], test: &str, done: &str) {
    let kernel = match kernel() {
        Ok(kernel) => kernel,
        Err(why) if !required() => {
            println!("skipped: {why}");
            return;
        }
        Err(why) => panic!("the camera VM cannot run: {why}"),
    };
    let run = run_test(&kernel, modules, test, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run.exit,
        Some(0),
        "the test failed inside the VM:\n{}",
        run.console
    );
    println!("{}", run.console);
    assert!(
        run.console.contains(done),
        "the VM's test did not run to its end:\n{}",
        run.console
    );
}

/// A file `/tmp/<SYSFS_REQUEST>…` holding a sysfs path and a value, one a
/// line, asks the VM to write that value there (Wine cannot open sysfs's
/// write-only files); the file is removed once done. Only `/sys/` paths.
pub const SYSFS_REQUEST: &str = "vm-sysfs-";

/// Wine's 64-bit loader (Debian: wine64).
pub const WINE: &str = "/usr/lib/wine/wine64";

/// Boots `kernel` with `modules` and runs `test` of the Windows test binary
/// `exe` under Wine inside: this machine's root is shared read-only (Wine,
/// its libraries and `exe` come from there), `prefix` (a Wine prefix made
/// on this machine, see [`wine_prefix`]) read-write, and the test runs
/// chrooted into that root with the guest's own `/dev`, `/proc`, `/sys`
/// and `/tmp` mounted over it — so Wine sees the VM's cameras.
pub fn run_wine_test(
    kernel: &Kernel,
    modules: &[&str],
    exe: &Path,
    prefix: &Path,
    test: &str,
    timeout: Duration,
) -> Result<Run, String> {
    let mut wanted = modules.to_vec();
    wanted.extend(["virtio_pci", "9pnet_virtio", "9p"]);
    let mut cpio = Cpio::with_userland()?;
    cpio.dir("host");
    let shares = [("root", Path::new("/"), true), ("prefix", prefix, false)];
    let (exe, prefix) = (quote(exe)?, quote(prefix)?);
    // Wine's own diagnostics stay off unless asked for (`BEDSIDE_WINEDEBUG=err+all`).
    let debug = std::env::var("BEDSIDE_WINEDEBUG")
        .ok()
        .filter(|d| {
            d.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-,_".contains(c))
        })
        .unwrap_or_else(|| "-all".into());
    let command = format!(
        "M=/bin/busybox\n\
         $M mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 root /host || echo 'mounting the root failed'\n\
         for d in dev proc sys; do $M mount -o bind /$d /host/$d; done\n\
         $M mount -t tmpfs tmp /host/tmp\n\
         ( while :; do for r in /host/tmp/{SYSFS_REQUEST}*; do [ -f \"$r\" ] || continue; \
             {{ read p; read v; }} < \"$r\"; case \"$p\" in /sys/*) echo \"$v\" > \"$p\";; esac; \
             $M rm -f \"$r\"; done; $M usleep 50000; done ) &\n\
         $M mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=524288 prefix /host{prefix} || echo 'mounting the prefix failed'\n\
         $M chroot /host /usr/bin/env -i {GUEST_VAR}=1 RUST_BACKTRACE=1 HOME=/tmp PATH=/usr/bin:/bin \\\n\
           WINEPREFIX={prefix} WINEDEBUG={debug} {WINE} {exe} --exact {test} --nocapture --test-threads=1\n"
    );
    boot(kernel, &wanted, cpio, &command, &shares, 2048, timeout)
}

/// `path` for the init script, or why it cannot go there.
fn quote(path: &Path) -> Result<String, String> {
    let s = path.to_str().ok_or("a path that is not UTF-8")?;
    if s.contains(['\'', '\n']) || !s.starts_with('/') {
        return Err(format!("{s}: not a plain absolute path"));
    }
    Ok(format!("'{s}'"))
}

/// Makes a Wine prefix in `dir` (once: `wineboot` takes ~10 s here, far
/// longer emulated) for [`run_wine_test`] or a test that runs Wine here.
pub fn wine_prefix(dir: &Path) -> Result<(), String> {
    let ready = dir.join(".bedside-ready");
    if ready.is_file() {
        return Ok(());
    }
    if !Path::new(WINE).is_file() {
        return Err(format!("{WINE} is missing (Debian: wine64)"));
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = Command::new(WINE)
        .args(["wineboot", "--init"])
        .env("WINEPREFIX", dir)
        .env("WINEDEBUG", "-all")
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{WINE}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "wineboot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(&ready, b"").map_err(|e| e.to_string())
}

/// Boots `kernel` with an initramfs of `cpio`'s files (made by
/// [`Cpio::with_userland`]) and `modules` (with their dependencies); `/init` mounts the usual file systems,
/// loads the modules, runs `command` (shell), prints [`EXIT_MARK`] and the
/// exit code, and powers off. `shares` are host directories exported over
/// virtio-9p by tag.
fn boot(
    kernel: &Kernel,
    modules: &[&str],
    mut cpio: Cpio,
    command: &str,
    shares: &[(&str, &Path, bool)],
    memory_mb: u32,
    timeout: Duration,
) -> Result<Run, String> {
    let index = module_index(&kernel.modules)?;
    let order = load_order(&index, modules)?;
    let mut insmod = String::new();
    for name in &order {
        let file = format!("lib/modules/{name}.ko");
        cpio.file(&file, &read(&index[name.as_str()].path)?, 0o644);
        insmod.push_str(&format!(
            "/bin/busybox insmod /{file} || echo 'insmod {name} failed'\n"
        ));
    }
    let init = format!(
        "#!/bin/busybox sh\n\
         /bin/busybox mount -t proc proc /proc\n\
         /bin/busybox mount -t sysfs sys /sys\n\
         /bin/busybox mount -t devtmpfs dev /dev\n\
         /bin/busybox mount -t tmpfs tmp /tmp\n\
         {insmod}\
         {command}\
         echo \"{EXIT_MARK} $?\"\n\
         /bin/busybox poweroff -f\n"
    );
    cpio.file("init", init.as_bytes(), 0o755);

    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let initrd = work.path().join("initramfs.cpio");
    std::fs::write(&initrd, cpio.finish()).map_err(|e| e.to_string())?;

    let mut qemu = Command::new(QEMU);
    qemu.arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet loglevel=3"])
        .args(["-m", &memory_mb.to_string(), "-smp", "2"])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-serial", "stdio", "-monitor", "none"])
        // Emulated, not KVM: this machine is itself a VM, and nested KVM
        // fails here (`-cpu host`: qemu aborts setting MSR 0x10a; without
        // that MSR the guest spins in the host kernel and never prints).
        // The kernel boots in ~3 s emulated. SMAP off: qemu 7.2's emulated
        // IRETQ from user mode faults under it, which Wine's system call
        // return does (the guest kernel oopses in wineboot).
        .args(["-accel", "tcg", "-cpu", "max,smap=off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (tag, path, readonly) in shares {
        let path = path.to_str().ok_or("a share path that is not UTF-8")?;
        if path.contains(',') {
            return Err(format!("{path}: qemu cannot share a path with a comma"));
        }
        let ro = if *readonly { ",readonly=on" } else { "" };
        qemu.arg("-virtfs").arg(format!(
            "local,path={path},mount_tag={tag},security_model=none,multidevs=remap{ro}"
        ));
    }
    let mut child = qemu.spawn().map_err(|e| format!("{QEMU}: {e}"))?;
    // Both pipes drain while qemu runs: a full pipe would stall it.
    let stdout = drain(child.stdout.take().ok_or("qemu's stdout")?);
    let stderr = drain(child.stderr.take().ok_or("qemu's stderr")?);
    let status = wait_or_kill(&mut child, timeout)?;
    let console = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).replace('\r', "");
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if status.is_none() {
        return Err(format!(
            "the VM did not finish within {timeout:?}\n--- console ---\n{console}"
        ));
    }
    let exit = console
        .lines()
        .find_map(|l| l.trim().strip_prefix(EXIT_MARK))
        .and_then(|code| code.trim().parse().ok());
    if exit.is_none() && !stderr.trim().is_empty() {
        return Err(format!(
            "qemu: {}\n--- console ---\n{console}",
            stderr.trim()
        ));
    }
    Ok(Run { console, exit })
}

/// `child`'s exit status, or `None` (and the child killed) after `timeout`.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Result<Option<std::process::ExitStatus>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Some(st));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads `pipe` to its end on a thread of its own.
pub fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The shared libraries (and the dynamic loader) `exe` needs, by `ldd`.
fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x…)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// A kernel module file and the modules it needs.
#[derive(Debug)]
struct Module {
    path: PathBuf,
    depends: Vec<String>,
}

/// Every `*.ko` under `dir`, by module name (`-` spelled `_`, as the kernel does).
fn module_index(dir: &Path) -> Result<BTreeMap<String, Module>, String> {
    let mut index = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ko"))
            else {
                continue;
            };
            let depends = module_depends(&read(&path)?);
            index.insert(name.replace('-', "_"), Module { path, depends });
        }
    }
    Ok(index)
}

/// The `depends=` entry of a module's `.modinfo` (NUL-separated `key=value`).
fn module_depends(ko: &[u8]) -> Vec<String> {
    ko.split(|&b| b == 0)
        .find_map(|field| field.strip_prefix(b"depends="))
        .map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .filter(|m| !m.is_empty())
                .map(|m| m.replace('-', "_"))
                .collect()
        })
        .unwrap_or_default()
}

/// `wanted` and their dependencies, each after what it needs.
fn load_order(index: &BTreeMap<String, Module>, wanted: &[&str]) -> Result<Vec<String>, String> {
    fn visit(
        index: &BTreeMap<String, Module>,
        name: &str,
        out: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), String> {
        if out.iter().any(|n| n == name) {
            return Ok(());
        }
        if depth > 32 {
            return Err(format!("module dependencies too deep at {name}"));
        }
        let module = index
            .get(name)
            .ok_or_else(|| format!("module {name} is not among the unpacked kernel modules"))?;
        for dep in &module.depends {
            visit(index, dep, out, depth + 1)?;
        }
        out.push(name.to_owned());
        Ok(())
    }
    let mut out = Vec::new();
    for name in wanted {
        visit(index, name, &mut out, 0)?;
    }
    Ok(out)
}

/// An initramfs: a `newc` cpio archive (what the kernel unpacks at boot).
#[derive(Default)]
struct Cpio {
    out: Vec<u8>,
    dirs: Vec<String>,
    next_inode: u32,
}

impl Cpio {
    /// The directories `/init` uses and busybox (an archive lists a
    /// directory before what it holds).
    fn with_userland() -> Result<Self, String> {
        let mut cpio = Self::default();
        for dir in ["bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"] {
            cpio.dir(dir);
        }
        cpio.file("bin/busybox", &read(Path::new(BUSYBOX))?, 0o755);
        Ok(cpio)
    }

    fn dir(&mut self, path: &str) {
        if self.dirs.iter().any(|d| d == path) {
            return;
        }
        self.dirs.push(path.to_owned());
        self.entry(path, 0o040_755, &[]);
    }

    fn file(&mut self, path: &str, data: &[u8], mode: u32) {
        self.entry(path, 0o100_000 | mode, data);
    }

    fn entry(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.next_inode += 1;
        let name_len = path.len() + 1;
        let fields = [
            self.next_inode,
            mode,
            0, // uid
            0, // gid
            1, // nlink
            0, // mtime
            u32::try_from(data.len()).unwrap_or(u32::MAX),
            0, // devmajor
            0, // devminor
            0, // rdevmajor
            0, // rdevminor
            u32::try_from(name_len).unwrap_or(u32::MAX),
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(path.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}

#[test]
fn module_dependencies_load_first() {
    fn module(depends: &[&str]) -> Module {
        Module {
            path: PathBuf::new(),
            depends: depends.iter().map(|d| (*d).to_owned()).collect(),
        }
    }
    let modinfo = b"\0license=GPL\0depends=videobuf2-v4l2,mc\0intree=Y\0";
    assert_eq!(module_depends(modinfo), ["videobuf2_v4l2", "mc"]);
    assert!(module_depends(b"\0depends=\0").is_empty());
    let index = BTreeMap::from([
        ("vivid".to_owned(), module(&["videobuf2_v4l2", "mc"])),
        ("videobuf2_v4l2".to_owned(), module(&["mc"])),
        ("mc".to_owned(), module(&[])),
    ]);
    assert_eq!(
        load_order(&index, &["vivid"]).expect("vivid and its dependencies"),
        ["mc", "videobuf2_v4l2", "vivid"]
    );
    assert!(load_order(&index, &["uvcvideo"]).is_err());
}

#[test]
fn the_initramfs_is_a_newc_archive() {
    let mut cpio = Cpio::default();
    cpio.dir("bin");
    cpio.dir("bin");
    cpio.file("bin/x", b"abc", 0o755);
    let out = cpio.finish();
    assert_eq!(out.len() % 4, 0);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(
        text.matches("070701").count(),
        3,
        "one `bin`, `bin/x`, the trailer"
    );
    assert!(text.contains("bin/x\0"));
    assert!(text.contains("abc"));
    assert!(text.contains("TRAILER!!!"));
    // The first header's mode field (after magic and inode) says "directory".
    assert_eq!(&out[14..22], b"000041ed");
}
