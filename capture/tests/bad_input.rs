//! Truncated, corrupt and foreign files: every complete packet is delivered, then one
//! clear error naming the file and the byte offset. Never a panic.

mod common;

use capture::{CaptureError, CaptureFile, PacketSource};
use common::*;

/// Reads until the end or the first error; returns (packets, error).
fn drain(path: &std::path::Path) -> (u64, Option<CaptureError>) {
    let mut src = match CaptureFile::open(path) {
        Ok(s) => s,
        Err(e) => return (0, Some(e)),
    };
    let mut n = 0;
    loop {
        match src.next_packet() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return (n, None),
            Err(e) => return (n, Some(e)),
        }
    }
}

fn sample(name: &str) -> Option<Vec<u8>> {
    let dir = public_dir()?;
    Some(std::fs::read(dir.join(name)).expect("sample readable"))
}

#[test]
fn truncated_pcap_yields_complete_packets_then_names_the_offset() {
    let Some(bytes) = sample("ppa/portscan.pcap") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.pcap");
    // Walk the record boundaries to know exactly how many packets are complete.
    let mut bounds = vec![24usize];
    while let Some(&at) = bounds.last() {
        if at + 16 > bytes.len() {
            break;
        }
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        bounds.push(at + 16 + caplen);
    }
    let full = bounds.len() as u64 - 1;
    assert_eq!(full, 29);
    for cut in [bytes.len() - 1, bounds[10] + 7, bounds[3] + 20, 30] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (n, err) = drain(&path);
        let complete = bounds.iter().filter(|&&b| b <= cut).count() as u64 - 1;
        assert_eq!(n, complete, "cut at {cut}");
        match err {
            Some(CaptureError::Truncated {
                offset,
                packets,
                ref path,
            }) => {
                assert_eq!(offset as usize, bounds[complete as usize], "cut at {cut}");
                assert_eq!(packets, complete);
                assert!(path.ends_with("cut.pcap"));
            }
            other => panic!("cut at {cut}: expected Truncated, got {other:?}"),
        }
    }
}

#[test]
fn truncated_pcapng_is_reported_with_offset() {
    let Some(bytes) = sample("chrissanders/synscan.pcapng") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.pcapng");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (n, err) = drain(&path);
    assert!(n > 100, "the first half decodes");
    let err = err.expect("an error at the cut");
    assert!(err.is_partial());
    let msg = err.to_string();
    assert!(
        msg.contains("cut.pcapng") && msg.contains("byte offset"),
        "{msg}"
    );
}

#[test]
fn corrupt_record_length_is_a_clear_error_after_good_packets() {
    let Some(mut bytes) = sample("ppa/portscan.pcap") else {
        return;
    };
    // Record 3's caplen becomes 3 GB.
    let mut at = 24;
    for _ in 0..3 {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    bytes[at + 8..at + 12].copy_from_slice(&3_000_000_000u32.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("corrupt.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let (n, err) = drain(&path);
    assert_eq!(n, 3);
    let msg = err.expect("error").to_string();
    assert!(
        msg.contains("corrupt.pcap") && msg.contains(&format!("offset {at}")),
        "{msg}"
    );
}

#[test]
fn foreign_and_empty_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(drain(&empty).1, Some(CaptureError::Empty { .. })));
    let text = tmp.path().join("notes.pcap");
    std::fs::write(&text, b"this is not a capture file at all, just text").unwrap();
    let msg = drain(&text).1.expect("error").to_string();
    assert!(
        msg.contains("notes.pcap") && msg.contains("not a pcap"),
        "{msg}"
    );
    let missing = tmp.path().join("missing.pcap");
    assert!(matches!(drain(&missing).1, Some(CaptureError::Open { .. })));
}

#[test]
fn unsupported_link_type_is_a_clear_error() {
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&147u32.to_le_bytes()); // DLT_USER0
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("user0.pcap");
    std::fs::write(&path, &hdr).unwrap();
    let msg = drain(&path).1.expect("error").to_string();
    assert!(msg.contains("user0.pcap") && msg.contains("147"), "{msg}");
}

#[test]
fn random_bytes_after_a_valid_header_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("noise.pcap");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200 {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&[
            2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
        ]);
        for _ in 0..(round * 13 % 700) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(state as u8);
        }
        std::fs::write(&path, &bytes).unwrap();
        let _ = drain(&path);
    }
}

/// Regression (found by fuzz/capture_file): a pcapng Process Information Block with a
/// length field below 12 made pcap-parser 0.17 underflow and panic.
#[test]
fn regression_pcapng_block_shorter_than_its_header_is_corrupt_not_a_panic() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz-pcapng-short-block-len.pcapng");
    let (_, err) = drain(&path);
    let msg = err.expect("an error").to_string();
    assert!(msg.contains("below the 12-byte minimum"), "{msg}");
}
