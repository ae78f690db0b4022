//! The vocabulary of data-subject requests and their state machine, as pure values.
//!
//! States (glossary words): `received` → `awaiting_titular` (missing information asked
//! for; the response term stops) → `in_progress` → `extended` (once, with a reason) →
//! `answered` | `denied` (with a reason) | `withdrawn` | `deemed_granted` (Ley 1266: a
//! claim not answered in time); `blocked` is the first stage of a Mexican cancellation
//! (kept but unusable until its retention period ends, then erased and `answered`).
//! Terminal states never change again. Every transition is [`next_state`]; what a
//! transition needs besides the state (regime, kind) is [`applies`].
//!
//! Mexican ARCO answers have a second term, to carry the answer out (15 days, extendable
//! once). It is not a state: an `answered` request of `mx_arco` keeps `execution_due_at`
//! until it is marked executed ([`execution_step`]).

use crate::calendar::{DayCount, Regime, RequestKind};
use crate::consent::wire_enum;

wire_enum!(
    /// What the titular asks for.
    Kind { Consulta = "consulta", Reclamo = "reclamo", Supresion = "supresion", Revocacion = "revocacion", PruebaAutorizacion = "prueba_autorizacion" }
);

wire_enum!(
    /// The law the request runs under. Mexico's day count is the tenant's setting.
    RegimeCode { Co1581 = "co_1581", Co1266 = "co_1266", MxArco = "mx_arco", EuGdpr = "eu_gdpr" }
);

wire_enum!(
    /// What a reclamo asks: rectify or update data, or complain about a breach of duties.
    ClaimType { Rectify = "rectify", Update = "update", Complaint = "complaint" }
);

wire_enum!(
    /// How the request reached the controller.
    ReceiptChannel { Web = "web", Email = "email", Post = "post", Phone = "phone", InPerson = "in_person", App = "app" }
);

wire_enum!(
    /// Who filed it: the titular, a representative (apoderado), or a successor (causahabiente).
    Requester { Titular = "titular", Representative = "representative", Successor = "successor" }
);

wire_enum!(
    /// Where a request stands.
    State { Received = "received", AwaitingTitular = "awaiting_titular", InProgress = "in_progress", Extended = "extended", Answered = "answered", Denied = "denied", Withdrawn = "withdrawn", DeemedGranted = "deemed_granted", Blocked = "blocked" }
);

wire_enum!(
    /// Why a term was extended (the notice to the titular states it).
    ExtensionReason { Complexity = "complexity", Volume = "volume", ThirdParty = "third_party", PendingVerification = "pending_verification", Other = "other" }
);

wire_enum!(
    /// Why a request was denied.
    DenialReason { RetentionHold = "retention_hold", DutyToRemain = "duty_to_remain", IdentityNotVerified = "identity_not_verified", NotTheTitular = "not_the_titular", NoDataHeld = "no_data_held", Unfounded = "unfounded", Excessive = "excessive", Other = "other" }
);

wire_enum!(
    /// How the requester's identity was verified.
    IdentityMethod { DocumentCheck = "document_check", KnowledgeQuestions = "knowledge_questions", ElectronicSignature = "electronic_signature", InPerson = "in_person", AuthenticatedChannel = "authenticated_channel", Other = "other" }
);

wire_enum!(
    /// A change of state.
    Transition { Start = "start", RequestInformation = "request_information", Complete = "complete", Extend = "extend", Answer = "answer", Deny = "deny", Withdraw = "withdraw", DeemGranted = "deem_granted", Block = "block" }
);

impl Kind {
    /// The calendar's kind (same wire names).
    pub fn calendar(self) -> RequestKind {
        match self {
            Self::Consulta => RequestKind::Consulta,
            Self::Reclamo => RequestKind::Reclamo,
            Self::Supresion => RequestKind::Supresion,
            Self::Revocacion => RequestKind::Revocacion,
            Self::PruebaAutorizacion => RequestKind::PruebaAutorizacion,
        }
    }

    /// Whether Colombian law handles it as a reclamo (supresión and revocación go
    /// through one, D.1377 art. 9).
    pub fn is_claim(self) -> bool {
        self.calendar().is_claim()
    }
}

impl RegimeCode {
    /// The calendar's regime, with the tenant's Mexican day count.
    pub fn calendar(self, days: DayCount) -> Regime {
        match self {
            Self::Co1581 => Regime::Co1581,
            Self::Co1266 => Regime::Co1266,
            Self::MxArco => Regime::mx_arco(days),
            Self::EuGdpr => Regime::EuGdpr,
        }
    }

