//! Embeds the Tauri config.

fn main() {
    tauri_build::build();
}
