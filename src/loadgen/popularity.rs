//! Which object each view reads (`[downloads] views`, `popularity`): a plan drawn once before the
//! load, so every read architecture of a run views the same objects in the same order and the
//! workers only index it.
//!
//! Zipf: the k-th object (k from 1) is drawn with probability (1/k^s) / Σ 1/j^s. Hand-written
//! (a cumulative table and a binary search, a dozen lines) rather than `rand_distr::Zipf`: the
//! table over the finite set of stored objects is exact, needs no extra dependency, and makes
//! the expected shares checkable by hand in the tests below.

use rand::{Rng, SeedableRng};

/// The object (an index below `objects`) of each of `views` views, object 0 the most popular;
/// every object alike when `zipf` is `None`. The same `seed` gives the same plan.
#[must_use]
pub fn plan(objects: usize, views: u64, zipf: Option<f64>, seed: u64) -> Vec<u32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = u32::try_from(objects.max(1)).unwrap_or(u32::MAX);
    let Some(s) = zipf else {
        return (0..views).map(|_| rng.random_range(0..n)).collect();
    };
    let mut total = 0.0;
    let cumulative: Vec<f64> = (1..=n)
        .map(|k| {
            total += f64::from(k).powf(-s);
            total
        })
        .collect();
    (0..views)
        .map(|_| {
            let u = rng.random::<f64>() * total;
            let k = cumulative.partition_point(|&c| c <= u);
            u32::try_from(k.min(cumulative.len() - 1)).unwrap_or(0)
        })
        .collect()
}

/// How many distinct objects a plan reads: the fewest cache fills a cache big enough for all of
/// them needs.
#[must_use]
pub fn distinct(plan: &[u32]) -> usize {
    plan.iter().collect::<std::collections::HashSet<_>>().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(plan: &[u32], object: u32) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let s = plan.iter().filter(|&&o| o == object).count() as f64 / plan.len() as f64;
        s
    }

    #[test]
    fn zipf_shares_follow_one_over_k_to_the_s() {
        // s = 1 over 3 objects: weights 1, 1/2, 1/3, total 11/6: shares 6/11, 3/11, 2/11.
        let p = plan(3, 200_000, Some(1.0), 7);
        for (object, expected) in [(0, 6.0 / 11.0), (1, 3.0 / 11.0), (2, 2.0 / 11.0)] {
            assert!((share(&p, object) - expected).abs() < 0.005, "{object}: {}", share(&p, object));
        }
        // s = 2: 1, 1/4, 1/9 over 49/36: object 0 gets 36/49.
        assert!((share(&plan(3, 200_000, Some(2.0), 8), 0) - 36.0 / 49.0).abs() < 0.005);
    }

    #[test]
    fn uniform_plans_spread_evenly_and_plans_repeat_with_their_seed() {
        let p = plan(4, 100_000, None, 1);
        for object in 0..4 {
            assert!((share(&p, object) - 0.25).abs() < 0.01);
        }
        assert_eq!(plan(100, 1000, Some(1.1), 5), plan(100, 1000, Some(1.1), 5));
        assert_ne!(plan(100, 1000, Some(1.1), 5), plan(100, 1000, Some(1.1), 6));
        assert!(plan(10, 1000, Some(1.1), 5).iter().all(|&o| o < 10));
        assert_eq!(distinct(&[3, 1, 3, 3]), 2);
        assert_eq!(plan(0, 5, Some(1.0), 1), vec![0; 5]);
    }
}
