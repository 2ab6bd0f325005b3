//! Any byte sequence as a capture file: the reader and decoder must never panic, and
//! the counters must add up.
#![no_main]

use capture::{CaptureFile, PacketSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = std::io::Cursor::new(data.to_vec());
    let Ok(mut src) = CaptureFile::from_reader("fuzz-input", input, data.len() as u64) else {
        return;
    };
    let mut n = 0u64;
    while let Ok(Some(_)) = src.next_packet() {
        n += 1;
    }
    let s = src.stats();
    assert_eq!(s.decoded, n);
    assert_eq!(s.frames, s.decoded + s.skipped_total());
});
