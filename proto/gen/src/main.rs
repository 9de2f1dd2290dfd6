//! Writes `proto/orders.rs` (see `Cargo.toml`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempdir(&proto)?;
    let fds = protox::compile([proto.join("orders.proto")], [&proto])?;
    tonic_prost_build::configure()
        .out_dir(&out)
        .build_transport(false)
        .compile_fds(fds)?;
    let generated = std::fs::read_to_string(out.join("shop.v1.rs"))?;
    let header = "// @generated from proto/orders.proto by proto/gen (protox + tonic-prost-build).\n\
// Do not edit: run `cargo run --manifest-path proto/gen/Cargo.toml`.\n";
    std::fs::write(proto.join("orders.rs"), format!("{header}{generated}"))?;
    std::fs::remove_dir_all(&out)?;
    Ok(())
}

fn tempdir(base: &std::path::Path) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("orders-proto-gen-{}", std::process::id()));
    let _ = base;
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
