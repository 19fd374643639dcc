//! The tickets listing's query string: any bytes are a listing query or a 400 naming the
//! fields, never a panic.
#![no_main]

use boxoffice_tickets::http::ListParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &[u8]| {
    if let Ok(params) = serde_urlencoded::from_bytes::<ListParams>(query) {
        let _ = params.parse();
    }
});
