//! DPoP proof parsing and checks: raw proofs, and signed proofs with
//! arbitrary claims or headers.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = oauth2_guard::__fuzz::dpop_proof(data);
});
