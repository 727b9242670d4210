//! Operator settings (wrangler vars and secrets), parsed from the plain strings
//! the runtime hands over, and the request rules that depend on them.

use serde_json::value::RawValue;

/// The ICE servers used when `ICE_SERVERS` is not set.
pub const DEFAULT_ICE_SERVERS: &str = r#"[{"urls":"stun:stun.cloudflare.com:3478"}]"#;

/// `MAX_PEERS`: a positive whole number, else the default of 8.
pub fn max_peers(var: Option<&str>) -> usize {
    var.and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0).unwrap_or(crate::core::DEFAULT_MAX_PEERS)
}

/// The room's tunable numbers, from the vars of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomSettings {
    /// `MAX_PEERS` (default 8).
    pub max_peers: usize,
    /// `HISTORY_TTL_SECONDS`: chat is deleted this long after the last peer left (default 24 h).
    pub history_ttl_ms: u64,
    /// `PEER_TIMEOUT_SECONDS`: a connection silent this long (no frame, no
    /// `ping`) is dropped (default 60 s; pages ping every 20 s).
    pub peer_timeout_ms: u64,
}

impl RoomSettings {
    pub fn from_vars(max_peers_var: Option<&str>, history_ttl_var: Option<&str>, peer_timeout_var: Option<&str>) -> Self {
        let seconds = |v: Option<&str>, default: u64| v.and_then(|v| v.trim().parse::<u64>().ok()).filter(|&n| n > 0).unwrap_or(default) * 1000;
        Self {
            max_peers: max_peers(max_peers_var),
            history_ttl_ms: seconds(history_ttl_var, 86_400),
            peer_timeout_ms: seconds(peer_timeout_var, 60),
        }
    }

    /// How far the "last heard" time kept in a connection's attachment may
    /// fall behind before a frame rewrites it: a quarter of the timeout, so a
    /// busy connection costs one attachment write per quarter timeout.
    pub fn heard_kept_every_ms(&self) -> u64 {
        self.peer_timeout_ms / 4
    }

    /// When a connection counts as last heard from after a wake-up, given
    /// the time in its attachment (0: not known). The stored time may be up
    /// to [`Self::heard_kept_every_ms`] behind, so that much is added: a
    /// connection is never timed out early, at worst that much late. Not
    /// known (an attachment from before this field): a fresh timeout from now.
    pub fn heard_after_wake_up(&self, stored: u64, now: u64) -> u64 {
        if stored == 0 {
            return now;
        }
        stored.saturating_add(self.heard_kept_every_ms()).min(now)
    }

    /// When the room should next look for silent connections, given when
    /// each open one was last heard from (a frame or a `ping`): just after
    /// the first of them could have been silent for `peer_timeout_ms`.
    /// `None` with no connections. Each look is a storage alarm, which wakes
    /// the room and writes to storage, so it comes no more often than that:
    /// pages ping every 20 s, so a room is looked at every 40 to 60 s, and a
    /// connection that goes silent is found within the timeout and a second.
    pub fn next_sweep_at(&self, now: u64, last_heard: impl IntoIterator<Item = u64>) -> Option<u64> {
        let first = last_heard.into_iter().min()?;
        // Never sooner than this from now: a look that is due finds the
        // connection already past its time, not exactly at it.
        let slack = (self.peer_timeout_ms / 2).min(1000);
        Some(first.saturating_add(self.peer_timeout_ms).max(now).saturating_add(slack))
    }
}

/// A list of ICE servers as JSON text: checked to be an array, then handed to
/// the page exactly as the operator or the TURN API wrote it. The Worker never
/// looks inside a server entry, so it never builds a JSON tree for one.
pub type IceServers = Box<RawValue>;

/// `ICE_SERVERS`: a JSON array that replaces the default. Anything else is a
/// configuration mistake: the default is used and the reason returned so the
/// Worker can log it.
pub fn ice_servers(var: Option<&str>) -> Result<IceServers, String> {
    let text = match var.map(str::trim) {
        None | Some("") => DEFAULT_ICE_SERVERS,
        Some(text) => text,
    };
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(_) => RawValue::from_string(text.to_owned()).map_err(|e| e.to_string()),
        Err(_) => Err(format!("ICE_SERVERS is not a JSON array: {text}")),
    }
}

