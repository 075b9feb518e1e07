//! Streaming quantiles in constant memory: the P² algorithm (Jain & Chlamtac, 1985), extended to track the
//! 5th, 50th and 95th percentiles at once with nine markers.
//!
//! A [`Sketch`] holds nine marker heights and positions (112 bytes) however many values it has seen; the
//! ensemble keeps one per metric per step, so memory grows with steps × metrics, never with runs. Up to nine
//! values the quantiles are exact; beyond, each marker moves toward its desired position by a parabolic (or,
//! when that would break the order, linear) interpolation. Values are fed in a fixed order (run 0, 1, 2, …),
//! so the estimate is deterministic.

/// Probabilities the nine markers track: the minimum, the three reported quantiles, the maximum and the
/// midpoints between them (which steady the estimate).
const P: [f64; 9] = [0.0, 0.025, 0.05, 0.275, 0.5, 0.725, 0.95, 0.975, 1.0];

/// The quantiles a sketch reports: p5, p50, p95.
pub const QUANTILES: [f64; 3] = [0.05, 0.5, 0.95];

/// Marker index of each of [`QUANTILES`].
const REPORTED: [usize; 3] = [2, 4, 6];

/// A P² quantile sketch of one stream of values.
#[derive(Debug, Clone, Default)]
pub struct Sketch {
    n: u32,
    q: [f64; 9],
    pos: [u32; 9],
}

impl Sketch {
    /// An empty sketch.
    pub fn new() -> Sketch {
        Sketch::default()
    }

    /// Values seen (NaN is skipped).
    pub fn count(&self) -> u32 {
        self.n
    }

    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        let n = self.n as usize;
        if n < 9 {
            // Keep the first nine sorted (insertion).
            let mut i = n;
            while i > 0 && self.q[i - 1] > x {
                self.q[i] = self.q[i - 1];
                i -= 1;
            }
            self.q[i] = x;
            self.n += 1;
            if self.n == 9 {
                for (k, p) in self.pos.iter_mut().enumerate() {
                    *p = k as u32 + 1;
                }
            }
            return;
        }
        let q = &mut self.q;
        let k = if x < q[0] {
            q[0] = x;
            0
        } else if x >= q[8] {
            q[8] = x;
            7
        } else {
            (0..8).find(|&i| x < q[i + 1]).unwrap_or(7)
        };
        for p in &mut self.pos[k + 1..] {
            *p += 1;
        }
        self.n += 1;
        let total = f64::from(self.n - 1);
        for i in 1..8 {
            let (np, n0, nm) =
                (f64::from(self.pos[i + 1]), f64::from(self.pos[i]), f64::from(self.pos[i - 1]));
            let delta = 1.0 + total * P[i] - n0;
            if (delta >= 1.0 && np - n0 > 1.0) || (delta <= -1.0 && nm - n0 < -1.0) {
                let s = delta.signum();
                let (qp, q0, qm) = (q[i + 1], q[i], q[i - 1]);
                let parabolic = q0
                    + s / (np - nm)
                        * ((n0 - nm + s) * (qp - q0) / (np - n0)
                            + (np - n0 - s) * (q0 - qm) / (n0 - nm));
                q[i] = if qm < parabolic && parabolic < qp {
                    parabolic
                } else if s > 0.0 {
                    q0 + (qp - q0) / (np - n0)
                } else {
                    q0 - (qm - q0) / (nm - n0)
                };
                if s > 0.0 {
                    self.pos[i] += 1;
                } else {
                    self.pos[i] -= 1;
                }
            }
        }
    }

    /// The estimates of p5, p50 and p95 (exact up to nine values; zeros when empty).
    pub fn quantiles(&self) -> [f64; 3] {
        let n = self.n as usize;
        if n == 0 {
            return [0.0; 3];
        }
        if n < 9 {
            return QUANTILES.map(|p| {
                let v = &self.q[..n];
                let at = p * (n - 1) as f64;
                let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
                v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
            });
        }
        REPORTED.map(|i| self.q[i])
    }

    /// The median estimate.
    pub fn median(&self) -> f64 {
        self.quantiles()[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{quantile, rng::Rng};

    #[test]
    fn exact_for_few_values() {
        let mut s = Sketch::new();
        for x in [5.0, 1.0, 3.0] {
            s.push(x);
        }
        let q = s.quantiles();
        assert_eq!(q[1], 3.0);
        assert!((q[0] - quantile(&[1.0, 3.0, 5.0], 0.05)).abs() < 1e-12);
        assert_eq!(Sketch::new().quantiles(), [0.0; 3]);
    }

    #[test]
    fn close_to_exact_quantiles_of_a_skewed_stream() {
        let mut rng = Rng::new(3);
        let values: Vec<f64> = (0..5_000).map(|_| rng.normal().exp()).collect();
        let mut s = Sketch::new();
        for v in &values {
            s.push(*v);
        }
        for (k, p) in QUANTILES.iter().enumerate() {
            let exact = quantile(&values, *p);
            let est = s.quantiles()[k];
            assert!((est - exact).abs() / exact < 0.05, "p{p}: {est} vs {exact}");
        }
    }

    #[test]
    fn constant_and_sorted_streams_stay_ordered() {
        let mut a = Sketch::new();
        let mut b = Sketch::new();
        for i in 0..1_000 {
            a.push(2.0);
            b.push(f64::from(i));
        }
        assert_eq!(a.quantiles(), [2.0; 3]);
        let q = b.quantiles();
        assert!(q[0] < q[1] && q[1] < q[2], "{q:?}");
        assert!((q[1] - 499.5).abs() < 15.0, "{q:?}");
    }
}
