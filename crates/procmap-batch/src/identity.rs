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
//! - `occurrence`: the job's rank among the lines of the same file that ask
//!   for exactly the same job (0 for the first), so that two identical
//!   lines stay two jobs.
//!
//! A run does not number occurrences as it goes: that would mean
//! remembering every hash it has seen, memory that grows with the batch.
//! The shard depends on the hash alone (identical lines land on one shard),
//! and occurrences are counted only where they matter, at resume time and
//! only for the hashes the old journal holds (see [`crate::previous`]). A
//! record whose writer did not know its occurrence omits it, and readers
//! rank such records by line (see [`crate::occurrence`]). Identical lines
//! are interchangeable: a resumed run runs as many of them as have no
//! record.
//!
//! Both rules are fixed here and documented in the README: they must give
//! the same answer on every machine and every version, unlike std's
//! randomised hasher.

use procmap::Input;

/// Who a job is, independent of its line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub hash: u64,
    pub occurrence: u32,
}

/// The shard, of `count`, that a job whose hash is `hash` belongs to. The
/// hash is mixed again (splitmix64's finaliser) because the low bits of
/// FNV are weak. (Before journal format 2 the occurrence was mixed in too;
/// for the first occurrence, which is most jobs, the shard is unchanged.)
pub fn shard_of(hash: u64, count: u32) -> u32 {
    assert!(count > 0, "a shard count is at least 1");
    let mut z = hash;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % u64::from(count)) as u32
}

/// FNV-1a 64 of a job's task and arguments (see the module docs).
pub fn job_hash(task: &str, args: &[String]) -> u64 {
    job_hash_of(task, args.iter().map(String::as_str))
}

/// [`job_hash`] of arguments held in any form.
pub fn job_hash_of<'a>(task: &str, args: impl IntoIterator<Item = &'a str>) -> u64 {
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

/// The hash of what an input asks for; an invalid line is known by the task
/// name and arguments it reports, as its record will be.
pub fn input_hash(input: &Input) -> u64 {
    match input {
        Input::Job(job) | Input::Alone(job) | Input::Done(job) => job_hash(&job.task, &job.args),
        Input::Invalid { task, args, .. } => job_hash(task, args),
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
        // here silently reruns or re-shards every user's jobs. (14 is what
        // format 1 gave the first occurrence too.)
        assert_eq!(job_hash("cube", &args(&["3"])), 0xe630_b2bb_c410_6b9f);
        assert_eq!(shard_of(0xe630_b2bb_c410_6b9f, 16), 14);
        assert_eq!(shard_of(job_hash("cube", &args(&["4"])), 16), 15);
    }

    #[test]
    fn field_boundaries_count() {
        assert_ne!(job_hash("cube", &args(&["ab"])), job_hash("cube", &args(&["a", "b"])));
        assert_ne!(job_hash("cube", &args(&[])), job_hash("cube", &args(&[""])));
        assert_ne!(job_hash("cub", &args(&["e"])), job_hash("cube", &args(&[])));
    }

    #[test]
    fn shards_partition_the_jobs_evenly() {
        for count in [1u32, 2, 7, 64] {
            let mut sizes = vec![0u32; count as usize];
            for i in 0..20_000u32 {
                let hash = job_hash("cube", &args(&[&i.to_string()]));
                let shard = shard_of(hash, count);
                assert!(shard < count);
                sizes[shard as usize] += 1;
            }
            let mean = 20_000.0 / f64::from(count);
            for (i, &n) in sizes.iter().enumerate() {
                assert!((f64::from(n) - mean).abs() < mean * 0.25 + 30.0, "shard {i} of {count}: {n} jobs");
            }
        }
    }
}