/// `scheme://host[:port]` of an absolute URL, as the runtime hands it over
/// (already normalized). Done by hand so the Worker never links a URL parser,
/// which with its IDNA tables would be a large part of the bundle.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The contract's Origin rule: no `Origin` header, the request's own origin, or
/// one listed in `ALLOWED_ORIGINS` (comma-separated, exact match).
pub fn origin_allowed(origin: Option<&str>, own_origin: &str, allowed: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim_end_matches('/');
    origin.eq_ignore_ascii_case(own_origin)
        || allowed.unwrap_or("").split(',').map(|o| o.trim().trim_end_matches('/')).any(|o| !o.is_empty() && o.eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_peers_defaults_to_8() {
        assert_eq!(max_peers(None), 8);
        assert_eq!(max_peers(Some("3")), 3);
        assert_eq!(max_peers(Some(" 12 ")), 12);
        assert_eq!(max_peers(Some("0")), 8);
        assert_eq!(max_peers(Some("lots")), 8);
    }

    #[test]
    fn room_settings_defaults_and_overrides() {
        let d = RoomSettings::from_vars(None, None, None);
        assert_eq!(d, RoomSettings { max_peers: 8, history_ttl_ms: 86_400_000, peer_timeout_ms: 60_000 });
        let t = RoomSettings::from_vars(Some("3"), Some("2"), Some("1"));
        assert_eq!(t, RoomSettings { max_peers: 3, history_ttl_ms: 2_000, peer_timeout_ms: 1_000 });
        assert_eq!(RoomSettings::from_vars(None, Some("0"), Some("x")).history_ttl_ms, 86_400_000);
    }

    #[test]
    fn silence_is_counted_across_a_wake_up_never_early() {
        let d = RoomSettings::from_vars(None, None, None);
        assert_eq!(d.heard_kept_every_ms(), 15_000);
        // Stored 100 s ago: the frame may have come up to 15 s later than that.
        assert_eq!(d.heard_after_wake_up(1_000_000, 1_100_000), 1_015_000);
        // Stored just now: never in the future.
        assert_eq!(d.heard_after_wake_up(1_000_000, 1_005_000), 1_005_000);
        // Not stored (an older attachment): a fresh window, as before.
        assert_eq!(d.heard_after_wake_up(0, 1_100_000), 1_100_000);
    }

    #[test]
    fn next_sweep_comes_just_after_the_first_connection_could_time_out() {
        let d = RoomSettings::from_vars(None, None, None);
        assert_eq!(d.next_sweep_at(100_000, []), None);
        // Heard from 10 s and 30 s ago: the first could go silent 50 s from now.
        assert_eq!(d.next_sweep_at(100_000, [90_000, 70_000]), Some(130_000 + 1000));
        // Pages ping every 20 s: at a look, everyone was heard within 20 s, so the next is 40 s or more away.
        assert!(d.next_sweep_at(100_000, [80_001, 99_000]).unwrap() >= 100_000 + 40_000);
        // Already past due (heard from long ago, say before a wake-up): a second from now, not at once.
        assert_eq!(d.next_sweep_at(100_000, [1_000]), Some(101_000));
        // A short timeout has a short slack.
        let t = RoomSettings::from_vars(None, None, Some("1"));
        assert_eq!(t.next_sweep_at(10_000, [10_000]), Some(11_500));
    }

    #[test]
    fn ice_servers_default_and_override() {
        let parsed = |v: Option<&str>| serde_json::from_str::<serde_json::Value>(ice_servers(v).unwrap().get()).unwrap();
        assert_eq!(parsed(None)[0]["urls"], "stun:stun.cloudflare.com:3478");
        assert_eq!(parsed(Some("  ")), parsed(None));
        assert_eq!(parsed(Some("[]")), serde_json::json!([]));
        let custom = parsed(Some(r#"[{"urls":["turn:t.example:3478"],"username":"u","credential":"c"}]"#));
        assert_eq!(custom[0]["username"], "u");
        assert!(ice_servers(Some("{}")).is_err());
        assert!(ice_servers(Some("not json")).is_err());
    }

    #[test]
    fn origin_of_a_url() {
        assert_eq!(origin_of("http://127.0.0.1:8787/api/rooms?x=1"), "http://127.0.0.1:8787");
        assert_eq!(origin_of("https://noom.example.workers.dev/"), "https://noom.example.workers.dev");
        assert_eq!(origin_of("https://a.example?q"), "https://a.example");
        assert_eq!(origin_of("https://a.example"), "https://a.example");
    }

    #[test]
    fn origin_rule() {
        let own = "http://127.0.0.1:8787";
        assert!(origin_allowed(None, own, None));
        assert!(origin_allowed(Some("http://127.0.0.1:8787"), own, None));
        assert!(!origin_allowed(Some("http://evil.example"), own, None));
        assert!(!origin_allowed(Some("null"), own, None));
        assert!(origin_allowed(Some("https://a.example"), own, Some("https://b.example, https://a.example")));
        assert!(!origin_allowed(Some("https://c.example"), own, Some("https://b.example,https://a.example")));
        assert!(!origin_allowed(Some("http://127.0.0.1:8788"), own, Some("")));
    }
}
