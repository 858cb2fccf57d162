//! Gives the memory glibc's allocator holds free back to the system, and says how much of
//! the heap is in use.
//!
//! glibc keeps what a program frees for its next allocations, per arena (one per thread that
//! allocated, up to eight per core), and returns to the system only what is free at the top of
//! a heap. `verifier serve` follows one run after another for days: each run's join, histograms
//! and reads are freed when its report is written, and without this its RSS grew with each run
//! (bench/verifier.sh daemon: 1.55× after ten runs of 10,000 events, BENCHMARKS.md); with the
//! free memory given back after each run and the arenas capped at two, it stays flat (1.14×
//! after ten runs of 100,000). The workspace's only unsafe calls live here, alone, so that every
//! other crate keeps `#![forbid(unsafe_code)]`.

/// Returns the allocator's free memory to the system (`malloc_trim(0)`: every arena, and the
/// free pages inside them, not only the top of the heap). `true` when some was returned; always
/// `false` where the allocator is not glibc's.
pub fn release_free() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointer and has no precondition: it walks glibc's own
        // arenas, each under its lock, and gives their free pages back (madvise).
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Sets glibc up for a process that runs for days through bursts (a backlog after a fault):
/// two arenas ([`limit_arenas`]) and blocks of 128 KiB or more always mapped on their own
/// ([`fix_mmap_threshold`]), so that what a burst allocates goes back whole when it is freed.
/// Called before any thread starts. `true` when both were set.
pub fn long_running() -> bool {
    limit_arenas(2) & fix_mmap_threshold(128 * 1024)
}

/// Blocks of `bytes` or more are mapped on their own and unmapped when freed
/// (`mallopt(M_MMAP_THRESHOLD, bytes)`). glibc's threshold starts at 128 KiB but, without this,
/// rises to the size of each mapped block freed (up to 32 MiB), after which a burst's large
/// buffers (a Kafka fetch of a backlog, a batch's documents) land in the heap, and the holes
/// they leave among live blocks stay resident: in the one-hour soak each fault's catch-up left
/// the processor's anonymous memory 1 to 2 MiB higher, its heap in use unchanged. Setting it
/// also stops the trim threshold from moving. `true` when set; always `false` where the
/// allocator is not glibc's.
pub fn fix_mmap_threshold(bytes: i32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt takes two integers and no pointer; M_MMAP_THRESHOLD only decides
        // how later allocations are served.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, bytes) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = bytes;
        false
    }
}

/// Caps glibc's malloc arenas at `n` (`mallopt(M_ARENA_MAX, n)`; glibc's default is eight per
/// core). Called before the threads start: each thread that allocates under contention would
/// otherwise get an arena of its own, and the pages a finished run leaves half used stay spread
/// over all of them. `true` when the cap was set; always `false` where the allocator is not
/// glibc's.
pub fn limit_arenas(n: i32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt takes two integers and no pointer; M_ARENA_MAX only bounds how many
        // arenas glibc creates from now on.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = n;
        false
    }
}

/// Bytes the program has allocated and not freed (glibc's `mallinfo2`: `uordblks`, the chunks
/// in use in every arena, plus `hblkhd`, the blocks mapped on their own). Unlike RSS it does not
/// count what the allocator keeps after a free, so beside RSS it tells a leak (both grow) from
/// memory the allocator retains (RSS grows, this does not). `None` where the allocator is not
/// glibc's. It walks every arena's free lists under their locks: cheap once a second, not per
/// event.
pub fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no argument and returns a struct by value; it only reads
        // glibc's own arena statistics, each arena under its lock.
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The heap is the process's: tests that allocate tens of MB run one at a time, or one
    /// would see the other's blocks.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn rss_kb() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_memory_in_the_middle_of_the_heap_goes_back() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        // 64 MB in blocks of 64 kB (below glibc's mmap threshold, so on the heap), every other
        // one kept: the freed half lies between kept blocks, where glibc would keep it.
        let blocks: Vec<Vec<u8>> = (0..1024).map(|i| vec![i as u8; 64 * 1024]).collect();
        let kept: Vec<Vec<u8>> = blocks.into_iter().step_by(2).collect();
        let before = rss_kb();
        assert!(release_free(), "nothing was returned");
        let after = rss_kb();
        assert!(
            after + 16_000 < before,
            "RSS {before} kB -> {after} kB: the freed 32 MB were not returned"
        );
        assert_eq!(kept.len(), 512);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn heap_in_use_counts_what_is_allocated_and_not_what_was_freed() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        let before = heap_in_use().unwrap();
        let held: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; 64 * 1024]).collect();
        let with = heap_in_use().unwrap();
        assert!(
            with >= before + 15_000_000,
            "{before} -> {with} bytes: 16 MB allocated were not counted"
        );
        drop(held);
        let after = heap_in_use().unwrap();
        assert!(
            after + 15_000_000 <= with,
            "{with} -> {after} bytes: 16 MB freed still counted as in use"
        );
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn the_arenas_can_be_capped() {
        assert!(limit_arenas(2));
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn a_large_block_freed_after_the_threshold_is_fixed_leaves_nothing_resident() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        assert!(fix_mmap_threshold(128 * 1024));
        // a freed 4 MiB block would raise glibc's dynamic threshold; fixed, the next 1 MiB
        // blocks are still mapped on their own and go back whole when freed
        drop(vec![1u8; 4 << 20]);
        let before = rss_kb();
        let burst: Vec<Vec<u8>> = (0..16).map(|i| vec![i as u8; 1 << 20]).collect();
        let keep = vec![7u8; 1024]; // a live block after the burst, as a heap would have one
        drop(burst);
        let after = rss_kb();
        assert!(
            after < before + 4_000,
            "RSS {before} kB -> {after} kB: the burst's 16 MiB stayed resident"
        );
        assert_eq!(keep[0], 7);
    }
}
