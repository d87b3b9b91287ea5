// The run protocol over a WebSocket (see sandbox/event.go and
// sandbox/request.go): open /api/ws, send one request as a JSON text
// message, receive one JSON event per message. A run is over after the
// event isLast names; the client then closes the socket.

// wsURL is the address of the run endpoint, ws: or wss: as the page is.
export function wsURL(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/api/ws`;
}

// isLast reports whether ev ends the run of a request repeated `repeat`
// times: an error, a summary, or an exit when the request does not
// repeat. A repeated request always ends with its summary, also when it
// was stopped before any execution. This is sandbox.Event.Ends; the two
// are held to the same cases, web/testdata/ends.json.
export function isLast(ev, repeat) {
  switch (ev.kind) {
    case 'error':
    case 'summary':
      return true;
    case 'exit':
      return !(repeat > 1);
    default:
      return false;
  }
}

// startRun sends request and reports what happens to the callbacks:
//   onOpen()        the request was sent
//   onEvent(ev)     each event, in order
//   onEnd(how)      once: 'done' (last event seen), 'stopped' (stop()
//                   was called) or 'lost' (the socket closed early)
// It returns a handle whose stop() asks the server to cancel the run and
// closes the socket.
export function startRun(request, { onOpen, onEvent, onEnd }) {
  const repeat = request.repeat || 1;
  let over = false;
  let ws;
  const finish = (how) => {
    if (over) return;
    over = true;
    try {
      ws.close(1000);
    } catch {
      // Already closed.
    }
    onEnd(how);
  };
  try {
    ws = new WebSocket(wsURL());
  } catch {
    // A malformed URL or a blocked scheme: report it like a lost line.
    queueMicrotask(() => { over = true; onEnd('lost'); });
    return { stop() {} };
  }
  ws.onopen = () => {
    ws.send(JSON.stringify(request));
    if (onOpen) onOpen();
  };
  ws.onmessage = (m) => {
    if (over || typeof m.data !== 'string') return;
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return; // Not an event; the protocol sends nothing else.
    }
    if (ev == null || typeof ev !== 'object') return;
    onEvent(ev);
    if (isLast(ev, repeat)) finish('done');
  };
  ws.onclose = () => finish('lost');
  return {
    stop() {
      if (over) return;
      if (ws.readyState === WebSocket.OPEN) {
        try {
          ws.send(JSON.stringify({ stop: true }));
        } catch {
          // The socket is going away anyway.
        }
      }
      finish('stopped');
    },
  };
}
