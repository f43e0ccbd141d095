//! The planted defects: each one lie against provider-retry's documented claim.

/// Exactly one planted defect (or none: the control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Defect {
    /// The control: provider-retry's documented semantics, hand-written.
    None,
    /// Doubles the backoff with `Duration * 2` every retry, unchecked: the
    /// multiply overflows (and panics) around retry 67 from 100 ms.
    OverflowsDoublingBackoff,
    /// Sleeps one more backoff after the final attempt failed.
    SleepsAfterFinalAttempt,
    /// Treats a 400 as transient and retries it.
    RetriesBadRequest,
    /// Waits the backoff instead of the provider's Retry-After, and retries
    /// even when the Retry-After is above `max_retry_after`.
    IgnoresRetryAfter,
    /// Jitters the Retry-After like a backoff base instead of waiting it exactly.
    JittersRetryAfter,
    /// Never consults the retry deadline.
    WaitsPastDeadline,
    /// Awaits every attempt with no per-attempt timeout.
    NoAttemptTimeout,
    /// Checks the timeout only after the attempt answered, so a hang is never given up on.
    TimeoutCheckedAfterAnswer,
    /// Re-opens a stream that failed after hand-over and delivers the new
    /// one from its start: the caller receives the first chunks twice.
    ReplaysFailedStream,
    /// Re-opens a stream that failed after hand-over and skips the chunks
    /// already delivered: a second stream silently spliced onto the first.
    SplicesSecondStream,
    /// Draws equal jitter `[b/2, b]` while the policy (and claim) say full `[0, b]`.
    EqualJitterClaimedFull,
    /// Grows the base by 3 per retry instead of 2.
    TriplingSchedule,
    /// Adds jitter on top of the capped base, so a delay can pass the cap.
    JitterAddedAfterCap,
    /// Forwards `anthropic_messages` once, never retried.
    AnthropicNotRetried,
    /// Does not forward `complete`: answers Unsupported, as the trait default does.
    CompleteNotForwarded,
    /// Answers `is_openai_compat() == false` whatever the provider says.
    OpenAiCompatAlwaysFalse,
    /// Allows `max_retries + 1` retries.
    OneExtraRetry,
    /// Retries `image_generation`, which is documented as passed through once.
    RetriesImageGeneration,
    /// Hands streams over with no idle bound: a stalled stream never ends.
    NoStreamIdleBound,
    /// Bounds the silence before a stream's first item by the idle bound,
    /// as one timer reset per item does: a reasoning model is cut while it
    /// thinks.
    FirstChunkUnderIdleBound,
    /// Reports the un-jittered base as the delay it chose, while it waits
    /// the jittered draw.
    MisreportsDelay,
    /// Reports `exhausted` when it stopped on a non-transient error.
    MisreportsGiveUp,
    /// A circuit breaker that opens after 3 consecutive failed calls and
    /// never closes: while open, every attempt gets a 1 ns timeout (to "fail
    /// fast"), so no call can succeed again, even after the provider heals.
    /// Each such call still runs the whole schedule and ends exhausted, so
    /// only liveness can tell (and `attempt_not_cut_early`: each attempt is
    /// cut long before the timeout the claim states).
    StuckBreaker,
    /// Draws its jitter from the wall clock's nanoseconds while claiming
    /// its seed fixes every draw: two runs of one seed differ.
    ReadsWallClock,
    /// OpenAI's SDKs' jitter, `b * U[0.75, 1]`, whatever the policy asks:
    /// correct under its own claim ([`Truthful`](super::subject::Truthful)),
    /// a lie against provider-retry's full jitter.
    OpenAiStyle,
    /// Grows the base by 1.5 per retry: correct under a claim of factor 1.5
    /// ([`Truthful`](super::subject::Truthful)), a lie against doubling.
    FactorOneAndAHalf,
    // -- One wrapper shared by every caller, and what each attempt sends --
    /// Holds one lock across each call's whole retry loop, its backoffs
    /// included: with one wrapper shared, callers queue behind each
    /// other's waits.
    LockHeldAcrossBackoff,
    /// Restarts its one seeded random stream at every call: every call
    /// draws the same jitter, and concurrent callers retry in lock-step.
    LockStepJitter,
    /// Retries a chat call with `max_tokens` lowered to 1: a retry that
    /// sends another request than the caller's.
    AltersRetriedRequest,

    // Callers that walk away, and attempts cut short (`zoo/detached.rs`).
    /// Runs `chat_completion`'s retry loop in a task of its own and awaits
    /// its `JoinHandle`: when the caller drops the call, the handle goes and
    /// the task goes on, finishing the attempt in flight and retrying.
    RetriesAfterCallerLeft,
    /// Runs each `chat_completion` attempt in a task of its own (under its
    /// timeout there): when the caller drops the call no retry follows, but
    /// the attempt in flight goes on until it answers.
    AttemptOutlivesCaller,
    /// Starts the attempt timer once per call, not once per attempt: each
    /// retry gets only what the earlier attempts left of the timeout.
    CallWideAttemptTimer,
}

