//! Large, long-lived arrays (a bundle's columns, the server's lookup tables) allocated so that the kernel
//! backs them with transparent huge pages where it can: requests touch them at random, and with 4 KiB pages
//! nearly every such touch also misses the TLB. Loading faults in 512 times fewer pages, too.

use bytemuck::Zeroable;

/// Below this size an array stays on ordinary pages.
const HUGE_MIN_BYTES: usize = 2 << 20;

/// A vector of `len` zeroes whose buffer was advised for huge pages before it was first touched.
pub fn zeroed_vec<T: Zeroable + Clone>(len: usize) -> Vec<T> {
    let mut values: Vec<T> = Vec::with_capacity(len);
    advise_huge_pages(values.as_ptr().cast(), values.capacity() * size_of::<T>());
    values.resize(len, T::zeroed());
    values
}

/// A vector of `len` copies of `value`, advised like [`zeroed_vec`].
pub fn filled_vec<T: Zeroable + Copy>(len: usize, value: T) -> Vec<T> {
    let mut values: Vec<T> = Vec::with_capacity(len);
    advise_huge_pages(values.as_ptr().cast(), values.capacity() * size_of::<T>());
    values.resize(len, value);
    values
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *const u8, bytes: usize) {
    const HUGE: usize = 2 << 20;
    if bytes < HUGE_MIN_BYTES {
        return;
    }
    // Only whole 2 MiB blocks inside the allocation can become huge pages.
    let first = (start as usize).next_multiple_of(HUGE);
    let end = (start as usize + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: [first, end) lies inside an allocation this process owns and nothing else references yet.
        // MADV_HUGEPAGE only changes how the kernel backs the range, never its contents; failure (THP
        // disabled, old kernel) leaves ordinary pages, which is fine.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *const u8, _bytes: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_hold_what_was_asked() {
        assert_eq!(zeroed_vec::<u32>(3), vec![0, 0, 0]);
        let big = filled_vec(3 << 20, u32::MAX);
        assert_eq!(big.len(), 3 << 20);
        assert!(big.iter().all(|&v| v == u32::MAX));
        assert!(zeroed_vec::<f32>(0).is_empty());
    }
}
