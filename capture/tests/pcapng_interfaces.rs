//! pcapng features the public samples lack: several interfaces with different link types
//! and timestamp resolutions in one file, Simple Packet Blocks, a second section.

use capture::{CaptureFile, PacketSource};

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut padded = body.to_vec();
    while padded.len() % 4 != 0 {
        padded.push(0);
    }
    let len = (12 + padded.len()) as u32;
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&padded);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn shb() -> Vec<u8> {
    let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &body)
}

fn idb(link: u16, tsresol: Option<u8>) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&65535u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[r, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    }
    block(1, &body)
}

fn epb(if_id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = if_id.to_le_bytes().to_vec();
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

fn spb(data: &[u8]) -> Vec<u8> {
    let mut body = (data.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(data);
    block(3, &body)
}

/// IPv4 + UDP from 10.0.0.<src> to 10.0.0.9:53.
fn ipv4_udp(src: u8) -> Vec<u8> {
    let mut ip = vec![
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, src, 10, 0, 0, 9,
    ];
    ip.extend_from_slice(&[0x30, 0x39, 0, 53, 0, 8, 0, 0]);
    ip
}

fn ether(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn several_interfaces_resolutions_spb_and_sections() {
    let mut file = shb();
    file.extend(idb(1, None)); // interface 0: Ethernet, microseconds
    file.extend(idb(228, Some(9))); // interface 1: raw IPv4, nanoseconds
    file.extend(epb(0, 1_700_000_000_123_456, &ether(&ipv4_udp(1))));
    file.extend(epb(1, 1_700_000_000_123_456_789, &ipv4_udp(2)));
    file.extend(spb(&ether(&ipv4_udp(3))));
    file.extend(epb(7, 0, &ipv4_udp(4))); // no interface 7: counted, not fatal
                                          // A new section restarts interface numbering: interface 0 is now raw IPv4.
    file.extend(shb());
    file.extend(idb(228, Some(3))); // milliseconds
    file.extend(epb(0, 1_700_000_001_500, &ipv4_udp(5)));

    let mut src = CaptureFile::from_reader("multi.pcapng", std::io::Cursor::new(file), 0).unwrap();
    let mut got = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        got.push(p);
    }
    let srcs: Vec<String> = got.iter().map(|p| p.src.to_string()).collect();
    assert_eq!(srcs, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5"]);
    assert_eq!(got[0].ts_ns, 1_700_000_000_123_456_000, "µs interface");
    assert_eq!(got[1].ts_ns, 1_700_000_000_123_456_789, "ns interface");
    assert_eq!(
        got[2].ts_ns, got[1].ts_ns,
        "SPB carries no time: the last one is used"
    );
    assert_eq!(
        got[3].ts_ns, 1_700_000_001_500_000_000,
        "ms interface of the second section"
    );
    assert!(got.iter().all(|p| p.dst_port == 53 && p.proto == 17));
    let s = src.stats();
    assert_eq!((s.frames, s.decoded, s.skipped_total()), (5, 4, 1));
}
