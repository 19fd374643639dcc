//! The event envelope as it arrives from the bus: any bytes are an event (possibly
//! `Unknown`) or an error, never a panic.
#![no_main]

use boxoffice_platform::bus::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(bytes) {
        let _ = envelope.event();
    }
});
