//! RFC 6587 framing of a syslog TCP stream (`listen::framing::FrameDecoder`), the stream cut
//! into reads at input-chosen points, as a socket would deliver it.
//!
//! Checks: no panic; no frame empty or longer than the maximum; never more bytes buffered than
//! `max_buffered_bytes` (max + 1); and the frames do not depend on where the reads were cut
//! (the same stream fed in one piece gives the same frames, flags included).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use trapline::listen::framing::{Frame, FrameDecoder};

#[derive(Debug, Arbitrary)]
struct Input {
    /// The maximum frame size less one: small, so cutting and skipping happen often.
    max_frame_bytes: u8,
    /// Read boundaries, as offsets into the stream (taken modulo its length).
    cuts: Vec<u16>,
    stream: Vec<u8>,
}

/// Feeds `reads` then ends the stream; (frame, oversized) in order.
fn frames(max: usize, reads: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
    let mut decoder = FrameDecoder::new(max);
    let mut out = Vec::new();
    let mut emit = |frame: Frame<'_>| {
        assert!(!frame.bytes.is_empty(), "an empty frame");
        assert!(
            frame.bytes.len() <= max,
            "a frame of {} bytes, max {max}",
            frame.bytes.len()
        );
        out.push((frame.bytes.to_vec(), frame.oversized));
    };
    for read in reads {
        decoder.feed(read, &mut emit);
        let (held, bound) = (decoder.buffered_bytes(), decoder.max_buffered_bytes());
        assert!(held <= bound, "{held} bytes buffered, bound {bound}");
    }
    decoder.finish(&mut emit);
    assert!(decoder.is_between_frames());
    out
}

fuzz_target!(|input: Input| {
    let max = usize::from(input.max_frame_bytes) + 1;
    let stream = input.stream.as_slice();
    let mut points: Vec<usize> = input
        .cuts
        .iter()
        .map(|&cut| usize::from(cut) % (stream.len() + 1))
        .collect();
    points.sort_unstable();
    let mut reads = Vec::with_capacity(points.len() + 1);
    let mut from = 0;
    for point in points.into_iter().chain([stream.len()]) {
        reads.push(&stream[from..point]);
        from = point;
    }
    let split = frames(max, &reads);
    let whole = frames(max, &[stream]);
    assert_eq!(
        split, whole,
        "frames depend on where reads were cut: {reads:?}"
    );
});
