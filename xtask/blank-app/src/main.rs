//! A blank Tauri 2 window whose page reports its first paint: the baseline of
//! `cargo xtask bench app` (cold start and idle memory).

use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// The page's first frame is painted; the same line Bedside logs, for the bench to wait on.
#[tauri::command]
fn ui_painted() {
    let ms = STARTED.get().map_or(0, |t| t.elapsed().as_millis());
    eprintln!("first screen painted since_start_ms={ms}");
}

fn main() {
    STARTED.get_or_init(Instant::now);
    if let Err(e) = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ui_painted])
        .run(tauri::generate_context!())
    {
        eprintln!("blank app: {e}");
        std::process::exit(1);
    }
}
