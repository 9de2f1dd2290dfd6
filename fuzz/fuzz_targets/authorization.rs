//! The `Authorization` / `Cookie` header parser (`BearerSource`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = oauth2_guard::__fuzz::authorization(data);
});