    pub fn is_colombian(self) -> bool {
        matches!(self, Self::Co1581 | Self::Co1266)
    }
}

/// A Colombian claim carries the "reclamo en trámite" flag while it is open and complete.
pub fn takes_claim_flag(regime: RegimeCode, kind: Kind) -> bool {
    regime.is_colombian() && kind.is_claim()
}

/// An incomplete Colombian claim is treated as withdrawn when the titular does not
/// complete it in time (L.1581 art. 15, L.1266 art. 16-II).
pub fn withdraws_when_incomplete(regime: RegimeCode, kind: Kind) -> bool {
    takes_claim_flag(regime, kind)
}

impl State {
    /// No transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Answered | Self::Denied | Self::Withdrawn | Self::DeemedGranted)
    }

    /// The response term runs (it stops while the titular is asked for information, and
    /// ends with the answer or the block).
    pub fn term_runs(self) -> bool {
        matches!(self, Self::Received | Self::InProgress | Self::Extended)
    }
}

impl DayCount {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Business => "business",
            Self::Calendar => "calendar",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "business" => Some(Self::Business),
            "calendar" => Some(Self::Calendar),
            _ => None,
        }
    }
}

/// Why a transition cannot happen (409 at the edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a request that is {from} cannot {transition}")]
    InvalidTransition { from: State, transition: Transition },
    #[error("the term was already extended once; the law allows one extension")]
    AlreadyExtended,
    #[error("`{transition}` does not apply to a {kind} under {regime}")]
    NotApplicable { transition: Transition, kind: Kind, regime: RegimeCode },
    #[error("the request is {state}: it no longer changes")]
    Closed { state: State },
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidTransition { .. } | Self::Closed { .. } => "invalid_transition",
            Self::AlreadyExtended => "already_extended",
            Self::NotApplicable { .. } => "action_not_applicable",
        }
    }
}

/// The state `transition` leads to from `from` (module docs for the machine).
pub fn next_state(from: State, transition: Transition) -> Result<State, Refusal> {
    use State::*;
    use Transition as T;
    let to = match (transition, from) {
        (T::Start, Received) => InProgress,
        (T::RequestInformation, Received | InProgress) => AwaitingTitular,
        (T::Complete, AwaitingTitular) => InProgress,
        (T::Extend, Received | InProgress) => Extended,
        (T::Extend, Extended) => return Err(Refusal::AlreadyExtended),
        (T::Answer, Received | InProgress | Extended | Blocked) => Answered,
        (T::Deny, Received | AwaitingTitular | InProgress | Extended) => Denied,
        (T::Withdraw, Received | AwaitingTitular | InProgress | Extended) => Withdrawn,
        (T::DeemGranted, Received | InProgress | Extended) => DeemedGranted,
        (T::Block, Received | InProgress | Extended) => Blocked,
        _ => return Err(Refusal::InvalidTransition { from, transition }),
    };
    Ok(to)
}

/// Whether `transition` exists for a request of `kind` under `regime` at all.
pub fn applies(transition: Transition, kind: Kind, regime: RegimeCode) -> Result<(), Refusal> {
    let ok = match transition {
        Transition::Block => regime == RegimeCode::MxArco && kind == Kind::Supresion,
        Transition::DeemGranted => regime == RegimeCode::Co1266 && kind.is_claim(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::NotApplicable { transition, kind, regime })
    }
}

/// A step of the Mexican execution term (not a state change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionStep {
    Extend,
    MarkExecuted,
}

/// What the execution term of a request looks like now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Execution {
    pub pending: bool,
    pub extended: bool,
}

