//! Any bytes as a frame of every supported link type: never a panic, a decoded record
//! never claims more captured bytes than it was given, and the fast path agrees with
//! etherparse's slicer on every input (record, notes and skip reason).
#![no_main]

use capture::decode::decode_frame_etherparse;
use capture::{decode_frame, LinkType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for link in [0u32, 1, 101, 108, 113, 228, 229, 276] {
        let link = LinkType::from_number(link);
        let decoded = decode_frame(link, 0, data.len() as u32, data);
        if let Ok((rec, _)) = decoded {
            assert!(rec.cap_len as usize <= data.len());
            assert!(rec.wire_len >= rec.cap_len);
        }
        assert_eq!(decoded, decode_frame_etherparse(link, 0, data.len() as u32, data));
    }
});
