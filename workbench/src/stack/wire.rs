//! What a sensor publishes to JetStream: batches of packet records in a compact binary
//! encoding, one batch per shard subject `telemetry.flow.<shard>`.
//!
//! Why packet records and not window summaries: a host's window needs every packet it
//! sent or received, and with several sensors (or several scorers) no single sensor
//! holds a host's whole window. Records let the scorer run the very same engine as a
//! single process, so the windows are provably identical (tests/nats.rs). The cost is
//! bytes: an IPv4 TCP record takes ~20 bytes here (measured in the unit tests and
//! docs: deploy/README.md) against 64 for `PacketRecord` in memory and ~80 for the
//! seed's JSON message.
//!
//! Batch layout (all integers little-endian or LEB128 varints):
//! ```text
//! "WB1" | sensor-id len u8 | sensor-id | shard u16 | seq u64 | watermark u64 | flags u8
//!       | [input varint, when flags has FLAG_INPUT] | count varint | records...
//! record: kind u8 (bit0 IPv6, bit1 fragment, bit2 cap_len == wire_len, bit3 ICMP fields)
//!       | ts delta (zigzag varint, from the previous record; the first from watermark base 0)
//!       | src (4|16) | dst (4|16) | src_port u16 | dst_port u16 | proto u8 | tcp_flags u8
//!       | [icmp_type u8 icmp_code u8] | wire_len varint | [cap_len varint]
//! ```
//! The watermark promises that every record of this sensor with `ts < watermark` has
//! been published (to every shard): scorers merge sensors in event time with it.
//!
//! `input` numbers the sensor's inputs (a replaying sensor's files; a live sensor stays
//! at 0, which is not written): event time is `(input, ts)` in that order, and scorers
//! apply the engine's timeline rule where a sensor's input changes, as `workbench
//! features` does between files.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{bail, Context, Result};
use capture::{ip_proto, tcp_flag, PacketRecord};

const MAGIC: &[u8; 3] = b"WB1";

/// Batch flag: the sensor's input ended; no more records will follow.
pub const FLAG_END: u8 = 1;
/// Batch flag: an `input` number follows the flags.
pub const FLAG_INPUT: u8 = 2;

/// A batch of records for one shard from one sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub sensor: String,
    pub shard: u16,
    /// Per (sensor, shard), from 1, without gaps unless the sensor dropped a batch.
    pub seq: u64,
    /// Every record of the sensor with `ts_ns < watermark` has been published.
    pub watermark: u64,
    pub flags: u8,
    /// The sensor's input the records and the watermark belong to (0 for a live sensor).
    pub input: u32,
    pub records: Vec<PacketRecord>,
}

impl Batch {
    /// Latest record time, or the watermark for an empty batch.
    pub fn max_ts(&self) -> u64 {
        self.records
            .iter()
            .map(|r| r.ts_ns)
            .max()
            .unwrap_or(0)
            .max(self.watermark.saturating_sub(1))
    }

    pub fn is_end(&self) -> bool {
        self.flags & FLAG_END != 0
    }
}

/// The shard of a host: FNV-1a of its address bytes modulo `shards`. Fixed (not
/// randomly seeded) so every sensor and scorer agrees.
pub fn shard_of(addr: IpAddr, shards: u16) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= x as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    match addr {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    (h % shards.max(1) as u64) as u16
}

