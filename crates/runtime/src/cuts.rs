//! Cut layouts: where a run's commitment checkpoints, chosen from the plan alone.
//!
//! Hashing every step's outputs reads every byte inference writes (a third of PP-OCR det's CPU time), so
//! a run commits only at a few *cuts*. A cut after step `c` commits to its *live* steps: the steps
//! `s ≤ c` whose outputs a later step `t > c` starts its re-execution from (`s` in `t`'s frontier, see
//! [`Runtime::run_layer`]). Everything a step after the cut needs from before it is therefore in the
//! cut's commitment, and a dispute that has narrowed to the segment between two cuts can reveal that
//! segment's step leaves, compare them, and re-execute one step from values that are either agreed at the
//! earlier cut or agreed inside the segment (the game in `ogn-verify`).
//!
//! The layout is a function of the plan (which depends on the model and the input shapes), not of the
//! values, so every honest party and the referee derive the same one:
//! - `k = steps / SEGMENT_STEPS` cuts (none for small plans: their commitment is the output alone);
//! - cut `w` (1 ≤ w ≤ k) lies in the window of `steps / (k+1)` steps centred on `w · steps / (k+1)`, at the
//!   step after which the fewest bytes are live (the earliest on ties), so cuts fall where a network is
//!   narrow (between blocks, not across a skip connection).
//!
//! A value live across several cuts is hashed once; what a run hashes is [`CutLayout::hashed_steps`].

use std::ops::Range;

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::TypedSimplePlan;

use crate::trace::frontier;
use crate::{Model, Runtime, RuntimeError};
use ogn_types::Tensor;

/// Average number of steps between two cuts.
pub const SEGMENT_STEPS: usize = 32;

/// Most steps, cuts and live entries a layout read from outside may have.
pub const MAX_LAYOUT_STEPS: u32 = 1 << 20;
const MAX_LAYOUT_ENTRIES: usize = 1 << 16;

/// One checkpoint of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cut {
    /// The cut lies after this step.
    pub after: u32,
    /// The steps `≤ after` that later steps start from, ascending.
    pub live: Vec<u32>,
}

/// Where a run commits: its step count and its cuts, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CutLayout {
    /// Steps of the plan.
    pub steps: u32,
    /// The cuts, ascending by `after`, each before the last step.
    pub cuts: Vec<Cut>,
}

impl CutLayout {
    /// Number of committed states: one per cut, then the output state.
    pub fn count(&self) -> u64 {
        self.cuts.len() as u64 + 1
    }

    /// The steps between state `position − 1` and state `position` (the last position: to the end).
    pub fn segment(&self, position: usize) -> Option<Range<u32>> {
        if position > self.cuts.len() {
            return None;
        }
        let start = if position == 0 { 0 } else { self.cuts[position - 1].after + 1 };
        let end = self.cuts.get(position).map_or(self.steps, |c| c.after + 1);
        Some(start..end)
    }

    /// Per step, whether a run committing by this layout hashes it (it is live at some cut).
    pub fn hashed_steps(&self) -> Vec<bool> {
        let mut wanted = vec![false; self.steps as usize];
        for cut in &self.cuts {
            for s in &cut.live {
                if let Some(w) = wanted.get_mut(*s as usize) {
                    *w = true;
                }
            }
        }
        wanted
    }

    /// Checks the shape a dispute relies on: bounded sizes, ascending cuts before the last step, live
    /// steps ascending and before their cut, and every step live at a cut that is older than the
    /// previous cut also live there.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps == 0 || self.steps > MAX_LAYOUT_STEPS {
            return Err(format!("layout: {} steps (1 to {MAX_LAYOUT_STEPS})", self.steps));
        }
        let entries: usize = self.cuts.iter().map(|c| c.live.len() + 1).sum();
        if entries > MAX_LAYOUT_ENTRIES {
            return Err(format!("layout: {entries} entries, at most {MAX_LAYOUT_ENTRIES}"));
        }
        let mut previous: Option<&Cut> = None;
        for cut in &self.cuts {
            if cut.after + 1 >= self.steps || previous.is_some_and(|p| cut.after <= p.after) {
                return Err(format!("layout: cut after step {} out of order", cut.after));
            }
            if cut.live.windows(2).any(|w| w[0] >= w[1]) || cut.live.last() > Some(&cut.after) {
                return Err(format!("layout: live steps of the cut after {} unordered", cut.after));
            }
            if let Some(p) = previous {
                let older = cut.live.iter().filter(|s| **s <= p.after);
                if let Some(s) = older.into_iter().find(|s| p.live.binary_search(s).is_err()) {
                    return Err(format!(
                        "layout: step {s} is live after {} but not after {}",
                        cut.after, p.after
                    ));
                }
            }
            previous = Some(cut);
        }
        Ok(())
    }
}

