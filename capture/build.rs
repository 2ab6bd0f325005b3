//! Compiles the XDP sensor (bpf/xdp_sensor.c) to a BPF object in OUT_DIR when clang is
//! available, and sets `cfg(has_xdp)` so capture::live can embed it. Without clang (or
//! when the compile fails) the crate still builds: the XDP backends then return a clear
//! error and AF_PACKET keeps working. `CLANG` overrides the compiler path.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_xdp)");
    println!("cargo::rerun-if-changed=bpf/xdp_sensor.c");
    println!("cargo::rerun-if-env-changed=CLANG");

    let src = "bpf/xdp_sensor.c";
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::warning=OUT_DIR not set: building capture without XDP");
        return;
    };
    let obj = out_dir.join("xdp_sensor.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    // The multiarch include dir holds asm/types.h, which linux/bpf.h needs.
    let multiarch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => ("arm64", "/usr/include/aarch64-linux-gnu"),
        _ => ("x86", "/usr/include/x86_64-linux-gnu"),
    };
    let result = Command::new(&clang)
        .args(["-O2", "-g", "-target", "bpf"])
        .arg(format!("-D__TARGET_ARCH_{}", multiarch.0))
        .arg(format!("-I{}", multiarch.1))
        .args(["-Wall", "-Werror", "-c", src, "-o"])
        .arg(&obj)
        .output();
    let note = match result {
        Ok(out) if out.status.success() => {
            println!("cargo::rustc-cfg=has_xdp");
            return;
        }
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().next().unwrap_or("").to_string();
            println!("cargo::warning=clang failed to compile {src}; XDP disabled: {first}");
            format!("built without XDP: `{clang}` failed to compile {src} ({first}); fix it and rebuild")
        }
        Err(e) => {
            println!("cargo::warning=clang not found ({e}); building capture without XDP");
            "built without clang: XDP unavailable; install clang and rebuild".to_string()
        }
    };
    println!("cargo::rustc-env=CAPTURE_XDP_BUILD_NOTE={note}");
}
