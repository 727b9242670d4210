//! The lobby's list of public rooms, as plain data.
//!
//! Each Room object reports its head count when it changes (and every few
//! minutes while it is public and occupied), so an entry that has not been
//! refreshed for [`STALE_AFTER_MS`] belongs to a room that vanished without
//! saying so (a crash, a restart of `wrangler dev`) and is left out.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How often an occupied public room re-reports itself.
pub const HEARTBEAT_MS: u64 = 10 * 60 * 1000;
/// An entry older than this is not shown.
pub const STALE_AFTER_MS: u64 = 3 * HEARTBEAT_MS;

/// What a room tells the lobby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomReport {
    pub room: String,
    pub peers: usize,
    pub public: bool,
}

/// One row of `GET /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedRoom {
    pub room: String,
    pub peers: usize,
}

/// The public rooms with people in them, and when each last reported.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    rooms: BTreeMap<String, (usize, u64)>,
}

impl Listing {
    /// Applies a report; returns `true` if the room is now listed (so it must
    /// be stored) and `false` if it was removed.
    pub fn apply(&mut self, report: &RoomReport, now: u64) -> bool {
        if report.public && report.peers > 0 {
            self.rooms.insert(report.room.clone(), (report.peers, now));
            true
        } else {
            self.rooms.remove(&report.room);
            false
        }
    }

    /// Loads a stored row.
    pub fn insert(&mut self, room: String, peers: usize, updated_at: u64) {
        self.rooms.insert(room, (peers, updated_at));
    }

    /// Fresh entries, most peers first, then by name.
    pub fn public_rooms(&self, now: u64) -> Vec<ListedRoom> {
        let mut rooms: Vec<ListedRoom> = Vec::new();
        for (room, &(peers, at)) in &self.rooms {
            if now.saturating_sub(at) < STALE_AFTER_MS {
                // The map iterates in name order, so placing each room after
                // every one with as many people keeps names in order among
                // equals. No sort routine ends up in the wasm (3 KB or more).
                let place = rooms.partition_point(|r| r.peers >= peers);
                rooms.insert(place, ListedRoom { room: room.clone(), peers });
            }
        }
        rooms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(room: &str, peers: usize, public: bool) -> RoomReport {
        RoomReport { room: room.into(), peers, public }
    }

    #[test]
    fn lists_public_rooms_most_peers_first() {
        let mut l = Listing::default();
        l.apply(&report("small", 1, true), 0);
        l.apply(&report("big", 5, true), 0);
        l.apply(&report("secret", 7, false), 0);
        l.apply(&report("mid", 3, true), 0);
        let names: Vec<String> = l.public_rooms(1).into_iter().map(|r| r.room).collect();
        assert_eq!(names, ["big", "mid", "small"]);
    }

    #[test]
    fn rooms_with_as_many_people_are_in_name_order() {
        let mut l = Listing::default();
        for (room, peers) in [("delta", 2), ("alpha", 2), ("echo", 5), ("charlie", 1), ("bravo", 2), ("foxtrot", 5)] {
            l.apply(&report(room, peers, true), 0);
        }
        let names: Vec<String> = l.public_rooms(1).into_iter().map(|r| r.room).collect();
        assert_eq!(names, ["echo", "foxtrot", "alpha", "bravo", "delta", "charlie"]);
    }

    #[test]
    fn order_matches_a_sort_by_people_then_name() {
        let mut l = Listing::default();
        let mut seed = 7u64;
        for i in 0..200 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            l.apply(&report(&format!("room-{}", (seed >> 40) % 1000 + i), (seed >> 33) as usize % 9 + 1, true), 0);
        }
        let mut expected = l.public_rooms(1);
        expected.sort_by(|a, b| b.peers.cmp(&a.peers).then_with(|| a.room.cmp(&b.room)));
        assert_eq!(l.public_rooms(1), expected);
    }

    #[test]
    fn empty_or_private_rooms_are_removed() {
        let mut l = Listing::default();
        assert!(l.apply(&report("a", 2, true), 0));
        assert!(!l.apply(&report("a", 0, true), 0));
        assert!(l.public_rooms(0).is_empty());
        l.apply(&report("b", 2, true), 0);
        l.apply(&report("b", 1, false), 0);
        assert!(l.public_rooms(0).is_empty());
    }

    #[test]
    fn stale_entries_are_left_out() {
        let mut l = Listing::default();
        l.apply(&report("a", 2, true), 0);
        assert_eq!(l.public_rooms(STALE_AFTER_MS - 1).len(), 1);
        assert!(l.public_rooms(STALE_AFTER_MS).is_empty());
    }
}