/// Whether `step` may happen: only on an answered `mx_arco` request whose answer has not
/// been carried out yet; the term extends once.
pub fn execution_step(
    state: State,
    regime: RegimeCode,
    kind: Kind,
    execution: Execution,
    step: ExecutionStep,
) -> Result<(), Refusal> {
    let transition = match step {
        ExecutionStep::Extend => Transition::Extend,
        ExecutionStep::MarkExecuted => Transition::Answer,
    };
    if regime != RegimeCode::MxArco {
        return Err(Refusal::NotApplicable { transition, kind, regime });
    }
    if state != State::Answered || !execution.pending {
        return Err(Refusal::InvalidTransition { from: state, transition });
    }
    if step == ExecutionStep::Extend && execution.extended {
        return Err(Refusal::AlreadyExtended);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_usual_path_runs_from_receipt_to_answer() {
        let path = [Transition::RequestInformation, Transition::Complete, Transition::Extend, Transition::Answer];
        let states: Vec<State> = path
            .iter()
            .scan(State::Received, |state, t| {
                *state = next_state(*state, *t).unwrap();
                Some(*state)
            })
            .collect();
        assert_eq!(states, vec![State::AwaitingTitular, State::InProgress, State::Extended, State::Answered]);
    }

    #[test]
    fn a_second_extension_has_its_own_code() {
        assert_eq!(next_state(State::Extended, Transition::Extend), Err(Refusal::AlreadyExtended));
        assert_eq!(Refusal::AlreadyExtended.code(), "already_extended");
        let refused = next_state(State::AwaitingTitular, Transition::Extend).unwrap_err();
        assert_eq!(refused.code(), "invalid_transition");
    }

    #[test]
    fn blocking_is_for_mexican_cancellations_and_deemed_grants_for_ley_1266_claims() {
        assert!(applies(Transition::Block, Kind::Supresion, RegimeCode::MxArco).is_ok());
        assert!(applies(Transition::Block, Kind::Supresion, RegimeCode::Co1581).is_err());
        assert!(applies(Transition::Block, Kind::Consulta, RegimeCode::MxArco).is_err());
        assert!(applies(Transition::DeemGranted, Kind::Reclamo, RegimeCode::Co1266).is_ok());
        assert!(applies(Transition::DeemGranted, Kind::Consulta, RegimeCode::Co1266).is_err());
        assert!(applies(Transition::DeemGranted, Kind::Reclamo, RegimeCode::Co1581).is_err());
    }

    #[test]
    fn the_execution_term_is_mexican_extends_once_and_ends_when_executed() {
        let pending = Execution { pending: true, extended: false };
        let (answered, mx, kind) = (State::Answered, RegimeCode::MxArco, Kind::Reclamo);
        assert!(execution_step(answered, mx, kind, pending, ExecutionStep::Extend).is_ok());
        let extended = Execution { extended: true, ..pending };
        assert_eq!(execution_step(answered, mx, kind, extended, ExecutionStep::Extend), Err(Refusal::AlreadyExtended));
        assert!(execution_step(answered, mx, kind, extended, ExecutionStep::MarkExecuted).is_ok());
        let done = Execution { pending: false, extended: true };
        assert!(execution_step(answered, mx, kind, done, ExecutionStep::MarkExecuted).is_err());
        assert!(execution_step(State::InProgress, mx, kind, pending, ExecutionStep::MarkExecuted).is_err());
        assert!(execution_step(answered, RegimeCode::EuGdpr, kind, pending, ExecutionStep::Extend).is_err());
    }

    proptest! {
        /// Random sequences of transitions from receipt: every state reached is one the
        /// machine defines, nothing leaves a terminal state, a request is extended at
        /// most once and never returns before its extension.
        #[test]
        fn no_sequence_reaches_an_illegal_state(steps in prop::collection::vec(prop::sample::select(Transition::ALL.to_vec()), 0..40)) {
            let mut state = State::Received;
            let mut extensions = 0;
            for transition in steps {
                match next_state(state, transition) {
                    Ok(to) => {
                        prop_assert!(!state.is_terminal(), "{} left terminal {}", transition, state);
                        prop_assert!(State::ALL.contains(&to));
                        if to == State::Extended { extensions += 1; }
                        if extensions > 0 {
                            prop_assert!(!matches!(to, State::Received | State::InProgress | State::AwaitingTitular));
                        }
                        state = to;
                    }
                    Err(refusal) => {
                        let legal = [Refusal::AlreadyExtended, Refusal::InvalidTransition { from: state, transition }];
                        prop_assert!(legal.contains(&refusal));
                    }
                }
                prop_assert!(extensions <= 1);
            }
            if state.is_terminal() {
                for transition in Transition::ALL {
                    prop_assert!(next_state(state, *transition).is_err());
                }
            }
        }

        /// Whatever happened before, a terminal state refuses every transition.
        #[test]
        fn terminal_states_are_terminal(from in prop::sample::select(State::ALL.to_vec()), transition in prop::sample::select(Transition::ALL.to_vec())) {
            if from.is_terminal() {
                prop_assert!(next_state(from, transition).is_err());
            }
            if let Ok(to) = next_state(from, transition) {
                prop_assert_ne!(to, State::Received, "nothing leads back to received");
            }
        }
    }
}
