// Generates the message types from the project's own attestation-agent.proto
// with protobuf-codegen-pure (protobuf 2.x), as upstream's crates do.
use std::{env, fs, path::PathBuf};

fn main() {
    let protos = PathBuf::from("../../../Protos");
    let proto = protos.join("attestation-agent/attestation-agent.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    protobuf_codegen_pure::Codegen::new()
        .out_dir(&out)
        .include(&protos)
        .input(&proto)
        .run()
        .expect("protobuf codegen");
    // include!() refuses inner attributes: drop them from the generated file.
    let generated = out.join("attestation_agent.rs");
    let text = fs::read_to_string(&generated).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("#![") && !l.starts_with("//!")).collect();
    fs::write(&generated, kept.join("\n")).unwrap();
}