impl Runtime {
    /// The cut layout of `model`'s plan for the shapes of `inputs`.
    pub fn cut_layout(&self, model: &Model, inputs: &[Tensor]) -> Result<CutLayout, RuntimeError> {
        let ordered = crate::engine::bind_inputs(model.info(), inputs)?;
        let shapes: Vec<Vec<usize>> = ordered.iter().map(|t| t.shape.clone()).collect();
        let prepared = self.prepare(model, &shapes)?;
        if let Some(layout) = prepared.layout.get() {
            return Ok(layout.clone());
        }
        let layout = layout_of(&prepared.plan)?;
        Ok(prepared.layout.get_or_init(|| layout).clone())
    }
}

fn layout_of(plan: &TypedSimplePlan) -> Result<CutLayout, RuntimeError> {
    let order = plan.order_without_consts();
    let n = order.len();
    // The last step that starts from each step's outputs.
    let mut last_use: Vec<Option<usize>> = vec![None; n];
    for t in 0..n {
        for s in frontier(plan, t)?.plain {
            last_use[s] = Some(last_use[s].map_or(t, |u| u.max(t)));
        }
    }
    let graph = plan.model();
    let bytes: Vec<u64> = order
        .iter()
        .map(|&node| {
            graph.node(node).outputs.iter().fold(0u64, |sum, o| {
                // A shape only known at run time counts as huge: a cut avoids it.
                let size = o.fact.shape.as_concrete().map_or(u64::MAX / 4, |dims| {
                    dims.iter().product::<usize>() as u64 * o.fact.datum_type.size_of() as u64
                });
                sum.saturating_add(size)
            })
        })
        .collect();
    let last_use = &last_use;
    let live = |c: usize| (0..=c).filter(move |&s| last_use[s].is_some_and(|t| t > c));
    let live_bytes = |c: usize| live(c).fold(0u64, |sum, s| sum.saturating_add(bytes[s]));

    let k = n / SEGMENT_STEPS;
    let mut cuts = Vec::with_capacity(k);
    let mut after_previous = 0usize;
    for w in 1..=k {
        let centre = w * n / (k + 1);
        let half = (n / (2 * (k + 1))).max(1);
        let window = centre.saturating_sub(half).max(after_previous)..(centre + half).min(n - 1);
        let Some(c) = window.min_by_key(|&c| (live_bytes(c), c)) else { continue };
        cuts.push(Cut { after: c as u32, live: live(c).map(|s| s as u32).collect() });
        after_previous = c + 1;
    }
    let layout = CutLayout { steps: n as u32, cuts };
    debug_assert_eq!(layout.validate(), Ok(()));
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(steps: u32, cuts: &[(u32, &[u32])]) -> CutLayout {
        CutLayout {
            steps,
            cuts: cuts
                .iter()
                .map(|(after, live)| Cut { after: *after, live: live.to_vec() })
                .collect(),
        }
    }

    #[test]
    fn segments_cover_the_steps_once() {
        let l = layout(10, &[(2, &[1, 2]), (6, &[2, 5, 6])]);
        assert_eq!(l.validate(), Ok(()));
        assert_eq!(l.count(), 3);
        let segments: Vec<_> = (0..3).map(|p| l.segment(p).unwrap()).collect();
        assert_eq!(segments, vec![0..3, 3..7, 7..10]);
        assert_eq!(l.segment(3), None);
        let hashed: Vec<usize> =
            l.hashed_steps().iter().enumerate().filter(|(_, w)| **w).map(|(s, _)| s).collect();
        assert_eq!(hashed, vec![1, 2, 5, 6]);
    }

    #[test]
    fn malformed_layouts_are_refused() {
        for bad in [
            layout(0, &[]),
            layout(5, &[(4, &[])]),
            layout(10, &[(6, &[]), (2, &[])]),
            layout(10, &[(2, &[2, 1])]),
            layout(10, &[(2, &[3])]),
            layout(10, &[(2, &[2]), (6, &[1, 6])]),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
