//! A job's identity across runs, edits and machines.
//!
//! `--resume` skips the jobs a journal already records, and `--shard I/N`
//! runs the jobs that hash to shard I. Both need a name for a job that
//! survives edits elsewhere in the jobs file, so that inserting a line
//! neither reruns every later job nor moves it to another shard. A job's
//! identity is therefore what the line asks for, not where it stands:
//!
//! - `hash`: FNV-1a 64 of the task name and each argument, every field
//!   followed by the byte `0xff` (which UTF-8 text never contains, so
//!   `["ab"]` and `["a", "b"]` differ);
//! - `occurrence`: how many earlier lines of the same file ask for exactly
//!   the same job (0 for the first), so that two identical lines stay two
//!   jobs.
//!
//! Both are fixed here and documented in the README: they must give the same
//! answer on every machine and every version, unlike std's randomised
//! hasher.

use std::collections::HashMap;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Who a job is, independent of its line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    pub hash: u64,
    pub occurrence: u32,
}

impl Identity {
    /// The shard, of `count`, that this job belongs to. The hash is mixed
    /// again (splitmix64's finaliser) so that the occurrence index and the
    /// low bits of FNV, which are weak, spread evenly.
    pub fn shard(&self, count: u32) -> u32 {
        assert!(count > 0, "a shard count is at least 1");
        let mut z = self.hash ^ (u64::from(self.occurrence)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % u64::from(count)) as u32
    }
}

/// FNV-1a 64 of a job's task and arguments (see the module docs).
pub fn job_hash(task: &str, args: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(task.as_bytes());
    for a in args {
        eat(a.as_bytes());
    }
    h
}

/// Numbers the occurrences of identical jobs while a jobs file is read in
/// order. It remembers every hash it has seen (about 9 bytes a job), and a
/// count only for the hashes seen more than once.
#[derive(Default)]
pub struct Occurrences {
    seen: HashSet<u64, BuildHasherDefault<Prehashed>>,
    repeats: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
}

impl Occurrences {
    /// The identity of the next job whose hash is `hash`.
    pub fn next(&mut self, hash: u64) -> Identity {
        let occurrence = if self.seen.insert(hash) {
            0
        } else {
            let count = self.repeats.entry(hash).or_insert(0);
            *count += 1;
            *count
        };
        Identity { hash, occurrence }
    }
}

/// The keys are FNV hashes already: hashing them again would only cost time.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed with Prehashed");
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_hash_is_fixed_forever() {
        // These values are part of the journal and shard format: a change
        // here silently reruns or re-shards every user's jobs.
        assert_eq!(job_hash("cube", &args(&["3"])), 0xe630_b2bb_c410_6b9f);
        assert_eq!(Identity { hash: 0xe630_b2bb_c410_6b9f, occurrence: 0 }.shard(16), 14);
        assert_eq!(Identity { hash: 0xe630_b2bb_c410_6b9f, occurrence: 1 }.shard(16), 5);
    }

    #[test]
    fn prehashed_keys_are_their_own_hash() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<Prehashed>::default();
        assert_eq!(build.hash_one(0x1234_5678_9abc_def0_u64), 0x1234_5678_9abc_def0);
        assert_eq!(build.hash_one(7_u64), 7);
    }

    #[test]
    fn field_boundaries_count() {
        assert_ne!(job_hash("cube", &args(&["ab"])), job_hash("cube", &args(&["a", "b"])));
        assert_ne!(job_hash("cube", &args(&[])), job_hash("cube", &args(&[""])));
        assert_ne!(job_hash("cub", &args(&["e"])), job_hash("cube", &args(&[])));
    }

    #[test]
    fn identical_jobs_are_numbered_in_order() {
        let mut occ = Occurrences::default();
        let (a, b) = (job_hash("cube", &args(&["1"])), job_hash("cube", &args(&["2"])));
        let seq: Vec<u32> = [a, b, a, a, b].iter().map(|&h| occ.next(h).occurrence).collect();
        assert_eq!(seq, [0, 0, 1, 2, 1]);
    }

    #[test]
    fn shards_partition_the_jobs_evenly() {
        for count in [1u32, 2, 7, 64] {
            let mut sizes = vec![0u32; count as usize];
            let mut occ = Occurrences::default();
            for i in 0..20_000u32 {
                // Some repeated jobs, so occurrences matter too.
                let id = occ.next(job_hash("cube", &args(&[&(i % 15_000).to_string()])));
                let shard = id.shard(count);
                assert!(shard < count);
                assert_eq!(shard, id.shard(count), "a job's shard is a function of its identity");
                sizes[shard as usize] += 1;
            }
            let mean = 20_000.0 / f64::from(count);
            for (i, &n) in sizes.iter().enumerate() {
                assert!((f64::from(n) - mean).abs() < mean * 0.25 + 30.0, "shard {i} of {count}: {n} jobs");
            }
        }
    }
}