/// The shards a record goes to: its source's and, when different, its destination's
/// (each host's window needs what it sent and what it received).
pub fn shards_of(r: &PacketRecord, shards: u16) -> (u16, Option<u16>) {
    let a = shard_of(r.src, shards);
    let b = shard_of(r.dst, shards);
    (a, (a != b).then_some(b))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes a batch.
pub fn encode(b: &Batch) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + b.records.len() * 22);
    out.extend_from_slice(MAGIC);
    let id = b.sensor.as_bytes();
    let id = &id[..id.len().min(255)];
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&b.shard.to_le_bytes());
    out.extend_from_slice(&b.seq.to_le_bytes());
    out.extend_from_slice(&b.watermark.to_le_bytes());
    if b.input != 0 {
        out.push(b.flags | FLAG_INPUT);
        put_varint(&mut out, u64::from(b.input));
    } else {
        out.push(b.flags & !FLAG_INPUT);
    }
    put_varint(&mut out, b.records.len() as u64);
    let mut prev: u64 = 0;
    for r in &b.records {
        let v6 = r.src.is_ipv6() || r.dst.is_ipv6();
        let icmp = r.icmp_type != 0 || r.icmp_code != 0;
        let kind = (v6 as u8)
            | ((r.fragment as u8) << 1)
            | (((r.cap_len == r.wire_len) as u8) << 2)
            | ((icmp as u8) << 3);
        out.push(kind);
        put_varint(&mut out, zigzag(r.ts_ns.wrapping_sub(prev) as i64));
        prev = r.ts_ns;
        for a in [r.src, r.dst] {
            match (a, v6) {
                (IpAddr::V4(x), false) => out.extend_from_slice(&x.octets()),
                (IpAddr::V4(x), true) => out.extend_from_slice(&x.to_ipv6_mapped().octets()),
                (IpAddr::V6(x), _) => out.extend_from_slice(&x.octets()),
            }
        }
        out.extend_from_slice(&r.src_port.to_le_bytes());
        out.extend_from_slice(&r.dst_port.to_le_bytes());
        out.push(r.proto);
        out.push(r.tcp_flags);
        if icmp {
            out.push(r.icmp_type);
            out.push(r.icmp_code);
        }
        put_varint(&mut out, r.wire_len as u64);
        if r.cap_len != r.wire_len {
            put_varint(&mut out, r.cap_len as u64);
        }
    }
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.b.len() - self.at < n {
            bail!(
                "batch truncated at byte {} reading {what} ({n} bytes needed, {} left)",
                self.at,
                self.b.len() - self.at
            );
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        let s = self.take(2, what)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        let s = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn varint(&mut self, what: &str) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let x = self.u8(what)?;
            v |= ((x & 0x7f) as u64) << (7 * i);
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("varint too long at byte {} reading {what}", self.at)
    }
    fn addr(&mut self, v6: bool, what: &str) -> Result<IpAddr> {
        Ok(if v6 {
            let s = self.take(16, what)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(s);
            let a = Ipv6Addr::from(a);
            // IPv4 addresses of a mixed record travel as mapped addresses.
            match a.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(a),
            }
        } else {
            let s = self.take(4, what)?;
            IpAddr::V4(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
        })
    }
}

/// Decodes a batch; errors name the byte offset and field.
pub fn decode(bytes: &[u8]) -> Result<Batch> {
    let mut r = Reader { b: bytes, at: 0 };
    if r.take(3, "magic")? != MAGIC {
        bail!("not a workbench batch (magic is not WB1)");
    }
    let n = r.u8("sensor id length")? as usize;
    let sensor = String::from_utf8_lossy(r.take(n, "sensor id")?).into_owned();
    let shard = r.u16("shard")?;
    let seq = r.u64("seq")?;
    let watermark = r.u64("watermark")?;
    let flags = r.u8("flags")?;
    let input = if flags & FLAG_INPUT != 0 {
        let v = r.varint("input")?;
        u32::try_from(v).with_context(|| format!("input number {v} out of range"))?
    } else {
        0
    };
    let count = r.varint("record count")?;
    // Each record takes at least 16 bytes: a corrupt count cannot make us allocate.
    if count > (bytes.len() as u64) / 16 + 1 {
        bail!(
            "record count {count} impossible for a {}-byte batch",
            bytes.len()
        );
    }
    let mut records = Vec::with_capacity(count as usize);
    let mut prev: u64 = 0;
    for i in 0..count {
        let kind = r.u8("record kind").with_context(|| format!("record {i}"))?;
        let v6 = kind & 1 != 0;
        let ts_ns = prev.wrapping_add(unzigzag(r.varint("ts delta")?) as u64);
        prev = ts_ns;
        let src = r.addr(v6, "src")?;
        let dst = r.addr(v6, "dst")?;
        let src_port = r.u16("src_port")?;
        let dst_port = r.u16("dst_port")?;
        let proto = r.u8("proto")?;
        let tcp_flags = r.u8("tcp_flags")?;
        let (icmp_type, icmp_code) = if kind & 8 != 0 {
            (r.u8("icmp_type")?, r.u8("icmp_code")?)
        } else {
            (0, 0)
        };
        let wire_len = r.varint("wire_len")?.min(u32::MAX as u64) as u32;
        let cap_len = if kind & 4 != 0 {
            wire_len
        } else {
            r.varint("cap_len")?.min(u32::MAX as u64) as u32
        };
        records.push(PacketRecord {
            ts_ns,
            src,
            dst,
            src_port,
            dst_port,
            proto,
            tcp_flags,
            icmp_type,
            icmp_code,
            wire_len,
            cap_len,
            fragment: kind & 2 != 0,
        });
    }
    if r.at != bytes.len() {
        bail!(
            "{} trailing bytes after the last record",
            bytes.len() - r.at
        );
    }
    Ok(Batch {
        sensor,
        shard,
        seq,
        watermark,
        flags: flags & !FLAG_INPUT,
        input,
        records,
    })
}

