//! The classic-pcap fast path of `CaptureFile` (complete records read straight from
//! the buffer) against pcap-parser's reader (`without_fast_path`): the same packets,
//! counters and errors on every public capture and on cut, corrupted, big-endian and
//! "modified"-format copies of them.

mod common;

use capture::{CaptureFile, PacketRecord, PacketSource, SourceStats};
use common::*;

/// Everything a reader produced: packets, counters, and how it ended.
fn read(path: &std::path::Path, fast: bool) -> (Vec<PacketRecord>, Option<SourceStats>, String) {
    let src = match CaptureFile::open(path) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), None, format!("open: {e}")),
    };
    let mut src = if fast { src } else { src.without_fast_path() };
    let mut out = Vec::new();
    let end = loop {
        match src.next_packet() {
            Ok(Some(p)) => out.push(p),
            Ok(None) => break "end".to_string(),
            Err(e) => break format!("error: {e}"),
        }
    };
    // A reader that stopped stays stopped.
    assert!(matches!(src.next_packet(), Ok(None)));
    (out, Some(src.stats().clone()), end)
}

fn assert_same(path: &std::path::Path, what: &str) {
    let fast = read(path, true);
    let slow = read(path, false);
    assert_eq!(fast.2, slow.2, "{what}: how the file ended");
    assert_eq!(fast.1, slow.1, "{what}: counters");
    assert_eq!(fast.0.len(), slow.0.len(), "{what}: packets");
    assert!(fast.0 == slow.0, "{what}: packet contents");
}

/// One classic pcap record: its 16-byte header and its captured bytes.
type Record = ([u8; 16], Vec<u8>);

/// Classic little-endian pcap → (file header, records).
fn split(bytes: &[u8]) -> Option<(Vec<u8>, Vec<Record>)> {
    if bytes.len() < 24 || bytes[..4] != [0xd4, 0xc3, 0xb2, 0xa1] {
        return None;
    }
    let mut at = 24;
    let mut recs = Vec::new();
    while at + 16 <= bytes.len() {
        let h: [u8; 16] = bytes[at..at + 16].try_into().ok()?;
        let cap = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let data = bytes.get(at + 16..at + 16 + cap)?.to_vec();
        recs.push((h, data));
        at += 16 + cap;
    }
    Some((bytes[..24].to_vec(), recs))
}

fn swap32(b: &mut [u8]) {
    for w in b.chunks_exact_mut(4) {
        w.reverse();
    }
}

/// The same capture written big-endian.
fn big_endian(header: &[u8], recs: &[Record]) -> Vec<u8> {
    let mut out = header.to_vec();
    out[..4].reverse(); // magic
    out[4..6].reverse(); // version major
    out[6..8].reverse(); // version minor
    swap32(&mut out[8..24]);
    for (h, d) in recs {
        let mut h = *h;
        swap32(&mut h);
        out.extend_from_slice(&h);
        out.extend_from_slice(d);
    }
    out
}

/// The same capture in the "modified" format (magic a1b2cd34, 24-byte records).
fn modified(header: &[u8], recs: &[Record]) -> Vec<u8> {
    let mut out = header.to_vec();
    out[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
    for (h, d) in recs {
        out.extend_from_slice(h);
        out.extend_from_slice(&[7, 0, 0, 0, 2, 0, 1, 0]); // ifindex, protocol, type
        out.extend_from_slice(d);
    }
    out
}

#[test]
fn fast_path_reads_like_pcap_parser() {
    let Some(dir) = public_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut x = 0x853c_49e6_748f_ea9bu64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut files, mut variants) = (0, 0);
    for path in capture_files(&dir) {
        let name = path.display().to_string();
        assert_same(&path, &name);
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        let mut write = |tag: &str, data: &[u8]| {
            let p = tmp.path().join(format!("v{variants}-{tag}.pcap"));
            std::fs::write(&p, data).unwrap();
            assert_same(&p, &format!("{name} ({tag})"));
            variants += 1;
        };
        // Cut anywhere: in the file header, in a record header, in a frame.
        for _ in 0..6 {
            let at = (rand() as usize) % (bytes.len() + 1);
            write("cut", &bytes[..at]);
        }
        let Some((header, recs)) = split(&bytes) else {
            continue;
        };
        write("big-endian", &big_endian(&header, &recs));
        write("modified", &modified(&header, &recs));
        if recs.is_empty() {
            continue;
        }
        // One record's caplen corrupted: 0, a few bytes more or less, past the end of
        // the file, beyond the 1 MiB read buffer.
        let mut offsets = vec![24usize];
        for (_, d) in &recs {
            let last = *offsets.last().unwrap();
            offsets.push(last + 16 + d.len());
        }
        for caplen in [0u32, 1, 13, 0x1_0000, 0x10_0000 - 17, 0x10_0001, u32::MAX] {
            let i = (rand() as usize) % recs.len();
            let mut b = bytes.clone();
            b[offsets[i] + 8..offsets[i] + 12].copy_from_slice(&caplen.to_le_bytes());
            write("caplen", &b);
        }
        let i = (rand() as usize) % recs.len();
        let mut b = bytes.clone();
        let orig = u32::from_le_bytes(b[offsets[i] + 8..offsets[i] + 12].try_into().unwrap());
        b[offsets[i] + 8..offsets[i] + 12].copy_from_slice(&(orig + 3).to_le_bytes());
        write("caplen+3", &b);
    }
    eprintln!("{files} captures, {variants} variants");
    assert!(
        files >= 40 && variants >= 300,
        "{files} files, {variants} variants"
    );
}

/// A capture larger than the 1 MiB read buffer, read in many refills, with records
/// straddling every refill boundary.
#[test]
fn fast_path_across_buffer_refills() {
    let tmp = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
    for i in 0..40_000u32 {
        let len = 54 + (i * 7919) % 1400;
        let mut frame = vec![0u8; len as usize];
        frame[12] = 0x08;
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
        frame[23] = 6;
        frame[26..30].copy_from_slice(&i.to_be_bytes());
        frame[30..34].copy_from_slice(&[10, 0, 0, 1]);
        frame[34 + 12] = 0x50;
        frame[34 + 13] = 0x02;
        out.extend_from_slice(&(1_700_000_000 + i / 1000).to_le_bytes());
        out.extend_from_slice(&(i % 1000 * 1000).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(len + 4).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    let p = tmp.path().join("big.pcap");
    std::fs::write(&p, &out).unwrap();
    assert!(out.len() > 20 << 20);
    assert_same(&p, "40k records");
    let (pkts, _, end) = read(&p, true);
    assert_eq!((pkts.len(), end.as_str()), (40_000, "end"));
    // Cut in the middle of a record.
    std::fs::write(&p, &out[..out.len() - 100]).unwrap();
    assert_same(&p, "40k records, cut");
}
