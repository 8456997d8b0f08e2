//! A stable 64-bit hash for rendezvous hashing. Written here rather than taken from
//! std: `DefaultHasher`'s output may change between Rust releases, and placements must
//! not move when the toolchain does.

/// FNV-1a over the bytes, then the splitmix64 finaliser for well-spread high bits.
fn hash64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A separator that cannot occur in ids, so ("ab","c") != ("a","bc").
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// How much `appliance` wants `title`: each title goes to the appliances with the
/// highest scores. Adding an appliance only takes the titles it now outranks.
pub fn rendezvous_score(appliance: &str, title: &str) -> u64 {
    hash64(&[appliance, title])
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: u64 = 3_433_281_234_116_448_847;

    #[test]
    fn stable_and_separated() {
        // Fixed values: a change here would move every placement in the fleet.
        assert_eq!(rendezvous_score("oca-1", "t1"), PINNED);
        assert_ne!(hash64(&["ab", "c"]), hash64(&["a", "bc"]));
        assert_ne!(
            rendezvous_score("oca-1", "t1"),
            rendezvous_score("oca-2", "t1")
        );
    }
}
