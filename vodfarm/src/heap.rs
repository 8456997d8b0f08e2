//! The process's C heap: picture buffers go straight back to the system.
//!
//! FFmpeg, libx264 and libvmaf allocate pictures with `posix_memalign`: hundreds of
//! kilobytes to megabytes each, made and freed all the time as a worker decodes chunks,
//! scales and scores samples. glibc serves blocks above its mmap threshold with `mmap`,
//! but raises that threshold to the size of each such block freed (up to 32 MiB), after
//! which pictures come from its per-thread arenas, which a process with a dozen encoder
//! threads per worker fragments and never gives back. Measured with `vodfarm run` on
//! this machine (2 cores): the Big Buck Bunny trailer's peak RSS went from 1092 to
//! 700 MiB with this threshold and the 30 s 1080p benchmark master's from 989 to 847
//! MiB, for no measurable CPU (the wall time within this machine's noise). A fixed
//! threshold (set by `mallopt`, which also stops the raising) keeps every large buffer
//! in its own mapping, returned when freed.

/// Blocks at least this large are mapped on their own: a 480p luma plane and larger.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Fix glibc's mmap threshold, unless the person running us set one themselves
/// (`MALLOC_MMAP_THRESHOLD_` or the `glibc.malloc.mmap_threshold` tunable, which glibc
/// reads at start-up).
pub fn return_pictures_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none()
        && !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("mmap_threshold"))
    {
        // SAFETY: mallopt only sets a parameter of the allocator; called before any
        // thread is started.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        if ok != 1 {
            tracing::warn!("mallopt(M_MMAP_THRESHOLD) refused; pictures may stay in the heap");
        }
    }
}
