//! How the window's web view draws: on the GPU when there is one, on the CPU when there is not.
//!
//! WebKitGTK composites the page with OpenGL by default. On a machine without a GPU — a virtual
//! desktop (VDI), a thin client, a VM, Xvfb — that GL is Mesa's llvmpipe: a software rasteriser
//! that JIT-compiles every shader with LLVM. Measured on the sign-in screen under Xvfb
//! (BENCHMARKS.md, App): the web process held ~185 MiB composited this way, ~106 MiB drawing
//! on the CPU from its start (`WEBKIT_DISABLE_COMPOSITING_MODE=1`) and 112.6 MiB with the
//! policy set here, once the web view exists. So without a GPU render node
//! (`/dev/dri/renderD*`) the window asks WebKit never to use hardware acceleration; with one,
//! WebKit's default stays.
//!
//! Video still paints: the visit room's painter falls back from WebGL to a 2D canvas when WebGL
//! is not offered (`ui/src/lib/video.ts`).

use tauri::Runtime;

/// Where Linux lists DRM devices; a GPU that can render has a `renderD*` node here.
#[cfg(target_os = "linux")]
const DRI: &str = "/dev/dri";

/// Whether `dir` lists a DRM render node (`renderD128`, …).
#[cfg(any(target_os = "linux", test))]
fn has_render_node(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Chooses CPU drawing for the main window's web view when the machine has no GPU.
pub(crate) fn configure<R: Runtime>(app: &tauri::AppHandle<R>) {
    #[cfg(target_os = "linux")]
    {
        use tauri::Manager;

        if has_render_node(std::path::Path::new(DRI)) {
            tracing::info!("web view: GPU compositing (a DRM render node is present)");
            return;
        }
        let Some(window) = app.get_webview_window("main") else {
            return;
        };
        let set = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = webview.inner().settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        match set {
            Ok(()) => tracing::info!("web view: CPU drawing (no GPU render node)"),
            Err(error) => tracing::warn!(%error, "web view: could not choose CPU drawing"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_node_means_a_gpu() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!has_render_node(dir.path()), "an empty /dev/dri");
        assert!(!has_render_node(&dir.path().join("missing")), "no /dev/dri");
        std::fs::write(dir.path().join("card0"), b"").expect("card0");
        assert!(!has_render_node(dir.path()), "a display-only card");
        std::fs::write(dir.path().join("renderD128"), b"").expect("renderD128");
        assert!(has_render_node(dir.path()));
    }
}
