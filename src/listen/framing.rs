//! RFC 6587 framing of a syslog TCP byte stream into frames.
//!
//! [`FrameDecoder`] is fed whatever one socket read returned and hands back every complete
//! frame through a callback. The framing is detected *per frame*, because senders and relays
//! mix them on one connection:
//!
//! - a frame that starts with a digit is octet-counted, `MSG-LEN SP SYSLOG-MSG` (RFC 6587
//!   §3.4.1);
//! - anything else is non-transparent framing (§3.4.2), ended by LF or, as some senders do, by
//!   NUL; a trailing CR is stripped.
//!
//! A malformed length (digits not followed by a space, more than ten digits, or zero) is not an
//! error: the bytes read so far start an LF-terminated frame instead. Frames longer than the
//! maximum are cut to the maximum and flagged [`Frame::oversized`]; the rest is discarded. Empty
//! frames (a bare LF, such as the one many senders append after an octet-counted frame) are
//! skipped.
//!
//! Per-frame detection has one known ambiguity, shared with rsyslog: an LF-framed message that
//! starts with digits and a space (`12 apples\n`) is read as octet-counted. Real syslog messages
//! start with `<PRI>`, so this only bites senders that omit the PRI.
//!
//! The decoder never holds more than `max_frame_bytes + 1` bytes, whatever it is fed — or the
//! ten digits of a MSG-LEN when the maximum is below nine ([`FrameDecoder::max_buffered_bytes`]).
//! It does no I/O, knows nothing of sockets or events, and never fails.

/// The most digits a MSG-LEN may have before we call it malformed (10 digits is > 4 GiB already).
pub const MAX_LENGTH_DIGITS: usize = 10;

/// One frame, borrowed from the decoder or from the bytes it was fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The frame's payload (a syslog message), without length prefix or terminator.
    pub bytes: &'a [u8],
    /// True when the sender's frame was longer than the maximum and was cut to it.
    pub oversized: bool,
}

/// Where the decoder is within the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames; nothing is buffered.
    Start,
    /// Reading the digits of a MSG-LEN; `buf` holds them.
    Length,
    /// Reading an octet-counted body: `want` more bytes go into the frame, then `skip` more are
    /// discarded (non-zero only for an oversized frame).
    Counted { want: usize, skip: usize },
    /// Discarding the tail of an oversized octet-counted frame.
    Skip { remaining: usize },
    /// Reading an LF/NUL-terminated frame into `buf`.
    Line,
    /// Discarding the tail of an oversized LF frame, up to and including its terminator.
    SkipLine,
}

