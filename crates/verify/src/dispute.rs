//! The dispute game: two parties that committed to different runs of the same job narrow their disagreement
//! to one step in O(log n) rounds; the referee (validators) re-executes that one step and decides.
//!
//! A commitment covers the m cuts of the job's [`CutLayout`] and the output (see [`crate::commitment`]):
//! states s₀ … sₘ over cut leaves, sₘ absorbing the output hash.
//! ```text
//!  open ─► counts differ? ── the side whose count is not the layout's loses
//!    │
//!    ▼  DESCEND (≤ log₂ m rounds): both reveal the children of the node where their trees differ;
//!    │  each reveal must hash to the party's node (the root via its domain-separated finish).
//!    │  Follow the first differing child ─► a position d whose states differ.
//!    ▼  BISECT (≤ log₂ m rounds) over [−1 = genesis (agreed), d (differs)]: both open the middle
//!    │  state (Merkle proof against their own root); equal ─► lo = mid, else hi = mid.
//!    ▼  SEGMENT at d = lo + 1 (one round): both reveal the leaves of the previous cut's live steps (they
//!    │  must chain to the agreed state sᵈ⁻¹) and of every step of segment d (for d < m they must give
//!    │  the side's own sᵈ through cut d's leaf). The first step i whose two leaves differ is disputed.
//!    │  (d = m and no leaf differs: the output state itself is disputed.)
//!    ▼  ONE STEP at i: anyone submits the values of the step's inputs; each must hash to a leaf agreed
//!       above (a live step of the previous cut, or an earlier step of the segment), so they are the
//!       honest run's values or BLAKE3/SHA-256 has a collision. The referee re-executes step i alone from
//!       them, and every side whose leaf differs loses (for the output state: the referee recomputes
//!       the output hash, and every side whose sₘ differs loses).
//! ```
//! A side that has not answered a round when its deadline passes loses (both, if both are silent); a
//! malformed answer is refused and the side may answer again before the deadline. Every input a step
//! after a cut starts from is live at that cut (the layout's definition), which is why a segment's
//! leaves never have to be committed in advance: only the cuts are hashed while running.

use alloy::primitives::B256;
use ogn_runtime::{CutLayout, LayerValue, LayerWitness};
use serde::{Deserialize, Serialize};

use crate::commitment::{LayerCommitment, Opening, StateTree, cut_leaf, next_state};

/// The two parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The operator whose result is challenged.
    Operator,
    /// The party that challenged it (a verifier or another replica).
    Challenger,
}

impl Side {
    fn ix(self) -> usize {
        self as usize
    }

    const BOTH: [Side; 2] = [Side::Operator, Side::Challenger];
}

/// What the current round asks of each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    /// Reveal the two children of the node at `level` (0 = states) and `index`.
    Children {
        /// Level of the node whose children are asked (≥ 1).
        level: u32,
        /// Index of the node within its level.
        index: u64,
    },
    /// Open state `index`.
    State {
        /// Position.
        index: u64,
    },
    /// Reveal the leaves of the segment that ends at state `position` ([`SegmentProof`]).
    Segment {
        /// Position of the first differing state.
        position: u64,
    },
    /// Anyone: a [`StepProof`] for runtime step `index` (the plan's step count: the output state).
    Step {
        /// The step to re-execute.
        index: u64,
    },
}

/// An answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// The two children.
    Children {
        /// Left child.
        left: B256,
        /// Right child.
        right: B256,
    },
    /// A state with its Merkle path.
    State(Opening),
    /// The leaves of a segment.
    Segment(SegmentProof),
    /// The inputs of the step to re-execute.
    Step(StepProof),
}

/// The leaves around segment `d`: what the agreed state `sᵈ⁻¹` commits to, and the segment's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentProof {
    /// The state before the previous cut's (`sᵈ⁻²`, the genesis state when d ≤ 1).
    pub before_state: B256,
    /// Leaves of the previous cut's live steps, in the layout's order (none when d = 0).
    pub before: Vec<B256>,
    /// Leaves of every step of segment `d`, in order.
    pub leaves: Vec<B256>,
}

/// The inputs of the step to re-execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    /// Output values of the steps it starts from (each with an agreed leaf).
    pub witness: LayerWitness,
}

/// What a party needs to answer every query about its run.
#[derive(Debug, Clone)]
pub struct RunEvidence {
    /// Where the run commits.
    pub layout: CutLayout,
    /// The tree over its states.
    pub tree: StateTree,
    /// Per runtime step, its leaf where known: the cuts' live steps at least, every step once
    /// [`RunEvidence::complete`]d (the output hash is not among them).
    pub leaves: Vec<Option<B256>>,
    /// The genesis state.
    pub genesis: B256,
}

