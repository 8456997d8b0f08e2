//! The process's C heap: picture buffers go straight back to the system.
//!
//! FFmpeg and libx264 allocate pictures with `posix_memalign`: megabytes each, made and
//! freed for every frame a worker decodes, copies and scales. glibc serves blocks above
//! its mmap threshold with `mmap`, but raises that threshold to the size of each such
//! block freed (up to 32 MiB), after which pictures come from its per-thread arenas,
//! which a process with a dozen encoder threads per worker fragments and never gives
//! back. Measured with `vodfarm run` on this repository's benchmarks (2 cores): the
//! Big Buck Bunny trailer's peak RSS went from 1092 to 685 MiB with a fixed 128 KiB
//! threshold and the 30 s 1080p master's from 989 to 847 MiB at 256 KiB, for no
//! measurable CPU (the wall time, within this machine's noise). A fixed threshold
//! (set by `mallopt`, which also stops the raising) keeps every picture in its own
//! mapping, returned when freed.

/// Blocks at least this large are mapped on their own: every picture plane from 360p up.
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Fix glibc's mmap threshold, unless the person running us set one themselves
/// (`MALLOC_MMAP_THRESHOLD_`, which glibc reads at start-up).
pub fn return_pictures_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets a parameter of the allocator; called before any
        // thread is started.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        if ok != 1 {
            tracing::warn!("mallopt(M_MMAP_THRESHOLD) refused; pictures may stay in the heap");
        }
    }
}
