//! Fuzz target: token parsing never panics, and no input verifies under a
//! key that signed nothing (a forgery would need the private key).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// An arbitrary 32-byte value trusted as a clinic key: nothing here can sign for it.
const PUBLIC_KEY: [u8; 32] = [
    0xea, 0x4a, 0x6c, 0x63, 0xe2, 0x9c, 0x52, 0x0a, 0xbe, 0xf5, 0x50, 0x7b, 0x13, 0x2e, 0xc5, 0xf9,
    0x95, 0x47, 0x76, 0xae, 0xbe, 0xbe, 0x7b, 0x92, 0x42, 0x1e, 0xea, 0x69, 0x14, 0x46, 0xd2, 0x2c,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = bedside_visit::invite::peek(text);
    for now in [0, 1_800_000_000, u64::MAX] {
        assert!(bedside_visit::invite::verify(text, [PUBLIC_KEY.as_slice()], now).is_err());
    }
});
