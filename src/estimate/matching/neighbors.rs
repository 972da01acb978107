//! Nearest neighbours on a one-dimensional score: each arm is sorted once and
//! searched by binary search, so matching n units costs O(n log n), not
//! O(n²).

/// One arm's units sorted by score (ties by row), for nearest-neighbour
/// searches.
#[derive(Debug, Clone)]
pub(crate) struct SortedArm {
    /// Scores in increasing order.
    scores: Vec<f64>,
    /// The row of each sorted score.
    rows: Vec<usize>,
}

impl SortedArm {
    /// Sorts `rows` by `score[row]`, ties broken by row.
    pub(crate) fn new(rows: impl Iterator<Item = usize>, score: &[f64]) -> Self {
        let mut rows: Vec<usize> = rows.collect();
        rows.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
        let scores = rows.iter().map(|&r| score[r]).collect();
        SortedArm { scores, rows }
    }

    /// Number of units in the arm.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Writes into `out` the rows and distances of the `m` units nearest to
    /// `q` (fewer when the arm is smaller), nearest first; `exclude` is a row
    /// never returned (the unit itself when matching within its own arm).
    /// Of two units at the same distance the one with the lower score comes
    /// first.
    pub(crate) fn nearest(
        &self,
        q: f64,
        m: usize,
        exclude: Option<usize>,
        out: &mut Vec<(usize, f64)>,
    ) {
        out.clear();
        let start = self.scores.partition_point(|&s| s < q);
        let (mut left, mut right) = (start, start);
        while out.len() < m {
            let below = (left > 0).then(|| (left - 1, q - self.scores[left - 1]));
            let above = (right < self.len()).then(|| (right, self.scores[right] - q));
            let (pos, dist) = match (below, above) {
                (Some(b), Some(a)) if a.1 < b.1 => {
                    right += 1;
                    a
                }
                (Some(b), _) => {
                    left -= 1;
                    b
                }
                (None, Some(a)) => {
                    right += 1;
                    a
                }
                (None, None) => break,
            };
            if Some(self.rows[pos]) != exclude {
                out.push((self.rows[pos], dist));
            }
        }
    }

    /// Greedy matching without replacement: the `targets` (rows of the other
    /// arm) are served in the order given, each taking up to `m` of the
    /// nearest units of this arm that are still free and within `caliper`;
    /// a unit taken is never used again. Returns the rows taken by each
    /// target, nearest first (empty when none is within the caliper or the
    /// arm has run out).
    pub(crate) fn greedy(
        &self,
        targets: &[usize],
        score: &[f64],
        m: usize,
        caliper: f64,
    ) -> Vec<Vec<usize>> {
        let len = self.len();
        // Free positions as two "next free" forests with path compression:
        // `up[i]` leads to the first free position >= i (len: none), and
        // `down[i]` to 1 + the last free position < i (0: none).
        let mut up: Vec<usize> = (0..=len).collect();
        let mut down: Vec<usize> = (0..=len).collect();
        targets
            .iter()
            .map(|&t| {
                let q = score[t];
                let start = self.scores.partition_point(|&s| s < q);
                let mut taken = Vec::with_capacity(m);
                while taken.len() < m {
                    let above = find(&mut up, start);
                    let below = find(&mut down, start);
                    let dist_above = (above < len).then(|| self.scores[above] - q);
                    let dist_below = (below > 0).then(|| q - self.scores[below - 1]);
                    let pos = match (dist_below, dist_above) {
                        (Some(b), Some(a)) if a < b => above,
                        (Some(_), _) => below - 1,
                        (None, Some(_)) => above,
                        (None, None) => break,
                    };
                    if (self.scores[pos] - q).abs() > caliper {
                        break;
                    }
                    taken.push(self.rows[pos]);
                    up[pos] = pos + 1;
                    down[pos + 1] = pos;
                }
                taken
            })
            .collect()
    }
}

