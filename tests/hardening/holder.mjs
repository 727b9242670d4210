// A peer in its own process, for the fault tests: joins the room given on the
// command line, prints its peer id as one JSON line, then holds the socket
// until it is killed (the test uses SIGKILL, so no close frame is ever sent).
// Usage: node holder.mjs <ws-url> <name>
import WebSocket from 'ws';

const [url, name] = process.argv.slice(2);
const ws = new WebSocket(url);
const giveUp = setTimeout(() => process.exit(2), 60_000); // never outlive a stuck test
giveUp.unref();
ws.on('open', () => ws.send(JSON.stringify({ type: 'join', name })));
ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  if (m.type === 'welcome') process.stdout.write(`${JSON.stringify({ id: m.id })}\n`);
  if (m.type === 'error') process.stdout.write(`${JSON.stringify({ error: m.code })}\n`);
});
ws.on('error', () => process.exit(3));
ws.on('close', () => process.exit(4));
// Keep the process (and its socket) alive however long the test waits.
setInterval(() => {}, 1000);
