//! `decode_frame` (fast path for plain IPv4 TCP/UDP, etherparse for the rest) against
//! `decode_frame_etherparse` (etherparse for everything) on every frame of the public
//! captures, and on cut and corrupted copies of them: the two must agree exactly
//! (record, notes, skip reason).

mod common;

use std::fs::File;

use capture::decode::decode_frame_etherparse;
use capture::{decode_frame, LinkType};
use common::*;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{PcapBlockOwned, PcapError};

/// Every link type the decoder knows.
const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
];

/// Calls `f(link, wire_len, bytes)` for every frame of a pcap or pcapng file.
fn for_each_frame(path: &std::path::Path, mut f: impl FnMut(LinkType, u32, &[u8])) {
    let file = File::open(path).expect("capture opens");
    let mut reader = pcap_parser::create_reader(1 << 20, file).expect("capture header parses");
    let mut legacy_link = None;
    let mut ng_links: Vec<LinkType> = Vec::new();
    loop {
        match reader.next() {
            Ok((n, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_link = Some(LinkType::from_number(h.network.0 as u32));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        if let Some(link) = legacy_link {
                            let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                            f(link, b.origlen, data);
                        }
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ng_links.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ng_links.push(LinkType::from_number(idb.linktype.0 as u32));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        if let Some(&link) = ng_links.get(epb.if_id as usize) {
                            f(link, epb.origlen, epb.packet_data());
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        if let Some(&link) = ng_links.first() {
                            f(link, spb.origlen, spb.data);
                        }
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(n);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() || reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
}

fn assert_agree(link: LinkType, wire_len: u32, data: &[u8], what: &str) {
    let fast = decode_frame(link, 42, wire_len, data);
    let slow = decode_frame_etherparse(link, 42, wire_len, data);
    assert_eq!(fast, slow, "{what}: {link:?} frame {:02x?}", data);
}

#[test]
fn fast_path_equals_etherparse_on_every_public_frame() {
    let Some(dir) = public_dir() else { return };
    let files = capture_files(&dir);
    assert!(!files.is_empty());
    let (mut frames, mut variants) = (0u64, 0u64);
    // A fixed xorshift stream: the same corruptions on every run.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for path in &files {
        let name = path.display().to_string();
        for_each_frame(path, |link, wire_len, data| {
            frames += 1;
            assert_agree(link, wire_len, data, &name);
            // The same bytes under every other link type (mostly noise for them).
            for other in LINKS {
                assert_agree(other, wire_len, data, &name);
            }
            // Every 8th frame: every cut through its headers (snap lengths), and
            // single-byte corruptions of its first 64 bytes.
            if frames % 8 == 0 {
                let mut copy = data.to_vec();
                for n in 0..data.len().min(80) {
                    assert_agree(link, wire_len, &data[..n], &name);
                    variants += 1;
                }
                for _ in 0..32 {
                    let r = next();
                    let at = (r as usize) % data.len().clamp(1, 64);
                    if at >= copy.len() {
                        continue;
                    }
                    let old = copy[at];
                    copy[at] = (r >> 32) as u8;
                    assert_agree(link, wire_len, &copy, &name);
                    copy[at] = old;
                    variants += 1;
                }
            }
        });
    }
    eprintln!(
        "{} files, {frames} frames, {variants} cut or corrupted variants",
        files.len()
    );
    assert!(frames > 10_000, "only {frames} frames read");
}