impl RunEvidence {
    /// Whether every step's leaf is known (what answering a [`Query::Segment`] needs).
    pub fn is_complete(&self) -> bool {
        self.leaves.iter().all(Option::is_some)
    }

    /// Fills in the leaves not hashed while running, from a full trace of the same run
    /// (`ogn_runtime::Runtime::run_traced`); leaves already known are kept.
    pub fn complete(&mut self, all: &[[u8; 32]]) {
        for (known, leaf) in self.leaves.iter_mut().zip(all) {
            known.get_or_insert(B256::from(*leaf));
        }
    }

    /// The answer an honest holder of this run gives to `query` (`witness` supplies step inputs); `None`
    /// for a segment whose leaves are not all known yet.
    pub fn answer(
        &self,
        query: Query,
        witness: impl FnOnce(u64) -> Option<LayerWitness>,
    ) -> Option<Answer> {
        match query {
            Query::Children { level, index } => {
                let (left, right) = self.tree.children(level, index)?;
                Some(Answer::Children { left, right })
            }
            Query::State { index } => self.tree.open(index).map(Answer::State),
            Query::Segment { position } => {
                let d = usize::try_from(position).ok()?;
                let range = self.layout.segment(d)?;
                let before_state =
                    if d >= 2 { *self.tree.states().get(d - 2)? } else { self.genesis };
                let before = match d.checked_sub(1) {
                    None => Vec::new(),
                    Some(p) => self.layout.cuts[p]
                        .live
                        .iter()
                        .map(|s| self.leaves.get(*s as usize).copied().flatten())
                        .collect::<Option<_>>()?,
                };
                let leaves = self
                    .leaves
                    .get(range.start as usize..range.end as usize)?
                    .iter()
                    .copied()
                    .collect::<Option<_>>()?;
                Some(Answer::Segment(SegmentProof { before_state, before, leaves }))
            }
            Query::Step { index } => Some(Answer::Step(StepProof { witness: witness(index)? })),
        }
    }
}

/// The witness an honest party gives for runtime step `index` of a run with `steps` steps: the values
/// re-executing that step starts from, or none for the output state (the referee recomputes the outputs).
pub fn step_witness(
    runtime: &ogn_runtime::Runtime,
    model: &ogn_runtime::Model,
    inputs: &[ogn_types::Tensor],
    steps: usize,
    index: u64,
) -> Option<LayerWitness> {
    if index as usize >= steps {
        Some(LayerWitness::default())
    } else {
        runtime.layer_witness(model, inputs, index as usize).ok()
    }
}

/// Re-executes one step for the game.
pub trait Referee {
    /// Leaf of runtime step `index` re-executed from `witness`, or the output hash when `index` is the
    /// plan's step count.
    fn leaf(&self, index: u64, witness: &LayerWitness) -> Result<B256, String>;
}

/// Round timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeParams {
    /// Time each round allows (blocks, or the caller's clock unit).
    pub round_timeout: u64,
}

/// How a dispute ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Sides that lose (slashed).
    pub losers: Vec<Side>,
    /// Why, in words.
    pub reason: String,
    /// The runtime step re-executed (the step count: the output state), when it came to that.
    pub step: Option<u64>,
    /// Rounds played.
    pub rounds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    Descend {
        level: u32,
        index: u64,
        nodes: [Option<B256>; 2],
    },
    Bisect {
        lo: Option<u64>,
        lo_state: B256,
        hi: u64,
        claims: [B256; 2],
        mid: u64,
    },
    Segment {
        position: u64,
        agreed: B256,
        claims: [B256; 2],
    },
    /// `claims` are the two leaves of step `index`, or the two output states (`agreed` then the state
    /// before it); `known` the agreed leaves a witness may use.
    OneStep {
        index: u64,
        agreed: B256,
        known: Vec<(u32, B256)>,
        claims: [B256; 2],
    },
    Decided(Verdict),
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputeError {
    /// The commitments are equal: nothing to dispute.
    #[error("the two commitments are equal")]
    NoDisagreement,
    /// The game is over.
    #[error("the dispute is decided")]
    Decided,
    /// Answer past the deadline.
    #[error("the round closed at {deadline}")]
    Late {
        /// The deadline.
        deadline: u64,
    },
    /// Wrong kind of answer, or one that does not check.
    #[error("answer refused: {0}")]
    Refused(String),
}

/// One dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    commitments: [LayerCommitment; 2],
    genesis: B256,
    layout: CutLayout,
    params: DisputeParams,
    phase: Phase,
    answers: [Option<Answer>; 2],
    deadline: u64,
    rounds: u32,
}

