//! Per-connection rate limits: token buckets fed by the time the caller passes in.
//!
//! The contract allows any message at a burst of 200 then 50 per second, and chat
//! at a burst of 10 then 2 per second. A connection that keeps flooding (1000
//! dropped messages) is closed with 1008. The buckets live in memory only: the
//! room hibernates only after a quiet spell, by which time every bucket would
//! have refilled anyway, so starting full after a wake-up gives nothing away.

/// A token bucket counted in thousandths of a token, so refill needs no floats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    burst: u64,
    per_second: u64,
    /// Tokens available, in milli-tokens.
    milli_tokens: u64,
    /// When the bucket was last refilled, in ms since the epoch.
    refilled_at: u64,
}

impl RateLimit {
    /// A full bucket.
    pub fn new(burst: u64, per_second: u64, now_ms: u64) -> Self {
        Self { burst, per_second, milli_tokens: burst * 1000, refilled_at: now_ms }
    }

    /// Takes one token if there is one. A clock that goes back refills nothing.
    pub fn try_take(&mut self, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.refilled_at);
        if elapsed > 0 {
            // per_second tokens per 1000 ms = per_second milli-tokens per ms.
            let refill = elapsed.saturating_mul(self.per_second);
            self.milli_tokens = self.milli_tokens.saturating_add(refill).min(self.burst * 1000);
            self.refilled_at = now_ms;
        }
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

/// Any message: burst 200, then 50 per second.
pub const ANY_BURST: u64 = 200;
pub const ANY_PER_SECOND: u64 = 50;
/// Chat: burst 10, then 2 per second.
pub const CHAT_BURST: u64 = 10;
pub const CHAT_PER_SECOND: u64 = 2;
/// Dropped messages after which a connection is closed with 1008.
pub const MAX_DROPPED: u32 = 1000;

/// Both buckets of one connection, and how many messages it has had dropped.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    any: RateLimit,
    chat: RateLimit,
    pub dropped: u32,
}

/// What the limiter says about one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Drop it and answer `rate_limited`.
    Drop,
    /// Drop it and close the connection with 1008: it keeps flooding.
    Disconnect,
}

impl ConnectionLimits {
    pub fn new(now_ms: u64) -> Self {
        Self {
            any: RateLimit::new(ANY_BURST, ANY_PER_SECOND, now_ms),
            chat: RateLimit::new(CHAT_BURST, CHAT_PER_SECOND, now_ms),
            dropped: 0,
        }
    }

    /// Every message passes through here first.
    pub fn check_any(&mut self, now_ms: u64) -> Verdict {
        if self.any.try_take(now_ms) { Verdict::Allow } else { self.drop_one() }
    }

    /// Chat messages pass through here too, after `check_any`.
    pub fn check_chat(&mut self, now_ms: u64) -> Verdict {
        if self.chat.try_take(now_ms) { Verdict::Allow } else { self.drop_one() }
    }

    fn drop_one(&mut self) -> Verdict {
        self.dropped = self.dropped.saturating_add(1);
        if self.dropped >= MAX_DROPPED { Verdict::Disconnect } else { Verdict::Drop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_empty() {
        let mut b = RateLimit::new(10, 2, 1_000);
        for _ in 0..10 {
            assert!(b.try_take(1_000));
        }
        assert!(!b.try_take(1_000));
    }

    #[test]
    fn refills_at_the_rate() {
        let mut b = RateLimit::new(10, 2, 0);
        for _ in 0..10 {
            b.try_take(0);
        }
        assert!(!b.try_take(499), "2/s means one token per 500 ms");
        assert!(b.try_take(500));
        assert!(!b.try_take(500));
        assert!(b.try_take(1_000));
    }

    #[test]
    fn refill_never_exceeds_burst() {
        let mut b = RateLimit::new(10, 2, 0);
        let mut taken = 0;
        for _ in 0..100 {
            if b.try_take(3_600_000) {
                taken += 1;
            }
        }
        assert_eq!(taken, 10);
    }

    #[test]
    fn clock_going_back_refills_nothing() {
        let mut b = RateLimit::new(1, 1, 10_000);
        assert!(b.try_take(10_000));
        assert!(!b.try_take(5_000));
        assert!(!b.try_take(10_999));
        assert!(b.try_take(11_000));
    }

    #[test]
    fn any_message_burst_of_200_then_50_per_second() {
        let mut l = ConnectionLimits::new(0);
        for _ in 0..200 {
            assert_eq!(l.check_any(0), Verdict::Allow);
        }
        assert_eq!(l.check_any(0), Verdict::Drop);
        assert_eq!(l.check_any(20), Verdict::Allow, "50/s is one per 20 ms");
        assert_eq!(l.check_any(20), Verdict::Drop);
    }

    #[test]
    fn thousandth_drop_disconnects() {
        let mut l = ConnectionLimits::new(0);
        for _ in 0..10 {
            l.check_chat(0);
        }
        for i in 1..MAX_DROPPED {
            assert_eq!(l.check_chat(0), Verdict::Drop, "drop {i}");
        }
        assert_eq!(l.check_chat(0), Verdict::Disconnect);
    }
}
