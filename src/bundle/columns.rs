//! The column framing of the bundle payload: every column is a little-endian `u64` byte length and then
//! its bytes, either raw little-endian numbers (read straight into the final vector, no per-element
//! decoding) or a small bincode value. The reader hashes every byte it reads, checks each length against
//! what is left of the payload before allocating, and allocates columns for huge pages.

use std::io::{Read, Write};
use std::path::Path;

use bytemuck::Pod;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::BundleError;
use super::memory::zeroed_vec;
use super::strings::StrColumn;

/// A number type stored raw in a column.
pub trait Scalar: Pod {
    /// Converts between native and little-endian byte order (a no-op on little-endian machines).
    fn swap_le(self) -> Self;
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            fn swap_le(self) -> Self {
                <$t>::from_le_bytes(self.to_ne_bytes())
            }
        }
    )*};
}
scalar!(u8, u16, u32, i32, f32);

/// The bincode configuration of the small values.
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding()
}

/// Streams columns into a writer, hashing every payload byte and counting them (the bundle is written
/// without ever holding the whole payload in memory). The first I/O error stops all further writes and
/// is returned by [`ColumnWriter::finish`].
pub struct ColumnWriter<W: Write> {
    out: W,
    hasher: blake3::Hasher,
    written: u64,
    error: Option<std::io::Error>,
}

impl<W: Write> ColumnWriter<W> {
    /// A writer appending to `out`, continuing `hasher` (which has already seen the header).
    pub fn new(out: W, hasher: blake3::Hasher) -> Self {
        Self { out, hasher, written: 0, error: None }
    }

    /// The output, the hash of everything so far and the payload bytes written, or the first I/O error.
    pub fn finish(self) -> std::io::Result<(W, blake3::Hasher, u64)> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.out, self.hasher, self.written)),
        }
    }

    fn raw(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.out.write_all(data) {
            Ok(()) => {
                self.hasher.update(data);
                self.written += data.len() as u64;
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn bytes(&mut self, data: &[u8]) {
        self.raw(&(data.len() as u64).to_le_bytes());
        self.raw(data);
    }

    /// A column of numbers.
    pub fn scalars<T: Scalar>(&mut self, values: &[T]) {
        if cfg!(target_endian = "little") {
            self.bytes(bytemuck::cast_slice(values));
        } else {
            let swapped: Vec<T> = values.iter().map(|v| v.swap_le()).collect();
            self.bytes(bytemuck::cast_slice(&swapped));
        }
    }

    /// A column of strings: their ends, then their text.
    pub fn strings(&mut self, column: &StrColumn) {
        self.scalars(column.ends());
        self.bytes(column.text().as_bytes());
    }

    /// A small value, bincode-encoded.
    pub fn value<T: Serialize>(&mut self, value: &T) -> Result<(), String> {
        let encoded = bincode::serde::encode_to_vec(value, bincode_config()).map_err(|e| e.to_string())?;
        self.bytes(&encoded);
        Ok(())
    }
}

/// Reads columns from a payload, hashing everything it reads.
pub struct ColumnReader<'a, R> {
    input: R,
    hasher: blake3::Hasher,
    remaining: u64,
    path: &'a Path,
}

/// Bytes read and hashed at a time: large enough for the hasher's wide SIMD, small enough to stay in cache.
const CHUNK: usize = 256 << 10;

impl<'a, R: Read> ColumnReader<'a, R> {
    /// A reader of a `payload_len`-byte payload; `hasher` has already seen what precedes it.
    pub fn new(input: R, hasher: blake3::Hasher, payload_len: u64, path: &'a Path) -> Self {
        Self { input, hasher, remaining: payload_len, path }
    }

    fn malformed(&self, detail: String) -> BundleError {
        BundleError::Malformed { path: self.path.to_owned(), detail }
    }

    /// A decoding error for this bundle.
    pub fn codec(&self, detail: impl Into<String>) -> BundleError {
        BundleError::Codec { path: self.path.to_owned(), action: "decode", detail: detail.into() }
    }

    fn read_hashed(&mut self, buf: &mut [u8]) -> Result<(), BundleError> {
        for chunk in buf.chunks_mut(CHUNK) {
            self.input.read_exact(chunk).map_err(|source| BundleError::Io { path: self.path.to_owned(), source })?;
            self.hasher.update(chunk);
        }
        self.remaining -= buf.len() as u64;
        Ok(())
    }

    fn length(&mut self, unit: usize) -> Result<usize, BundleError> {
        if self.remaining < 8 {
            return Err(self.malformed("column length cut off".to_owned()));
        }
        let mut bytes = [0u8; 8];
        self.read_hashed(&mut bytes)?;
        let len = u64::from_le_bytes(bytes);
        if len > self.remaining {
            return Err(self.malformed(format!("a column of {len} bytes with {} left", self.remaining)));
        }
        let len = usize::try_from(len).map_err(|_| self.malformed("column length".to_owned()))?;
        if len % unit != 0 {
            return Err(self.malformed(format!("a column of {len} bytes is not a whole number of values")));
        }
        Ok(len / unit)
    }

    /// A column of numbers.
    pub fn scalars<T: Scalar>(&mut self) -> Result<Vec<T>, BundleError> {
        let len = self.length(size_of::<T>())?;
        let mut values = zeroed_vec::<T>(len);
        self.read_hashed(bytemuck::cast_slice_mut(&mut values))?;
        if cfg!(target_endian = "big") {
            values.iter_mut().for_each(|v| *v = v.swap_le());
        }
        Ok(values)
    }

    /// A column of strings.
    pub fn strings(&mut self) -> Result<StrColumn, BundleError> {
        let ends = self.scalars::<u32>()?;
        let text = self.scalars::<u8>()?;
        StrColumn::from_parts(text, ends).map_err(|e| self.codec(e.to_string()))
    }

    /// A small bincode-encoded value.
    pub fn value<T: DeserializeOwned>(&mut self) -> Result<T, BundleError> {
        let bytes = self.scalars::<u8>()?;
        let (value, used) =
            bincode::serde::decode_from_slice(&bytes, bincode_config()).map_err(|e| self.codec(e.to_string()))?;
        if used != bytes.len() {
            return Err(self.codec("a value has trailing bytes"));
        }
        Ok(value)
    }

    /// Reads and hashes whatever is left of the payload (to tell corruption from a decoding error).
    pub fn skip_rest(&mut self) -> Result<(), BundleError> {
        let mut scratch = vec![0u8; CHUNK];
        while self.remaining > 0 {
            let n = (self.remaining as usize).min(CHUNK);
            self.read_hashed(&mut scratch[..n])?;
        }
        Ok(())
    }

    /// Bytes of the payload not read yet.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The hasher and the input, after the payload.
    pub fn into_parts(self) -> (blake3::Hasher, R) {
        (self.hasher, self.input)
    }
}
