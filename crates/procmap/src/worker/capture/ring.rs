//! The end of a stream: the last [`CAPTURE_TAIL_BYTES`] bytes written, in
//! a buffer that never grows, whatever a job prints.

use procmap_wire::CAPTURE_TAIL_BYTES;

/// A ring of the last [`CAPTURE_TAIL_BYTES`] bytes pushed.
pub(super) struct Ring {
    buf: Box<[u8; CAPTURE_TAIL_BYTES]>,
    /// Where the next byte goes.
    head: usize,
    /// Bytes held, at most the buffer's size.
    len: usize,
}

impl Ring {
    pub(super) fn new() -> Self {
        Ring { buf: Box::new([0; CAPTURE_TAIL_BYTES]), head: 0, len: 0 }
    }

    pub(super) fn push(&mut self, mut bytes: &[u8]) {
        let cap = self.buf.len();
        // Only the last `cap` bytes can survive.
        if bytes.len() > cap {
            bytes = &bytes[bytes.len() - cap..];
        }
        let first = bytes.len().min(cap - self.head);
        self.buf[self.head..self.head + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.head = (self.head + bytes.len()) % cap;
        self.len = (self.len + bytes.len()).min(cap);
    }

    /// The bytes held, oldest first, and an empty ring.
    pub(super) fn take(&mut self) -> Vec<u8> {
        let cap = self.buf.len();
        let start = (self.head + cap - self.len) % cap;
        let mut out = Vec::with_capacity(self.len);
        if start + self.len <= cap {
            out.extend_from_slice(&self.buf[start..start + self.len]);
        } else {
            out.extend_from_slice(&self.buf[start..]);
            out.extend_from_slice(&self.buf[..self.head]);
        }
        (self.head, self.len) = (0, 0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_the_size() {
        let mut ring = Ring::new();
        ring.push(b"hello ");
        ring.push(b"world");
        assert_eq!(ring.take(), b"hello world");
        assert_eq!(ring.take(), b"", "take empties it");
    }

    #[test]
    fn keeps_the_last_bytes_across_pushes_and_wraps() {
        let mut ring = Ring::new();
        let all: Vec<u8> = (0..3 * CAPTURE_TAIL_BYTES + 123).map(|i| (i % 251) as u8).collect();
        for piece in all.chunks(1000) {
            ring.push(piece);
        }
        assert_eq!(ring.take(), &all[all.len() - CAPTURE_TAIL_BYTES..]);
        ring.push(&all);
        assert_eq!(ring.take(), &all[all.len() - CAPTURE_TAIL_BYTES..], "one push bigger than the ring");
        ring.push(b"abc");
        ring.push(&all[..CAPTURE_TAIL_BYTES - 1]);
        let mut want = b"c".to_vec();
        want.extend_from_slice(&all[..CAPTURE_TAIL_BYTES - 1]);
        assert_eq!(ring.take(), want, "a wrap at an odd place");
    }
}