impl Defect {
    /// Every variant, the control first.
    pub const ALL: [Defect; 33] = [
        Defect::None,
        Defect::OverflowsDoublingBackoff,
        Defect::SleepsAfterFinalAttempt,
        Defect::RetriesBadRequest,
        Defect::IgnoresRetryAfter,
        Defect::JittersRetryAfter,
        Defect::WaitsPastDeadline,
        Defect::NoAttemptTimeout,
        Defect::TimeoutCheckedAfterAnswer,
        Defect::ReplaysFailedStream,
        Defect::SplicesSecondStream,
        Defect::EqualJitterClaimedFull,
        Defect::TriplingSchedule,
        Defect::JitterAddedAfterCap,
        Defect::AnthropicNotRetried,
        Defect::CompleteNotForwarded,
        Defect::OpenAiCompatAlwaysFalse,
        Defect::OneExtraRetry,
        Defect::RetriesImageGeneration,
        Defect::NoStreamIdleBound,
        Defect::FirstChunkUnderIdleBound,
        Defect::MisreportsDelay,
        Defect::MisreportsGiveUp,
        Defect::StuckBreaker,
        Defect::ReadsWallClock,
        Defect::OpenAiStyle,
        Defect::FactorOneAndAHalf,
        // One wrapper shared, and what each attempt sends.
        Defect::LockHeldAcrossBackoff,
        Defect::LockStepJitter,
        Defect::AltersRetriedRequest,
        // Callers that walk away, and attempts cut short.
        Defect::RetriesAfterCallerLeft,
        Defect::AttemptOutlivesCaller,
        Defect::CallWideAttemptTimer,
    ];

    /// A short name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Defect::None => "control",
            Defect::OverflowsDoublingBackoff => "overflows-doubling-backoff",
            Defect::SleepsAfterFinalAttempt => "sleeps-after-final-attempt",
            Defect::RetriesBadRequest => "retries-bad-request",
            Defect::IgnoresRetryAfter => "ignores-retry-after",
            Defect::JittersRetryAfter => "jitters-retry-after",
            Defect::WaitsPastDeadline => "waits-past-deadline",
            Defect::NoAttemptTimeout => "no-attempt-timeout",
            Defect::TimeoutCheckedAfterAnswer => "timeout-checked-after-answer",
            Defect::ReplaysFailedStream => "replays-failed-stream",
            Defect::SplicesSecondStream => "splices-second-stream",
            Defect::EqualJitterClaimedFull => "equal-jitter-claimed-full",
            Defect::TriplingSchedule => "tripling-schedule",
            Defect::JitterAddedAfterCap => "jitter-added-after-cap",
            Defect::AnthropicNotRetried => "anthropic-not-retried",
            Defect::CompleteNotForwarded => "complete-not-forwarded",
            Defect::OpenAiCompatAlwaysFalse => "openai-compat-always-false",
            Defect::OneExtraRetry => "one-extra-retry",
            Defect::RetriesImageGeneration => "retries-image-generation",
            Defect::NoStreamIdleBound => "no-stream-idle-bound",
            Defect::FirstChunkUnderIdleBound => "first-chunk-under-idle-bound",
            Defect::MisreportsDelay => "misreports-delay",
            Defect::MisreportsGiveUp => "misreports-give-up",
            Defect::StuckBreaker => "stuck-breaker",
            Defect::ReadsWallClock => "reads-wall-clock",
            Defect::OpenAiStyle => "openai-style",
            Defect::FactorOneAndAHalf => "factor-one-and-a-half",
            Defect::LockHeldAcrossBackoff => "lock-held-across-backoff",
            Defect::LockStepJitter => "lock-step-jitter",
            Defect::AltersRetriedRequest => "alters-retried-request",
            // Callers that walk away, and attempts cut short.
            Defect::RetriesAfterCallerLeft => "retries-after-caller-left",
            Defect::AttemptOutlivesCaller => "attempt-outlives-caller",
            Defect::CallWideAttemptTimer => "call-wide-attempt-timer",
        }
    }
}
