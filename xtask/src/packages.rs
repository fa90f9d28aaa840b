//! The system packages Bedside needs, by purpose: one place to extend.

/// Debian/Ubuntu packages needed to build and run the desktop app (Tauri 2 on WebKitGTK).
pub const RUN: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libssl-dev",
    "pkg-config",
    "patchelf",
    "build-essential",
    "file",
    "libxdo-dev",
    // ALSA's headers and pkg-config file: cpal (crates/bedside-capture) links libasound.
    "libasound2-dev",
];

/// Packages needed on top of [`RUN`] by the tests: WebDriver, a headless display, a real
/// Secret Service, Chromium, Firefox ESR and WebKitGTK's MiniBrowser (driven through
/// WebKitWebDriver from `webkit2gtk-driver`) as the patient browsers, a TURN server, the
/// media codecs, `ip` for the network-namespace tests (a dropped patient network, the
/// Firefox call), the C compilers for the macOS and Windows compile checks (`cross.rs`), and
/// for the device tests a private PulseAudio server (`pulseaudio`, `pactl`/`parec` from
/// `pulseaudio-utils`) and ALSA's `pulse` plugin (`libasound2-plugins`), and for the camera
/// tests a VM (`qemu-system-x86`, with `busybox-static` as its userland; see `camera_vm.rs`),
/// and `wine64` to run the Windows builds of the camera and audio tests (`wine.rs`).
pub const TEST: &[&str] = &[
    "webkit2gtk-driver",
    // MiniBrowser: /usr/lib/<triplet>/webkit2gtk-4.1/MiniBrowser (tests/tests/webkit.rs).
    "libwebkit2gtk-4.1-0",
    "xvfb",
    "xauth",
    "gnome-keyring",
    "dbus-x11",
    "libsecret-tools",
    "keyutils",
    "chromium",
    "firefox-esr",
    "coturn",
    "libvpx-dev",
    "libopus-dev",
    "cmake",
    "nasm",
    "dbus",
    "iproute2",
    "gcc-mingw-w64-x86-64",
    "clang",
    "pulseaudio",
    "pulseaudio-utils",
    "libasound2-plugins",
    "qemu-system-x86",
    "busybox-static",
    "wine64",
];

/// Packages that provide Node.js and npm, installed only when `node` or `npm` is not on PATH.
pub const NODE: &[(&str, &str)] = &[("node", "nodejs"), ("npm", "npm")];
