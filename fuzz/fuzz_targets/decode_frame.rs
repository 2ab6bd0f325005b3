//! Any bytes as a frame of every supported link type: never a panic, and a decoded
//! record never claims more captured bytes than it was given.
#![no_main]

use capture::{decode_frame, LinkType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for link in [0u32, 1, 101, 108, 113, 228, 229, 276] {
        if let Ok((rec, _)) = decode_frame(LinkType::from_number(link), 0, data.len() as u32, data) {
            assert!(rec.cap_len as usize <= data.len());
            assert!(rec.wire_len >= rec.cap_len);
        }
    }
});