/// Seed 000's simulator message `{"ts":169..,"pid":0,"saddr":"10.0.0.5",
/// "daddr":"10.0.0.9","dport":80}`: one connection attempt. It becomes a TCP SYN
/// (60 bytes on the wire, the size of a SYN with options) so conn_rate and uniq_dports
/// come out as the seed's feature extractor computes them. `ts` is seconds (float) or,
/// above 1e15, nanoseconds.
pub fn seed_json(bytes: &[u8]) -> Result<PacketRecord> {
    #[derive(serde::Deserialize)]
    struct Msg {
        ts: f64,
        saddr: IpAddr,
        daddr: IpAddr,
        #[serde(default)]
        dport: u16,
        #[serde(default)]
        sport: Option<u16>,
    }
    let m: Msg = serde_json::from_slice(bytes).context("invalid seed simulator JSON")?;
    if !(m.ts.is_finite() && m.ts >= 0.0) {
        bail!("seed simulator JSON: ts {} is not a time", m.ts);
    }
    let ts_ns = if m.ts > 1e15 {
        m.ts as u64
    } else {
        // Whole seconds and fraction apart: `ts * 1e9` would round away ~100 ns.
        let secs = m.ts.trunc();
        secs as u64 * 1_000_000_000 + ((m.ts - secs) * 1e9).round() as u64
    };
    Ok(PacketRecord {
        ts_ns,
        src: m.saddr,
        dst: m.daddr,
        src_port: m.sport.unwrap_or(40000),
        dst_port: m.dport,
        proto: ip_proto::TCP,
        tcp_flags: tcp_flag::SYN,
        icmp_type: 0,
        icmp_code: 0,
        wire_len: 60,
        cap_len: 60,
        fragment: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: u64, src: &str, dst: &str, dport: u16) -> PacketRecord {
        PacketRecord {
            ts_ns: ts,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: 40000,
            dst_port: dport,
            proto: ip_proto::TCP,
            tcp_flags: tcp_flag::SYN,
            icmp_type: 0,
            icmp_code: 0,
            wire_len: 60,
            cap_len: 60,
            fragment: false,
        }
    }

    #[test]
    fn round_trips_and_costs_about_20_bytes_per_ipv4_packet() {
        let mut records: Vec<PacketRecord> = (0..1000u64)
            .map(|i| {
                rec(
                    1_700_000_000_000_000_000 + i * 137_000,
                    "10.0.0.5",
                    "10.0.0.9",
                    (i % 1000) as u16,
                )
            })
            .collect();
        records[3].src = "2001:db8::1".parse().unwrap();
        records[3].dst = "10.1.1.1".parse().unwrap();
        records[4].proto = ip_proto::ICMP;
        records[4].icmp_type = 3;
        records[4].icmp_code = 3;
        records[5].cap_len = 54;
        records[6].fragment = true;
        records[7].ts_ns -= 1_000_000; // out of order: negative delta
        let b = Batch {
            sensor: "s1".into(),
            shard: 3,
            seq: 9,
            watermark: records[999].ts_ns,
            flags: FLAG_END,
            input: 0,
            records,
        };
        let bytes = encode(&b);
        assert_eq!(decode(&bytes).unwrap(), b);
        // A later input of a replaying sensor travels in the header.
        let later = Batch {
            input: 3,
            ..b.clone()
        };
        assert_eq!(decode(&encode(&later)).unwrap(), later);
        assert_eq!(encode(&later).len(), bytes.len() + 1);
        let per = bytes.len() as f64 / 1000.0;
        assert!(per < 22.0, "{per} bytes per record");
        // Every truncation is an error naming the offset, never a panic.
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn seed_json_is_a_syn() {
        let r = seed_json(br#"{"ts": 1700000000.25, "pid": 0, "saddr": "10.0.0.5", "daddr": "10.0.0.9", "dport": 80}"#).unwrap();
        assert_eq!(r.ts_ns, 1_700_000_000_250_000_000);
        assert!(r.is_syn_only());
        assert_eq!(r.dst_port, 80);
        assert!(seed_json(br#"{"ts":"x"}"#).is_err());
    }

    #[test]
    fn shards_are_stable() {
        let a: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(shard_of(a, 16), shard_of(a, 16));
        let spread: std::collections::BTreeSet<u16> = (0..=255u8)
            .map(|i| shard_of(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), 8))
            .collect();
        assert_eq!(spread.len(), 8);
    }
}
