//! The least a relay can do through the `worker` crate: a socket's first text
//! frame marks it joined (stored in its attachment, so it survives
//! hibernation); every later frame goes out, as it came, to the room's other
//! sockets. No parsing, no checks, no storage. It is *not* an implementation
//! of Noom's contract: it marks the physical limit of a Rust Durable Object.

use worker::{
    durable_object, event, Context, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "health"] => Response::ok(r#"{"ok":true}"#),
        ["api", "rooms", room, "ws"] => env.durable_object("ROOM")?.get_by_name(room)?.fetch_with_request(req).await,
        _ => Response::error("not found", 404),
    }
}

#[durable_object]
pub struct FloorRoom {
    state: State,
}

impl DurableObject for FloorRoom {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        if ws.deserialize_attachment::<bool>()?.is_none() {
            return ws.serialize_attachment(true);
        }
        for other in self.state.get_websockets() {
            if other != ws {
                let _ = match &message {
                    WebSocketIncomingMessage::String(text) => other.send_with_str(text),
                    WebSocketIncomingMessage::Binary(bytes) => other.send_with_bytes(bytes),
                };
            }
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }
}