impl Dispute {
    /// Opens a dispute between `operator` and `challenger` over a job with cut layout `layout`.
    pub fn open(
        operator: LayerCommitment,
        challenger: LayerCommitment,
        genesis: B256,
        layout: CutLayout,
        now: u64,
        params: DisputeParams,
    ) -> Result<Self, DisputeError> {
        if operator == challenger {
            return Err(DisputeError::NoDisagreement);
        }
        layout.validate().map_err(DisputeError::Refused)?;
        let expected_count = layout.count();
        let commitments = [operator, challenger];
        let wrong: Vec<Side> = Side::BOTH
            .into_iter()
            .filter(|s| commitments[s.ix()].count != expected_count)
            .collect();
        let phase = if !wrong.is_empty() {
            Phase::Decided(Verdict {
                losers: wrong,
                reason: format!(
                    "the layout has {expected_count} states; a commitment counts otherwise"
                ),
                step: None,
                rounds: 0,
            })
        } else if expected_count == 1 {
            // One state: open it (the claims), then re-execute it.
            Phase::Bisect { lo: None, lo_state: genesis, hi: 0, claims: [B256::ZERO; 2], mid: 0 }
        } else {
            let top = expected_count.next_power_of_two().trailing_zeros();
            Phase::Descend { level: top, index: 0, nodes: [None, None] }
        };
        Ok(Self {
            commitments,
            genesis,
            layout,
            params,
            phase,
            answers: [None, None],
            deadline: now.saturating_add(params.round_timeout),
            rounds: 0,
        })
    }

    /// The current question, `None` once decided.
    pub fn query(&self) -> Option<Query> {
        match &self.phase {
            Phase::Descend { level, index, .. } => {
                Some(Query::Children { level: *level, index: *index })
            }
            Phase::Bisect { mid, .. } => Some(Query::State { index: *mid }),
            Phase::Segment { position, .. } => Some(Query::Segment { position: *position }),
            Phase::OneStep { index, .. } => Some(Query::Step { index: *index }),
            Phase::Decided(_) => None,
        }
    }

    /// The verdict, once decided.
    pub fn verdict(&self) -> Option<&Verdict> {
        match &self.phase {
            Phase::Decided(v) => Some(v),
            _ => None,
        }
    }

    /// When the current round closes.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    /// Whether `side` still owes an answer this round.
    pub fn awaits(&self, side: Side) -> bool {
        match self.phase {
            Phase::Descend { .. } | Phase::Bisect { .. } | Phase::Segment { .. } => {
                self.answers[side.ix()].is_none()
            }
            Phase::OneStep { .. } => true,
            Phase::Decided(_) => false,
        }
    }

    fn decide(&mut self, losers: Vec<Side>, reason: String, step: Option<u64>) {
        self.phase = Phase::Decided(Verdict { losers, reason, step, rounds: self.rounds });
    }

    fn next_round(&mut self, phase: Phase, now: u64) {
        self.phase = phase;
        self.answers = [None, None];
        self.deadline = now.saturating_add(self.params.round_timeout);
        self.rounds += 1;
    }

    /// Closes the round if its deadline has passed: silent sides lose.
    pub fn tick(&mut self, now: u64) {
        if now <= self.deadline || self.verdict().is_some() {
            return;
        }
        let silent: Vec<Side> = match self.phase {
            Phase::OneStep { .. } => Side::BOTH.to_vec(),
            _ => Side::BOTH.into_iter().filter(|s| self.answers[s.ix()].is_none()).collect(),
        };
        let step = match self.phase {
            Phase::OneStep { index, .. } => Some(index),
            _ => None,
        };
        self.decide(silent, "did not answer before the round's deadline".into(), step);
    }

