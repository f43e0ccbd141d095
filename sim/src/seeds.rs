//! One root seed per run, and a sub-seed per concern derived from it.
//!
//! Each concern (each fault kind, latency, arrivals, each client's jitter)
//! draws from its own ChaCha stream, so adding a fault kind or a client
//! leaves every other concern's draws exactly as they were.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// SplitMix64's finaliser: a bijective scramble of 64 bits.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a concern's name: stable across Rust versions, unlike `Hash`.
const fn name_hash(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// The sub-seed for concern `name`, instance `index`, under `root`.
pub fn derive(root: u64, name: &str, index: u64) -> u64 {
    mix(mix(root ^ name_hash(name)).wrapping_add(index))
}

/// A generator for concern `name`, instance `index`: ChaCha8 keyed by the
/// sub-seed's little-endian bytes (then zeros), stream 0. The simulator's
/// own layout, so its draws never move when the wrapper's RNG changes.
pub fn stream(root: u64, name: &str, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&derive(root, name, index).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// A uniform integer in `0..n` (`n > 0`), by rejection so no value is favoured.
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    // The largest multiple of n that fits: draws at or past it are redrawn.
    let zone = u64::MAX - (u64::MAX % n.max(1));
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n.max(1);
        }
    }
}

/// A uniform float in `[0, 1)` from the top 53 bits of one draw.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concerns_and_instances_get_distinct_seeds() {
        let a = derive(1, "latency", 0);
        assert_ne!(a, derive(1, "latency", 1));
        assert_ne!(a, derive(1, "hang", 0));
        assert_ne!(a, derive(2, "latency", 0));
        assert_eq!(a, derive(1, "latency", 0));
    }

    #[test]
    fn unit_stays_in_the_half_open_interval() {
        let mut rng = stream(0, "t", 0);
        assert!(
            (0..10_000)
                .map(|_| unit(&mut rng))
                .all(|u| (0.0..1.0).contains(&u))
        );
    }
}
