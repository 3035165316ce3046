//! The trace frame format: how a module that cannot leave its memory to the host (a
//! runtime driven as a process) sends the captured memory over stderr, and how the host
//! takes the frames back out of the output streams.
//!
//! A frame is `FRAME_MAGIC`, `seq: u32 le`, `len: u32 le`, `len` payload bytes,
//! `FRAME_END`. The module writes a new frame after each step with a higher `seq`; the
//! host keeps the whole frame with the highest one.
//!
//! An instrumented real program writes *call frames* in the same envelope with another
//! magic, [`CALL_MAGIC`], one per preview1 call (see `wasi-conform-programs`); the host
//! keeps all of them, in sequence order ([`extract_call_frames`]). The two kinds never
//! mistake each other.

/// Frame header magic (`\0WCTFRM`), followed by `seq u32, len u32`.
pub const FRAME_MAGIC: &[u8; 8] = b"\0WCTFRM\0";
/// Frame trailer.
pub const FRAME_END: &[u8; 8] = b"\0WCTEND\0";
/// Call frame header magic (`\0WCTCAL`), followed by `seq u32, len u32`.
pub const CALL_MAGIC: &[u8; 8] = b"\0WCTCAL\0";

/// Pulls the trace frames written by a module compiled to send its trace over stderr out
/// of the output streams. Returns the streams without the frames, and the payload (the
/// captured memory) of the frame with the highest sequence number, if any frame arrived
/// whole. Frames are looked for in stdout too: a scenario may renumber fd 1 onto fd 2.
pub fn extract_frames(stdout: &[u8], stderr: &[u8]) -> (Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let mut best: Option<(u32, Vec<u8>)> = None;
    let mut clean = |stream: &[u8]| {
        let mut out = Vec::with_capacity(stream.len());
        let mut i = 0;
        while i < stream.len() {
            if let Some((seq, payload, len)) = frame_at(&stream[i..], FRAME_MAGIC) {
                if best.as_ref().is_none_or(|(s, _)| seq > *s) {
                    best = Some((seq, payload.to_vec()));
                }
                i += len;
            } else {
                out.push(stream[i]);
                i += 1;
            }
        }
        out
    };
    let out = clean(stdout);
    let err = clean(stderr);
    (out, err, best.map(|(_, p)| p))
}

/// A frame's sequence number and payload.
pub type SeqFrame = (u32, Vec<u8>);

/// Pulls every call frame out of the output streams: the streams without them, and the
/// payloads in sequence order with their sequence numbers. A frame cut short (the run
/// ended while writing it) stays in the stream.
pub fn extract_call_frames(stdout: &[u8], stderr: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<SeqFrame>) {
    let mut frames = Vec::new();
    let mut clean = |stream: &[u8]| {
        let mut out = Vec::with_capacity(stream.len());
        let mut i = 0;
        while i < stream.len() {
            match frame_at(&stream[i..], CALL_MAGIC) {
                Some((seq, payload, len)) => {
                    frames.push((seq, payload.to_vec()));
                    i += len;
                }
                None => {
                    out.push(stream[i]);
                    i += 1;
                }
            }
        }
        out
    };
    let out = clean(stdout);
    let err = clean(stderr);
    frames.sort_by_key(|(seq, _)| *seq);
    (out, err, frames)
}

/// A whole frame with this magic at the start of `b`: (seq, payload, frame length).
fn frame_at<'a>(b: &'a [u8], magic: &[u8; 8]) -> Option<(u32, &'a [u8], usize)> {
    if !b.starts_with(magic) || b.len() < 16 {
        return None;
    }
    let seq = u32::from_le_bytes(b[8..12].try_into().ok()?);
    let len = u32::from_le_bytes(b[12..16].try_into().ok()?) as usize;
    let payload = b.get(16..16 + len)?;
    let end = b.get(16 + len..16 + len + 8)?;
    (end == FRAME_END).then_some((seq, payload, 16 + len + 8))
}