    /// An answer from `side` (for a step proof, either side) at time `now`.
    pub fn submit(
        &mut self,
        side: Side,
        answer: Answer,
        now: u64,
        referee: &dyn Referee,
    ) -> Result<(), DisputeError> {
        if self.verdict().is_some() {
            return Err(DisputeError::Decided);
        }
        if now > self.deadline {
            return Err(DisputeError::Late { deadline: self.deadline });
        }
        let refuse = |why: &str| Err(DisputeError::Refused(why.to_string()));
        let c = self.commitments[side.ix()];
        match (&self.phase, &answer) {
            (Phase::Descend { level, index, nodes }, Answer::Children { left, right }) => {
                let parent = crate::commitment::node(*left, *right);
                let ok = match nodes[side.ix()] {
                    None => crate::commitment::finish(c.count, parent) == c.root,
                    Some(n) => n == parent,
                };
                if !ok || *level == 0 || *index >= c.count.next_power_of_two() >> level {
                    return refuse("children do not hash to the side's node");
                }
            }
            (Phase::Bisect { mid, .. }, Answer::State(o)) => {
                if o.index != *mid || !o.verify(&c) {
                    return refuse("opening is not of the asked state under the side's root");
                }
            }
            (Phase::Segment { position, agreed, claims }, Answer::Segment(proof)) => {
                self.check_segment(*position, *agreed, claims[side.ix()], proof)
                    .map_err(|why| DisputeError::Refused(why.into()))?;
            }
            (Phase::OneStep { index, agreed, known, claims }, Answer::Step(proof)) => {
                let (index, agreed, claims) = (*index, *agreed, *claims);
                let known = known.clone();
                return self.one_step(index, agreed, &known, claims, proof, referee);
            }
            _ => return refuse("answer does not fit the question"),
        }
        if self.answers[side.ix()].is_some() {
            return refuse("already answered this round");
        }
        self.answers[side.ix()] = Some(answer);
        if self.answers.iter().all(Option::is_some) {
            self.advance(now);
        }
        Ok(())
    }

    fn advance(&mut self, now: u64) {
        let [Some(a), Some(b)] = std::mem::take(&mut self.answers) else { return };
        match (self.phase.clone(), a, b) {
            (
                Phase::Descend { level, index, .. },
                Answer::Children { left: l0, right: r0 },
                Answer::Children { left: l1, right: r1 },
            ) => {
                let (index, nodes) =
                    if l0 != l1 { (index * 2, [l0, l1]) } else { (index * 2 + 1, [r0, r1]) };
                if nodes[0] == nodes[1] {
                    // Different parents with equal children: only a hash collision does that.
                    self.decide(vec![], "no differing child (hash collision?)".into(), None);
                } else if level > 1 {
                    let phase = Phase::Descend {
                        level: level - 1,
                        index,
                        nodes: [Some(nodes[0]), Some(nodes[1])],
                    };
                    self.next_round(phase, now);
                } else if index >= self.commitments[0].count {
                    // A padding position: honest trees hold zero there.
                    let losers =
                        Side::BOTH.into_iter().filter(|s| nodes[s.ix()] != B256::ZERO).collect();
                    self.decide(losers, format!("non-zero padding at position {index}"), None);
                } else {
                    self.bisect_or_step(None, self.genesis, index, nodes, now);
                }
            }
            (
                Phase::Bisect { lo, lo_state, hi, claims, mid },
                Answer::State(a),
                Answer::State(b),
            ) => {
                if mid == hi {
                    // The opening round of a one-state plan: learn the claims at 0.
                    self.bisect_or_step(lo, lo_state, hi, [a.state, b.state], now);
                } else if a.state == b.state {
                    self.bisect_or_step(Some(mid), a.state, hi, claims, now);
                } else {
                    self.bisect_or_step(lo, lo_state, mid, [a.state, b.state], now);
                }
            }
            (
                Phase::Segment { position, agreed, claims },
                Answer::Segment(a),
                Answer::Segment(b),
            ) => self.after_segment(position, agreed, claims, &a, &b, now),
            _ => self.decide(vec![], "inconsistent round".into(), None),
        }
    }

