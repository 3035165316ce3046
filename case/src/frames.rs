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
/// Segment frame header magic (`\0WCTSEG`), followed by `seq u32, len u32`: the payload is
/// one or more segments `addr u32, len u32, len bytes` of the captured memory, laid over
/// what earlier frames gave.
pub const SEGMENT_MAGIC: &[u8; 8] = b"\0WCTSEG\0";

/// Pulls the trace frames written by a module compiled to send its trace over stderr out
/// of the output streams. Returns the streams without the frames, and the captured memory
/// the frames give, if any frame arrived whole: frames are applied in sequence order, a
/// whole frame ([`FRAME_MAGIC`]) replacing the image, a segment frame ([`SEGMENT_MAGIC`])
/// laying its segments over it (bytes no frame gave are zero). Frames are looked for in
/// stdout too: a scenario may renumber fd 1 onto fd 2.
pub fn extract_frames(stdout: &[u8], stderr: &[u8]) -> (Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let mut frames: Vec<(u32, bool, Vec<u8>)> = Vec::new();
    let mut clean = |stream: &[u8]| {
        let mut out = Vec::with_capacity(stream.len());
        let mut i = 0;
        while i < stream.len() {
            let whole = frame_at(&stream[i..], FRAME_MAGIC).map(|f| (f, false));
            if let Some(((seq, payload, len), segments)) =
                whole.or_else(|| frame_at(&stream[i..], SEGMENT_MAGIC).map(|f| (f, true)))
            {
                frames.push((seq, segments, payload.to_vec()));
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
    frames.sort_by_key(|(seq, _, _)| *seq);
    let mut image: Option<Vec<u8>> = None;
    for (_, segments, payload) in frames {
        if !segments {
            image = Some(payload);
            continue;
        }
        let img = image.get_or_insert_with(Vec::new);
        let mut at = 0;
        while let (Some(addr), Some(len)) = (u32_le(&payload, at), u32_le(&payload, at + 4)) {
            let (addr, len) = (addr as usize, len as usize);
            let Some(bytes) = payload.get(at + 8..at + 8 + len) else { break };
            if img.len() < addr + len {
                img.resize(addr + len, 0);
            }
            img[addr..addr + len].copy_from_slice(bytes);
            at += 8 + len;
        }
    }
    (out, err, image)
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(magic: &[u8; 8], seq: u32, payload: &[u8]) -> Vec<u8> {
        [&magic[..], &seq.to_le_bytes(), &(payload.len() as u32).to_le_bytes(), payload, &FRAME_END[..]].concat()
    }

    fn segment(addr: u32, bytes: &[u8]) -> Vec<u8> {
        [&addr.to_le_bytes()[..], &(bytes.len() as u32).to_le_bytes(), bytes].concat()
    }

    #[test]
    fn segment_frames_are_laid_over_each_other_in_sequence_order() {
        // Written out of order across both streams: seq 2 must win over seq 1 at address 0.
        let second = frame(SEGMENT_MAGIC, 2, &[segment(0, b"AB"), segment(6, b"zz")].concat());
        let first = frame(SEGMENT_MAGIC, 1, &[segment(0, b"ab"), segment(4, b"xy")].concat());
        let stderr = [&b"own "[..], &second, b"bytes"].concat();
        let (out, err, image) = extract_frames(&first, &stderr);
        assert_eq!(out, b"");
        assert_eq!(err, b"own bytes");
        assert_eq!(image.unwrap(), b"AB\0\0xyzz");
    }

    #[test]
    fn a_whole_frame_replaces_the_image_and_a_cut_frame_is_output() {
        let whole = frame(FRAME_MAGIC, 3, b"whole");
        let seg = frame(SEGMENT_MAGIC, 4, &segment(1, b"H"));
        let cut = &frame(SEGMENT_MAGIC, 5, &segment(0, b"lost"))[..20];
        let stderr = [&whole[..], &seg, cut].concat();
        let (_, err, image) = extract_frames(b"", &stderr);
        assert_eq!(image.unwrap(), b"wHole");
        assert_eq!(err, cut);
    }
}