/// Splits a syslog TCP stream into frames (RFC 6587), one decoder per connection.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
    state: State,
    /// The part of the current frame (or MSG-LEN) that arrived in an earlier read.
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder that cuts frames at `max_frame_bytes` (at least 1).
    pub fn new(max_frame_bytes: usize) -> FrameDecoder {
        FrameDecoder {
            max_frame_bytes: max_frame_bytes.max(1),
            state: State::Start,
            buf: Vec::new(),
        }
    }

    /// True when no partial frame is pending, so the connection may close without losing data.
    pub fn is_between_frames(&self) -> bool {
        self.state == State::Start
    }

    /// How many bytes of a partial frame the decoder holds (never more than
    /// [`FrameDecoder::max_buffered_bytes`]).
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The most bytes the decoder ever holds: max + 1 (room for a CR that stripping removes),
    /// but at least the [`MAX_LENGTH_DIGITS`] of a MSG-LEN, which must all be read before
    /// they can be told from the start of an LF frame. Only a maximum below nine (the config
    /// allows no less than 480) makes the second bound the larger; the fuzzer found it with a
    /// maximum of 1, where the documented max + 1 was a promise the decoder could not keep.
    pub fn max_buffered_bytes(&self) -> usize {
        (self.max_frame_bytes + 1).max(MAX_LENGTH_DIGITS)
    }

    /// Consumes `input`, calling `emit` for every frame it completes, in stream order.
    pub fn feed(&mut self, mut input: &[u8], emit: &mut impl FnMut(Frame<'_>)) {
        while !input.is_empty() {
            let used = match self.state {
                State::Start => self.start(input[0]),
                State::Length => self.length(input[0]),
                State::Counted { want, skip } => self.counted(input, want, skip, emit),
                State::Skip { remaining } => self.skip(input, remaining),
                State::Line => self.line(input, emit),
                State::SkipLine => self.skip_line(input),
            };
            input = &input[used..];
        }
    }

    /// Ends the stream (EOF or shutdown): a final unterminated frame is emitted as it is.
    pub fn finish(&mut self, emit: &mut impl FnMut(Frame<'_>)) {
        match self.state {
            // A bare MSG-LEN is still what the sender meant to say, and like any frame it is cut
            // to the maximum: its up to ten digits outgrow a maximum below ten (found by
            // fuzz/fuzz_targets/tcp_framing.rs, which emitted 7 digits with a maximum of 1).
            State::Length => {
                let (frame, oversized) = cut(&self.buf, self.max_frame_bytes);
                emit_nonempty(frame, oversized, emit);
            }
            // A cut-short body never holds more than the maximum (`want` is bounded by it).
            State::Counted { .. } => emit_nonempty(&self.buf, false, emit),
            State::Line => self.emit_line(false, emit),
            State::Start | State::Skip { .. } | State::SkipLine => {}
        }
        self.buf.clear();
        self.state = State::Start;
    }

    /// Chooses the framing of a new frame from its first byte; consumes nothing.
    fn start(&mut self, first: u8) -> usize {
        self.state = if first.is_ascii_digit() {
            State::Length
        } else {
            State::Line
        };
        0
    }

    /// Reads one byte of a MSG-LEN (RFC 6587 §3.4.1: `MSG-LEN = NONZERO-DIGIT *DIGIT`, then SP).
    fn length(&mut self, byte: u8) -> usize {
        if byte.is_ascii_digit() && self.buf.len() < MAX_LENGTH_DIGITS {
            self.buf.push(byte);
            return 1;
        }
        let length = parse_length(&self.buf);
        match length {
            Some(length) if byte == b' ' => {
                self.buf.clear();
                let want = length.min(self.max_frame_bytes);
                self.state = State::Counted {
                    want,
                    skip: length - want,
                };
                1
            }
            // Not a length after all: what we read starts a non-transparent frame (§3.4.2).
            _ => {
                self.state = State::Line;
                0
            }
        }
    }

    /// Reads (part of) an octet-counted body.
    fn counted(
        &mut self,
        input: &[u8],
        want: usize,
        skip: usize,
        emit: &mut impl FnMut(Frame<'_>),
    ) -> usize {
        let take = want.min(input.len());
        let oversized = skip > 0;
        if take == want && self.buf.is_empty() {
            // The whole body is in this read: hand it over without copying.
            emit_nonempty(&input[..take], oversized, emit);
        } else {
            self.push(&input[..take]);
            if take < want {
                self.state = State::Counted {
                    want: want - take,
                    skip,
                };
                return take;
            }
            emit_nonempty(&self.buf, oversized, emit);
            self.buf.clear();
        }
        self.state = if oversized {
            State::Skip { remaining: skip }
        } else {
            State::Start
        };
        take
    }

    /// Discards the tail of an oversized octet-counted frame.
    fn skip(&mut self, input: &[u8], remaining: usize) -> usize {
        let take = remaining.min(input.len());
        self.state = if take == remaining {
            State::Start
        } else {
            State::Skip {
                remaining: remaining - take,
            }
        };
        take
    }

    /// Reads (part of) an LF/NUL-terminated frame.
    fn line(&mut self, input: &[u8], emit: &mut impl FnMut(Frame<'_>)) -> usize {
        match input.iter().position(|&b| is_terminator(b)) {
            Some(end) if self.buf.is_empty() => {
                let (frame, oversized) = cut(strip_cr(&input[..end]), self.max_frame_bytes);
                emit_nonempty(frame, oversized, emit);
                self.state = State::Start;
                end + 1
            }
            Some(end) => {
                // Keep at most max + 1 bytes: the +1 is room for a CR that stripping removes.
                let room = (self.max_frame_bytes + 1).saturating_sub(self.buf.len());
                let oversized = end > room;
                self.push(&input[..end.min(room)]);
                self.emit_line(oversized, emit);
                self.state = State::Start;
                end + 1
            }
            None => {
                let room = (self.max_frame_bytes + 1).saturating_sub(self.buf.len());
                if input.len() <= room {
                    self.push(input);
                    return input.len();
                }
                // More than max + 1 bytes and no terminator yet: the frame is oversized whatever
                // comes next. Hand over its first max bytes now and drop the rest of the line.
                self.push(&input[..room]);
                self.buf.truncate(self.max_frame_bytes);
                emit_nonempty(&self.buf, true, emit);
                self.buf.clear();
                self.state = State::SkipLine;
                input.len()
            }
        }
    }

    /// Discards the tail of an oversized LF frame, up to and including its terminator.
    fn skip_line(&mut self, input: &[u8]) -> usize {
        match input.iter().position(|&b| is_terminator(b)) {
            Some(end) => {
                self.state = State::Start;
                end + 1
            }
            None => input.len(),
        }
    }

    /// Emits the buffered LF frame (CR stripped, cut to the maximum) and clears the buffer.
    fn emit_line(&mut self, oversized: bool, emit: &mut impl FnMut(Frame<'_>)) {
        let (frame, cut_now) = cut(strip_cr(&self.buf), self.max_frame_bytes);
        emit_nonempty(frame, oversized || cut_now, emit);
        self.buf.clear();
    }

    /// Appends to the buffer without letting `Vec` doubling overshoot the max + 1 bound.
    fn push(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let grown =
                (self.buf.capacity() * 2).clamp(needed, (self.max_frame_bytes + 1).max(needed));
            self.buf.reserve_exact(grown - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }
}

/// Parses MSG-LEN digits; `None` for no digits or zero (RFC 6587 requires a NONZERO-DIGIT first).
fn parse_length(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    // At most ten ASCII digits: fits in u64 without overflow.
    let value = digits
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    usize::try_from(value).ok()
}

fn is_terminator(byte: u8) -> bool {
    byte == b'\n' || byte == 0
}

fn strip_cr(frame: &[u8]) -> &[u8] {
    frame.strip_suffix(b"\r").unwrap_or(frame)
}

/// Cuts `frame` to `max` bytes, saying whether it had to.
fn cut(frame: &[u8], max: usize) -> (&[u8], bool) {
    if frame.len() > max {
        (&frame[..max], true)
    } else {
        (frame, false)
    }
}

fn emit_nonempty(bytes: &[u8], oversized: bool, emit: &mut impl FnMut(Frame<'_>)) {
    if !bytes.is_empty() {
        emit(Frame { bytes, oversized });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `chunks` (then EOF) with a maximum of `max` bytes: (frame, oversized) pairs.
    fn decode(max: usize, chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut decoder = FrameDecoder::new(max);
        let mut frames = Vec::new();
        let mut emit = |frame: Frame<'_>| frames.push((frame.bytes.to_vec(), frame.oversized));
        for chunk in chunks {
            decoder.feed(chunk, &mut emit);
        }
        decoder.finish(&mut emit);
        frames
    }

    fn check(chunks: &[&str], expected: &[&str]) {
        check_max(64, chunks, expected, &[]);
    }

    /// Like `check`, with a maximum frame size and the indexes of frames expected oversized.
    fn check_max(max: usize, chunks: &[&str], expected: &[&str], oversized: &[usize]) {
        let chunks: Vec<&[u8]> = chunks.iter().map(|c| c.as_bytes()).collect();
        let got = decode(max, &chunks);
        let want: Vec<(Vec<u8>, bool)> = expected
            .iter()
            .enumerate()
            .map(|(i, e)| (e.as_bytes().to_vec(), oversized.contains(&i)))
            .collect();
        let show = |v: &[(Vec<u8>, bool)]| {
            v.iter()
                .map(|(f, o)| {
                    format!(
                        "{:?}{}",
                        String::from_utf8_lossy(f),
                        if *o { "!" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&got), show(&want), "chunks {chunks:?}");
    }

    #[test]
    fn octet_counted() {
        check(&["5 hello"], &["hello"]);
        check(&["5 hello11 hello world"], &["hello", "hello world"]);
        check(&["3 a b"], &["a b"]);
        // Newlines inside an octet-counted frame belong to the message (RFC 6587 §3.4.1).
        check(&["7 a\nb\r\nc"], &["a\nb\r\nc"]);
        // The LF many senders append after an octet-counted frame is an empty frame: skipped.
        check(&["5 hello\n5 world\n"], &["hello", "world"]);
    }

    #[test]
    fn non_transparent() {
        check(&["hello\nworld\n"], &["hello", "world"]);
        check(&["hello\r\nworld\r\n"], &["hello", "world"]);
        check(&["hello\0world\0"], &["hello", "world"]);
        check(&["a\r\r\n"], &["a\r"]);
        check(&["\n\n\r\n\0x\n\n"], &["x"]);
        check(
            &["<13>Nov 23 12:00:00 host app: hi\n"],
            &["<13>Nov 23 12:00:00 host app: hi"],
        );
    }

    #[test]
    fn mixed_framing_on_one_connection() {
        check(
            &["5 hello<13>lf frame\n3 abcnul\0"],
            &["hello", "<13>lf frame", "abc", "nul"],
        );
    }

    #[test]
    fn frames_split_across_reads() {
        check(&["1", "1 hello", " wor", "ld"], &["hello world"]);
        check(&["hel", "lo\r", "\nwor", "ld\n"], &["hello", "world"]);
        check(&["5", " ", "h", "ello", "\n"], &["hello"]);
    }

    #[test]
    fn final_unterminated_frame_is_kept_at_eof() {
        check(&["hello\nworld"], &["hello", "world"]);
        check(&["10 short"], &["short"]);
        check(&["123"], &["123"]);
        check(&["tail\r"], &["tail"]);
    }

    #[test]
    fn malformed_length_falls_back_to_lf() {
        check(&["2024-11-23 disk full\n"], &["2024-11-23 disk full"]);
        check(&["12345678901 x\n"], &["12345678901 x"]);
        check(&["0 zero\n"], &["0 zero"]);
        check(&["42\n5 hello"], &["42", "hello"]);
        check(&["12", "abc\n"], &["12abc"]);
    }

    #[test]
    fn oversized_octet_counted_is_cut_and_the_rest_skipped() {
        check_max(
            4,
            &["10 abcdefghij5 hello2 ok"],
            &["abcd", "hell", "ok"],
            &[0, 1],
        );
        check_max(4, &["10 ab", "cdef", "ghij", "2 ok"], &["abcd", "ok"], &[0]);
        check_max(4, &["4 abcd"], &["abcd"], &[]);
    }

    #[test]
    fn oversized_lf_is_cut_and_skipped_to_the_next_lf() {
        check_max(4, &["abcdefgh\nok\n"], &["abcd", "ok"], &[0]);
        check_max(
            4,
            &["abc", "defgh", "ijk", "l\nok\n"],
            &["abcd", "ok"],
            &[0],
        );
        // Exactly max bytes, with CRLF, is not oversized; max + 1 is.
        check_max(4, &["abcd\r\n"], &["abcd"], &[]);
        check_max(4, &["ab", "cd\r", "\n"], &["abcd"], &[]);
        check_max(4, &["abcde\n"], &["abcd"], &[0]);
        check_max(4, &["ab", "cde\r\n"], &["abcd"], &[0]);
        check_max(4, &["abcde"], &["abcd"], &[0]);
    }

    /// Found by `fuzz/fuzz_targets/tcp_framing.rs`: with a maximum of 1, the digits of a
    /// MSG-LEN were buffered beyond max + 1 (the bound is `max_buffered_bytes`), and frames
    /// still never exceed the maximum.
    #[test]
    fn long_msg_len_with_a_tiny_maximum_stays_bounded() {
        let stream = b"1577=5555555555 et5\xff\xff555 et5\xff\xff\xff157";
        let mut decoder = FrameDecoder::new(1);
        let mut frames = Vec::new();
        let mut emit = |frame: Frame<'_>| frames.push(frame.bytes.to_vec());
        decoder.feed(stream, &mut emit);
        assert!(decoder.buffered_bytes() <= decoder.max_buffered_bytes());
        assert_eq!(decoder.max_buffered_bytes(), MAX_LENGTH_DIGITS);
        decoder.finish(&mut emit);
        assert!(frames.iter().all(|f| f.len() == 1), "{frames:?}");
        assert_eq!(FrameDecoder::new(64).max_buffered_bytes(), 65);
    }

    /// Found by `fuzz/fuzz_targets/tcp_framing.rs`: a stream ending inside a MSG-LEN longer
    /// than the maximum emitted the digits whole at EOF, a frame above the maximum.
    #[test]
    fn msg_len_at_eof_is_cut_to_the_maximum() {
        // The fuzzer's stream, maximum 1 (artifact crash-7dca1824…).
        check_max(1, &["1555555"], &["1"], &[0]);
        check_max(4, &["1234567"], &["1234"], &[0]);
        check_max(4, &["1234"], &["1234"], &[]);
    }

    /// A stream of frames in mixed framings, and the frames it must decode to.
    fn stream_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<u8>>)> {
        let frame = (proptest::collection::vec(any::<u8>(), 1..40), 0..4u8);
        proptest::collection::vec(frame, 0..20).prop_map(|frames| {
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for (mut body, framing) in frames {
                match framing {
                    0 => stream.extend_from_slice(format!("{} ", body.len()).as_bytes()),
                    _ => {
                        // An LF frame may not contain a terminator nor start with a digit.
                        body.retain(|b| !is_terminator(*b) && *b != b'\r');
                        if body.is_empty() || body[0].is_ascii_digit() {
                            body.insert(0, b'<');
                        }
                    }
                }
                stream.extend_from_slice(&body);
                match framing {
                    1 => stream.push(b'\n'),
                    2 => stream.extend_from_slice(b"\r\n"),
                    3 => stream.push(0),
                    _ => {}
                }
                expected.push(body);
            }
            (stream, expected)
        })
    }

    proptest! {
        #[test]
        fn any_split_yields_the_same_frames(
            (stream, expected) in stream_strategy(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for point in points.into_iter().chain([stream.len()]) {
                chunks.push(&stream[from..point]);
                from = point;
            }
            let frames: Vec<Vec<u8>> = decode(64, &chunks).into_iter().map(|(f, _)| f).collect();
            prop_assert_eq!(frames, expected);
        }

        #[test]
        fn never_panics_and_stays_bounded(
            max in 1usize..64,
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10),
        ) {
            let mut decoder = FrameDecoder::new(max);
            let mut emit = |frame: Frame<'_>| assert!(!frame.bytes.is_empty() && frame.bytes.len() <= max);
            for chunk in &chunks {
                decoder.feed(chunk, &mut emit);
                prop_assert!(decoder.buffered_bytes() <= decoder.max_buffered_bytes());
                prop_assert!(decoder.buf.capacity() <= (max + 1).max(MAX_LENGTH_DIGITS) * 2);
            }
            decoder.finish(&mut emit);
            prop_assert!(decoder.is_between_frames());
        }
    }
}
