//! Fuzz target: extracting the DTLS fingerprint and ICE ufrag from any SDP
//! text never panics, and what it finds is normalised.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(id) = bedside_visit::auth::sdp_identity(&text) {
        assert!(!id.ufrag.is_empty());
        assert_eq!(id.fingerprint, id.fingerprint.trim());
    }
});
