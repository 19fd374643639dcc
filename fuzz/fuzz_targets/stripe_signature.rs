//! `Stripe-Signature` checking: any header and body, never a panic; a header this side
//! signed for the body always verifies.
#![no_main]

use boxoffice_payments::webhook::{sign, verify};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

const SECRET: &str = "whsec_fuzz";

fuzz_target!(|input: (&str, &[u8])| {
    let (header, body) = input;
    let now = OffsetDateTime::now_utc();
    let _ = verify(SECRET, header, body, now);
    let signed = sign(SECRET, now, body);
    assert!(verify(SECRET, &signed, body, now).is_ok());
});
