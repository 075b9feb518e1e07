//! The dispute game: two parties that committed to different runs of the same job narrow their disagreement
//! to one step in O(log n) rounds; the referee (validators) re-executes that one step and decides.
//!
//! ```text
//!  open ─► counts differ? ── the side whose count is not the plan's loses
//!    │
//!    ▼  DESCEND (≤ log₂ n rounds): both reveal the children of the node where their trees differ;
//!    │  each reveal must hash to the party's node (the root via its domain-separated finish).
//!    │  Follow the first differing child ─► a position d whose states differ.
//!    ▼  BISECT (≤ log₂ n rounds) over [−1 = genesis (agreed), d (differs)]: both open the middle
//!    │  state (Merkle proof against their own root); equal ─► lo = mid, else hi = mid.
//!    ▼  ONE STEP at i = lo + 1: anyone submits the leaves from the step's earliest input f to i−1, the
//!       values of the inputs, and the state before f; they must chain to the agreed state sᵢ₋₁ (so they
//!       are the honest run's values, or SHA-256 has a collision). The referee re-executes step i alone
//!       from those values (the output state: hashes the outputs), computes the true sᵢ, and every side
//!       whose sᵢ differs loses.
//! ```
//! A side that has not answered a round when its deadline passes loses (both, if both are silent); a
//! malformed answer is refused and the side may answer again before the deadline.

use alloy::primitives::B256;
use ogn_runtime::{LayerValue, LayerWitness};
use serde::{Deserialize, Serialize};

use crate::commitment::{LayerCommitment, Opening, StateTree, next_state};

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
    /// Anyone: a [`StepProof`] for state `index`.
    Step {
        /// Position of the state to re-execute.
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
    /// The inputs of the step to re-execute.
    Step(StepProof),
}

/// The inputs of step `i`, tied to the agreed state `sᵢ₋₁`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    /// First position whose leaf is given (`f`).
    pub from: u64,
    /// The state before `f` (`s_{f−1}`, or the genesis state when `f = 0`).
    pub start: B256,
    /// Leaves `f … i−1`.
    pub leaves: Vec<B256>,
    /// Output values of the input steps (each within `f … i−1`).
    pub witness: LayerWitness,
}

/// What a party needs to answer every query about its run.
#[derive(Debug, Clone)]
pub struct RunEvidence {
    /// The tree over its states.
    pub tree: StateTree,
    /// Its leaves (one per runtime step; the output hash is not among them).
    pub leaves: Vec<B256>,
    /// The genesis state.
    pub genesis: B256,
}

impl RunEvidence {
    /// The answer an honest holder of this run gives to `query` (`witness` supplies step inputs).
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
            Query::Step { index } => {
                let witness = witness(index)?;
                let from = witness.steps.iter().map(|(s, _)| *s as u64).min().unwrap_or(index);
                let start =
                    if from == 0 { self.genesis } else { self.tree.states()[(from - 1) as usize] };
                let leaves = self.leaves.get(from as usize..index as usize)?.to_vec();
                Some(Answer::Step(StepProof { from, start, leaves, witness }))
            }
        }
    }
}

/// The witness an honest party gives for state `index` of a run with `steps` runtime steps: the values
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
    /// The number of states the job's plan has (steps + 1).
    fn state_count(&self) -> u64;
    /// Leaf of state `index`: runtime step `index` re-executed from `witness`, or the output hash for the
    /// last state.
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
    /// The state position re-executed, when it came to that.
    pub step: Option<u64>,
    /// Rounds played.
    pub rounds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    Descend { level: u32, index: u64, nodes: [Option<B256>; 2] },
    Bisect { lo: Option<u64>, lo_state: B256, hi: u64, claims: [B256; 2], mid: u64 },
    OneStep { index: u64, agreed: B256, claims: [B256; 2] },
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
    params: DisputeParams,
    phase: Phase,
    answers: [Option<Answer>; 2],
    deadline: u64,
    rounds: u32,
}

impl Dispute {
    /// Opens a dispute between `operator` and `challenger` over a job with `expected_count` states.
    pub fn open(
        operator: LayerCommitment,
        challenger: LayerCommitment,
        genesis: B256,
        expected_count: u64,
        now: u64,
        params: DisputeParams,
    ) -> Result<Self, DisputeError> {
        if operator == challenger {
            return Err(DisputeError::NoDisagreement);
        }
        let commitments = [operator, challenger];
        let wrong: Vec<Side> = Side::BOTH
            .into_iter()
            .filter(|s| commitments[s.ix()].count != expected_count)
            .collect();
        let phase = if !wrong.is_empty() {
            Phase::Decided(Verdict {
                losers: wrong,
                reason: format!(
                    "the plan has {expected_count} states; a commitment counts otherwise"
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
            Phase::Descend { .. } | Phase::Bisect { .. } => self.answers[side.ix()].is_none(),
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
            (Phase::OneStep { index, agreed, claims }, Answer::Step(proof)) => {
                let (index, agreed, claims) = (*index, *agreed, *claims);
                return self.one_step(index, agreed, claims, proof, referee);
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
            _ => self.decide(vec![], "inconsistent round".into(), None),
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
            self.next_round(Phase::OneStep { index: hi, agreed: lo_state, claims }, now);
        } else {
            let mid = next + (hi - next) / 2;
            self.next_round(Phase::Bisect { lo, lo_state, hi, claims, mid }, now);
        }
    }

    fn one_step(
        &mut self,
        index: u64,
        agreed: B256,
        claims: [B256; 2],
        proof: &StepProof,
        referee: &dyn Referee,
    ) -> Result<(), DisputeError> {
        let refuse = |why: String| Err(DisputeError::Refused(why));
        if proof.from > index || proof.leaves.len() as u64 != index - proof.from {
            return refuse(format!("leaves must cover positions {}..{index}", proof.from));
        }
        if proof.from == 0 && proof.start != self.genesis {
            return refuse("a proof from position 0 must start at the genesis state".into());
        }
        let chained = proof.leaves.iter().fold(proof.start, |s, leaf| next_state(s, *leaf));
        if chained != agreed {
            return refuse("leaves do not chain to the agreed state".into());
        }
        for (step, values) in &proof.witness.steps {
            let step = *step as u64;
            if step < proof.from || step >= index {
                return refuse(format!("witness step {step} outside {}..{index}", proof.from));
            }
            if B256::from(LayerValue::leaf(values)) != proof.leaves[(step - proof.from) as usize] {
                return refuse(format!("witness step {step} does not hash to its leaf"));
            }
        }
        let leaf = match referee.leaf(index, &proof.witness) {
            Ok(leaf) => leaf,
            Err(e) => return refuse(format!("re-execution: {e}")),
        };
        let truth = next_state(agreed, leaf);
        let losers: Vec<Side> =
            Side::BOTH.into_iter().filter(|s| claims[s.ix()] != truth).collect();
        let reason = match losers.as_slice() {
            [Side::Operator] => "the operator's state differs from the re-executed step",
            [Side::Challenger] => "the challenger's state differs from the re-executed step",
            _ => "both states differ from the re-executed step",
        };
        self.rounds += 1;
        self.decide(losers, reason.into(), Some(index));
        Ok(())
    }
}
