//! Opens a live capture and counts frames for N seconds, then prints the counters as one
//! JSON line. Used by scripts/bench_xdp.sh and for manual checks:
//!
//!     cargo run -p capture --example live_count -- lo 5 auto
//!
//! Arguments: IFACE [SECONDS=5] [BACKEND=auto|xdp|xdp-driver|xdp-skb|afpacket].
//! Prints `{"ready":true,...}` on stderr once attached, so a script can start traffic.

use std::time::{Duration, Instant};

use capture::live::{BackendChoice, LiveCapture, LiveOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(iface) = args.first() else {
        eprintln!("usage: live_count IFACE [SECONDS] [BACKEND]");
        std::process::exit(2);
    };
    let secs: f64 = match args.get(1).map(|s| s.parse()) {
        None => 5.0,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            eprintln!("SECONDS must be a number");
            std::process::exit(2);
        }
    };
    let backend = match args.get(2).map(String::as_str).unwrap_or("auto") {
        "auto" => BackendChoice::Auto,
        "xdp" => BackendChoice::Xdp,
        "xdp-driver" => BackendChoice::XdpDriver,
        "xdp-skb" => BackendChoice::XdpSkb,
        "afpacket" => BackendChoice::AfPacket,
        other => {
            eprintln!("unknown backend {other:?}");
            std::process::exit(2);
        }
    };
    let mut opts = LiveOptions::new(iface.clone());
    opts.backend = backend;
    let mut cap = match LiveCapture::open(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    for reason in cap.fallbacks() {
        eprintln!("fallback: {reason}");
    }
    eprintln!(
        "{{\"ready\":true,\"backend\":\"{}\",\"fallbacks\":{}}}",
        cap.backend().name(),
        cap.fallbacks().len()
    );
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut frames = 0u64;
    let mut frame_bytes = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let r = cap.poll((end - now).min(Duration::from_millis(100)), &mut |f| {
            frames += 1;
            frame_bytes += u64::from(f.wire_len);
        });
        if let Err(e) = r {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    // Drain what arrived before the deadline.
    while let Ok(n) = cap.poll(Duration::from_millis(20), &mut |f| {
        frames += 1;
        frame_bytes += u64::from(f.wire_len);
    }) {
        if n == 0 {
            break;
        }
    }
    let c = cap.counters();
    println!(
        "{{\"backend\":\"{}\",\"seconds\":{secs},\"packets\":{},\"bytes\":{},\"lost_events\":{},\"delivered\":{},\"frame_bytes\":{frame_bytes},\"frames\":{frames}}}",
        cap.backend().name(),
        c.packets,
        c.bytes,
        c.lost_events,
        c.delivered
    );
}
