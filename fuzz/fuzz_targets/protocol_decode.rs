//! Fuzz target: the protocol decoder must never panic, whatever the bytes,
//! and what it accepts must encode and decode back to the same message.
#![no_main]

use bedside_protocol::{
    ClinicianToRelay, PatientToRelay, RelayToClinician, RelayToPatient, decode, encode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode::<PatientToRelay>(data) {
        assert_eq!(decode::<PatientToRelay>(encode(&m).as_bytes()), Ok(m));
    }
    if let Ok(m) = decode::<ClinicianToRelay>(data) {
        assert_eq!(decode::<ClinicianToRelay>(encode(&m).as_bytes()), Ok(m));
    }
    let _ = decode::<RelayToPatient>(data);
    let _ = decode::<RelayToClinician>(data);
});
