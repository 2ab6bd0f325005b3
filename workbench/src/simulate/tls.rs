//! TLS 1.3 on the wire, as far as a capture shows it: a ClientHello with SNI and the
//! extensions browsers send (padded to the size asked for), the server's ServerHello
//! and ChangeCipherSpec, then encrypted application-data records. Record framing is
//! exact, so dissectors (Wireshark, Zeek) parse the streams cleanly.

use rand::Rng;

use super::sim::SimRng;

/// A TLS record header's size and the largest record payload.
const HEADER: usize = 5;
const MAX_RECORD: usize = 16384;

/// The middlebox-compatibility ChangeCipherSpec record.
pub(crate) const CCS: [u8; 6] = [0x14, 3, 3, 0, 1, 1];

fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn ext(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&u16be(data.len()));
    out.extend_from_slice(data);
}

fn random<const N: usize>(rng: &mut SimRng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill(&mut b[..]);
    b
}

fn handshake_record(typ: u8, body: &[u8], record_version: u8) -> Vec<u8> {
    let mut r = Vec::with_capacity(body.len() + 9);
    r.extend_from_slice(&[0x16, 3, record_version]);
    r.extend_from_slice(&u16be(body.len() + 4));
    r.push(typ);
    r.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    r.extend_from_slice(body);
    r
}

/// A ClientHello record for `sni`, padded (padding extension) to about `total` bytes.
pub(crate) fn client_hello(rng: &mut SimRng, sni: &str, total: usize) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&random::<32>(rng));
    body.push(32);
    body.extend_from_slice(&random::<32>(rng));
    let suites: [u16; 15] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    body.extend_from_slice(&u16be(suites.len() * 2));
    suites
        .iter()
        .for_each(|s| body.extend_from_slice(&s.to_be_bytes()));
    body.extend_from_slice(&[1, 0]);
    let mut e = Vec::with_capacity(total);
    let name = sni.as_bytes();
    let mut sni_data = u16be(name.len() + 3).to_vec();
    sni_data.push(0);
    sni_data.extend_from_slice(&u16be(name.len()));
    sni_data.extend_from_slice(name);
    ext(&mut e, 0, &sni_data);
    ext(&mut e, 10, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
    ext(&mut e, 11, &[1, 0]);
    ext(
        &mut e,
        13,
        &[0, 16, 4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1],
    );
    ext(&mut e, 16, b"\x00\x0c\x02h2\x08http/1.1");
    ext(&mut e, 43, &[4, 3, 4, 3, 3]);
    ext(&mut e, 45, &[1, 1]);
    let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
    ks.extend_from_slice(&random::<32>(rng));
    ext(&mut e, 51, &ks);
    // Record header, handshake header, body, extensions length, then padding.
    let base = HEADER + 4 + body.len() + 2 + e.len();
    if total >= base + 4 {
        ext(&mut e, 21, &vec![0; total - base - 4]);
    }
    body.extend_from_slice(&u16be(e.len()));
    body.extend_from_slice(&e);
    handshake_record(1, &body, 1)
}

/// A ServerHello (TLS 1.3, x25519) record followed by ChangeCipherSpec.
pub(crate) fn server_hello(rng: &mut SimRng) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&random::<32>(rng));
    body.push(32);
    body.extend_from_slice(&random::<32>(rng));
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let mut e = Vec::new();
    ext(&mut e, 43, &[3, 4]);
    let mut ks = vec![0, 0x1d, 0, 32];
    ks.extend_from_slice(&random::<32>(rng));
    ext(&mut e, 51, &ks);
    body.extend_from_slice(&u16be(e.len()));
    body.extend_from_slice(&e);
    let mut r = handshake_record(2, &body, 3);
    r.extend_from_slice(&CCS);
    r
}

/// Writes application-data record headers into `seg`, which holds bytes
/// `[off, off + seg.len())` of a message whose first `prefix` bytes are already framed
/// and whose remaining `total - prefix` bytes are encrypted records.
pub(crate) fn frame_records(seg: &mut [u8], off: usize, prefix: usize, total: usize) {
    let rest = total.saturating_sub(prefix);
    if rest <= HEADER {
        return;
    }
    let n = rest.div_ceil(HEADER + MAX_RECORD);
    let payload = rest - HEADER * n;
    let per = payload.div_ceil(n);
    for (j, b) in seg.iter_mut().enumerate() {
        let Some(p) = (off + j).checked_sub(prefix) else {
            continue;
        };
        let (k, r) = (p / (per + HEADER), p % (per + HEADER));
        if r < HEADER && k < n {
            let len = if k + 1 == n {
                payload - per * (n - 1)
            } else {
                per
            };
            let l = u16be(len);
            *b = [0x17, 3, 3, l[0], l[1]][r];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Walks TLS records from the start of `b`; true when they tile it exactly.
    fn tiles(b: &[u8]) -> bool {
        let mut i = 0;
        while i + HEADER <= b.len() {
            if !(0x14..=0x17).contains(&b[i]) || b[i + 1] != 3 {
                return false;
            }
            i += HEADER + usize::from(u16::from_be_bytes([b[i + 3], b[i + 4]]));
        }
        i == b.len()
    }

    #[test]
    fn hellos_and_records_tile_the_stream_in_any_segmentation() {
        let mut rng = SimRng::seed_from_u64(1);
        for total in [517, 600, 1850] {
            let ch = client_hello(&mut rng, "www.example.com", total);
            assert_eq!(ch.len(), total);
            assert!(tiles(&ch));
        }
        let sh = server_hello(&mut rng);
        for total in [sh.len() + 6, 4000, 16389, 16395, 40_000, 1_000_000] {
            for seg in [1448usize, 1460, 7] {
                let mut msg = vec![0u8; total];
                msg[..sh.len()].copy_from_slice(&sh);
                for off in (sh.len()..total).step_by(seg) {
                    let end = (off + seg).min(total);
                    let mut part = vec![0xaa; end - off];
                    frame_records(&mut part, off, sh.len(), total);
                    msg[off..end].copy_from_slice(&part);
                }
                assert!(tiles(&msg), "total {total} segment {seg}");
            }
        }
    }
}
