//! Token parsing and validation (first byte even: a compact token verified
//! against the test kit's keys; odd: a payload signed with HS256 so the claim
//! checks run). See `oauth2_guard::__fuzz::token`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = oauth2_guard::__fuzz::token(data);
});
