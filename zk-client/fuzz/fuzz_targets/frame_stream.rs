//! The frame splitter fed arbitrary bytes in arbitrary chunks: frames come
//! out whole and in order, oversized or negative lengths are errors.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zk_client::proto::FrameDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut dec = FrameDecoder::new(1 << 16);
    let step = usize::from(split).max(1);
    let mut total = 0;
    for chunk in rest.chunks(step) {
        dec.extend(chunk);
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => total += frame.len() + 4,
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    assert_eq!(total + dec.buffered(), rest.len());
});
