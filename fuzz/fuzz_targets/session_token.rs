//! Session token decoding: any text is a session or no session, never a panic; no text
//! that was not signed with the key passes.
#![no_main]

use std::time::Duration;

use boxoffice_platform::Secret;
use boxoffice_platform::http::session::SessionKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|token: &str| {
    let keys = SessionKeys::new(
        &Secret::new("a-fuzzing-key-that-is-at-least-32-characters"),
        Duration::from_secs(3600),
        false,
    );
    assert!(keys.verify(token).is_none(), "a token nobody signed: {token:?}");
});
