//! The Lobby Durable Object: one instance, holding the list of public rooms.
//!
//! Room objects POST a [`RoomReport`] when their head count changes; the
//! Worker's `GET /api/rooms` reads the list. Rows are kept in SQLite so the list
//! survives the lobby being evicted; the rules (what is listed, in what order,
//! when an entry is stale) are in [`crate::listing`].

use crate::listing::{ListedRoom, Listing, RoomReport};
use std::cell::{RefCell, RefMut};
use worker::{durable_object, Date, DurableObject, Env, Method, Request, Response, Result, SqlStorage, State};

/// The name of the single Lobby instance.
pub const LOBBY_NAME: &str = "lobby";

/// `fetch` only: the lobby has no sockets and no alarm, so none of their glue
/// is generated (smaller bundle).
#[durable_object(fetch)]
pub struct LobbyObject {
    sql: SqlStorage,
    listing: RefCell<Option<Listing>>,
}

impl DurableObject for LobbyObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(
            "CREATE TABLE IF NOT EXISTS rooms (name TEXT PRIMARY KEY, peers INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
            None,
        ) {
            worker::console_error!("lobby schema: {e}");
        }
        Self { sql, listing: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now = Date::now().as_millis();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/report") => {
                let Ok(report) = req.json::<RoomReport>().await else {
                    return Response::error("bad report", 400);
                };
                let listed = self.listing().apply(&report, now);
                let result = if listed {
                    self.sql.exec(
                        "INSERT OR REPLACE INTO rooms (name, peers, updated_at) VALUES (?, ?, ?)",
                        vec![report.room.as_str().into(), (report.peers as i64).into(), (now as i64).into()],
                    )
                } else {
                    self.sql.exec("DELETE FROM rooms WHERE name = ?", vec![report.room.as_str().into()])
                };
                result?;
                Response::empty()
            }
            (Method::Get, "/rooms") => {
                #[derive(serde::Serialize)]
                struct Rooms {
                    rooms: Vec<ListedRoom>,
                }
                Response::from_json(&Rooms { rooms: self.listing().public_rooms(now) })
            }
            _ => Response::error("not found", 404),
        }
    }
}

impl LobbyObject {
    /// The list in memory, loaded from storage on first use.
    fn listing(&self) -> RefMut<'_, Listing> {
        RefMut::map(self.listing.borrow_mut(), |slot| slot.get_or_insert_with(|| self.load()))
    }

    fn load(&self) -> Listing {
        #[derive(serde::Deserialize)]
        struct Row {
            name: String,
            peers: f64,
            updated_at: f64,
        }
        let mut listing = Listing::default();
        match self.sql.exec("SELECT name, peers, updated_at FROM rooms", None).and_then(|c| c.to_array::<Row>()) {
            Ok(rows) => {
                for row in rows {
                    listing.insert(row.name, row.peers as usize, row.updated_at as u64);
                }
            }
            Err(e) => worker::console_error!("loading lobby: {e}"),
        }
        listing
    }
}