    /// Whether `proof` is a side's consistent answer for segment `position`: its earlier cut chains to
    /// the agreed state, and (before the output state) its leaves give the side's own state.
    fn check_segment(
        &self,
        position: u64,
        agreed: B256,
        claim: B256,
        proof: &SegmentProof,
    ) -> Result<(), &'static str> {
        let d = position as usize;
        let range = self.layout.segment(d).ok_or("no such segment")?;
        if proof.leaves.len() != range.len() {
            return Err("the leaves must cover the segment's steps");
        }
        let previous = d.checked_sub(1).map(|p| &self.layout.cuts[p]);
        let chains = match previous {
            None => proof.before.is_empty(),
            Some(cut) => {
                proof.before.len() == cut.live.len()
                    && next_state(proof.before_state, cut_leaf(cut, &proof.before)) == agreed
            }
        };
        if !chains {
            return Err("the earlier cut's leaves do not chain to the agreed state");
        }
        if let Some(cut) = self.layout.cuts.get(d) {
            let mut live = Vec::with_capacity(cut.live.len());
            for s in &cut.live {
                let leaf = if *s >= range.start {
                    proof.leaves[(*s - range.start) as usize]
                } else {
                    let at = previous.and_then(|p| p.live.binary_search(s).ok());
                    proof.before[at.ok_or("a live step is in no earlier cut")?]
                };
                live.push(leaf);
            }
            if next_state(agreed, cut_leaf(cut, &live)) != claim {
                return Err("the segment's leaves do not give the side's state");
            }
        }
        Ok(())
    }

    /// Both segments are in: dispute their first differing step, or the output state.
    fn after_segment(
        &mut self,
        position: u64,
        agreed: B256,
        claims: [B256; 2],
        a: &SegmentProof,
        b: &SegmentProof,
        now: u64,
    ) {
        let d = position as usize;
        let Some(range) = self.layout.segment(d) else {
            return self.decide(vec![], "inconsistent round".into(), None);
        };
        match a.leaves.iter().zip(&b.leaves).position(|(x, y)| x != y) {
            Some(i) => {
                let mut known: Vec<(u32, B256)> = match d.checked_sub(1) {
                    Some(p) => {
                        self.layout.cuts[p].live.iter().copied().zip(a.before.clone()).collect()
                    }
                    None => Vec::new(),
                };
                known.extend((range.start..).zip(a.leaves[..i].iter().copied()));
                let index = u64::from(range.start) + i as u64;
                let claims = [a.leaves[i], b.leaves[i]];
                self.next_round(Phase::OneStep { index, agreed: B256::ZERO, known, claims }, now);
            }
            None if d == self.layout.cuts.len() => {
                let index = u64::from(self.layout.steps);
                self.next_round(Phase::OneStep { index, agreed, known: vec![], claims }, now);
            }
            None => self.decide(
                vec![],
                "equal segments, different states (hash collision?)".into(),
                None,
            ),
        }
    }

    fn bisect_or_step(
        &mut self,
        lo: Option<u64>,
        lo_state: B256,
        hi: u64,
        claims: [B256; 2],
        now: u64,
    ) {
        let next = lo.map_or(0, |l| l + 1);
        if next >= hi {
            self.next_round(Phase::Segment { position: hi, agreed: lo_state, claims }, now);
        } else {
            let mid = next + (hi - next) / 2;
            self.next_round(Phase::Bisect { lo, lo_state, hi, claims, mid }, now);
        }
    }

    fn one_step(
        &mut self,
        index: u64,
        agreed: B256,
        known: &[(u32, B256)],
        claims: [B256; 2],
        proof: &StepProof,
        referee: &dyn Referee,
    ) -> Result<(), DisputeError> {
        let refuse = |why: String| Err(DisputeError::Refused(why));
        for (step, values) in &proof.witness.steps {
            let Some((_, leaf)) = known.iter().find(|(s, _)| *s as usize == *step) else {
                return refuse(format!("witness step {step} has no agreed leaf"));
            };
            if B256::from(LayerValue::leaf(values)) != *leaf {
                return refuse(format!("witness step {step} does not hash to its leaf"));
            }
        }
        let leaf = match referee.leaf(index, &proof.witness) {
            Ok(leaf) => leaf,
            Err(e) => return refuse(format!("re-execution: {e}")),
        };
        self.decide_step(index, agreed, claims, leaf);
        Ok(())
    }

    /// Decides the step the game narrowed to from the referee's own re-execution, when the referee holds
    /// the job's inputs and derives the step's inputs itself (a run up to the step) instead of taking
    /// them from a [`StepProof`] — for steps whose inputs are too large to carry in a transaction. Sound
    /// for an honest party: its leaves are the true run's, so the agreed ones it shares are too, and the
    /// referee's values are the agreed inputs.
    pub fn settle_step(&mut self, leaf: B256) -> Result<(), DisputeError> {
        let Phase::OneStep { index, agreed, claims, .. } = &self.phase else {
            return Err(DisputeError::Refused("no step to settle".into()));
        };
        let (index, agreed, claims) = (*index, *agreed, *claims);
        self.decide_step(index, agreed, claims, leaf);
        Ok(())
    }

    fn decide_step(&mut self, index: u64, agreed: B256, claims: [B256; 2], leaf: B256) {
        let output = index == u64::from(self.layout.steps);
        let truth = if output { next_state(agreed, leaf) } else { leaf };
        let losers: Vec<Side> =
            Side::BOTH.into_iter().filter(|s| claims[s.ix()] != truth).collect();
        let reason = match losers.as_slice() {
            [Side::Operator] => "the operator's leaf differs from the re-executed step",
            [Side::Challenger] => "the challenger's leaf differs from the re-executed step",
            _ => "both leaves differ from the re-executed step",
        };
        self.rounds += 1;
        self.decide(losers, reason.into(), Some(index));
    }
}
