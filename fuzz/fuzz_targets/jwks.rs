//! JWK Set parsing, lookups, and the refresh re-parse.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = oauth2_guard::__fuzz::jwks(data);
});