/// The root of `i` in a "next free" forest, compressing the path to it.
fn find(parent: &mut [usize], i: usize) -> usize {
    let mut root = i;
    while parent[root] != root {
        root = parent[root];
    }
    let mut node = i;
    while parent[node] != root {
        let next = parent[node];
        parent[node] = root;
        node = next;
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// O(n²) reference: all distances sorted, ties by score then row.
    fn brute_nearest(
        rows: &[usize],
        score: &[f64],
        q: f64,
        m: usize,
        ex: Option<usize>,
    ) -> Vec<usize> {
        let mut all: Vec<usize> = rows.iter().copied().filter(|&r| Some(r) != ex).collect();
        all.sort_by(|&a, &b| {
            let (da, db) = ((score[a] - q).abs(), (score[b] - q).abs());
            da.total_cmp(&db)
                .then(score[a].total_cmp(&score[b]))
                .then(a.cmp(&b))
        });
        all.truncate(m);
        all
    }

    #[test]
    fn binary_search_finds_the_brute_force_neighbours() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for trial in 0..200 {
            let n = rng.random_range(1..60);
            // Coarse scores in some trials, so that ties occur.
            let score: Vec<f64> = (0..n)
                .map(|_| {
                    let v: f64 = rng.random_range(-3.0..3.0);
                    if trial % 2 == 0 {
                        (v * 2.0).round() / 2.0
                    } else {
                        v
                    }
                })
                .collect();
            let rows: Vec<usize> = (0..n).filter(|_| rng.random::<f64>() < 0.6).collect();
            let arm = SortedArm::new(rows.iter().copied(), &score);
            let mut out = Vec::new();
            for _ in 0..20 {
                let q = rng.random_range(-4.0..4.0);
                let m = rng.random_range(1..6);
                let ex = rows.first().copied().filter(|_| rng.random::<bool>());
                arm.nearest(q, m, ex, &mut out);
                let got: Vec<usize> = out.iter().map(|&(r, _)| r).collect();
                let want = brute_nearest(&rows, &score, q, m, ex);
                let dist =
                    |v: &[usize]| v.iter().map(|&r| (score[r] - q).abs()).collect::<Vec<_>>();
                // Equal distances in the same order; rows agree when unique.
                assert_eq!(dist(&got), dist(&want), "trial {trial}");
                for &(r, d) in &out {
                    assert_eq!(d, (score[r] - q).abs());
                }
            }
        }
    }

    /// O(n²) reference for greedy matching without replacement.
    fn brute_greedy(
        controls: &[usize],
        targets: &[usize],
        score: &[f64],
        m: usize,
        caliper: f64,
    ) -> Vec<Vec<usize>> {
        let mut free: Vec<usize> = controls.to_vec();
        targets
            .iter()
            .map(|&t| {
                let mut taken = Vec::new();
                while taken.len() < m {
                    let best = brute_nearest(&free, score, score[t], 1, None);
                    match best.first() {
                        Some(&c) if (score[c] - score[t]).abs() <= caliper => {
                            taken.push(c);
                            free.retain(|&r| r != c);
                        }
                        _ => break,
                    }
                }
                taken
            })
            .collect()
    }

    #[test]
    fn greedy_matching_equals_the_brute_force_greedy() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for trial in 0..200 {
            let n = rng.random_range(2..80);
            let score: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
            let (controls, treated): (Vec<usize>, Vec<usize>) =
                (0..n).partition(|_| rng.random::<f64>() < 0.6);
            let m = rng.random_range(1..4);
            let caliper = if trial % 3 == 0 {
                f64::INFINITY
            } else {
                rng.random_range(0.01..0.5)
            };
            let arm = SortedArm::new(controls.iter().copied(), &score);
            let got = arm.greedy(&treated, &score, m, caliper);
            let want = brute_greedy(&controls, &treated, &score, m, caliper);
            assert_eq!(got, want, "trial {trial}");
            let mut used: Vec<usize> = got.iter().flatten().copied().collect();
            let total = used.len();
            used.sort_unstable();
            used.dedup();
            assert_eq!(used.len(), total, "a control was used twice");
        }
    }
}
