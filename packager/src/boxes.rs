//! Box writing helpers in the style of gst-plugins-rs fmp4mux: the size is written as a
//! placeholder and patched once the body is known.

pub(crate) struct BoxWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> BoxWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    /// Write a box of type `fourcc` whose body `body` writes.
    pub fn plain(&mut self, fourcc: &[u8; 4], body: impl FnOnce(&mut BoxWriter)) {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(fourcc);
        body(self);
        let size = (self.out.len() - start) as u32;
        self.out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    }

    /// Write a full box (version and 24-bit flags before the body).
    pub fn full(
        &mut self,
        fourcc: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut BoxWriter),
    ) {
        self.plain(fourcc, |w| {
            w.u32(((version as u32) << 24) | (flags & 0x00ff_ffff));
            body(w);
        });
    }

    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
    pub fn zeros(&mut self, n: usize) {
        self.out.resize(self.out.len() + n, 0);
    }
    pub fn len(&self) -> usize {
        self.out.len()
    }
    /// Overwrite a u32 written earlier at absolute position `at`.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// The unity transformation matrix of tkhd/mvhd.
pub(crate) const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
