// The dashboard's only door to the server: its public API, with the token
// the person logged in with (kept in sessionStorage, gone with the tab).

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
  }
}

export const token = {
  get: () => sessionStorage.getItem('agora-token') || '',
  set: (t) => sessionStorage.setItem('agora-token', t),
  clear: () => sessionStorage.removeItem('agora-token'),
};

export async function api(path, { method = 'GET', body, type = 'application/json', raw = false } = {}) {
  const headers = { authorization: `Bearer ${token.get()}` };
  if (body !== undefined) headers['content-type'] = type;
  const res = await fetch(path, { method, headers, body });
  if (!res.ok) {
    let b = null;
    try { b = await res.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, b);
  }
  return raw ? res : res.json();
}

// The server's event stream (/v1/watch, server-sent events) read with
// fetch, since EventSource cannot send the Authorization header. Reconnects
// after a pause; `onState(true|false)` reports whether it is connected.
export function watch(onEvent, onState) {
  let stopped = false;
  let ctl = null;
  async function loop() {
    while (!stopped) {
      try {
        ctl = new AbortController();
        const res = await fetch('/v1/watch', { headers: { authorization: `Bearer ${token.get()}` }, signal: ctl.signal });
        if (!res.ok) throw new Error(`watch: HTTP ${res.status}`);
        onState(true);
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const chunk = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = chunk.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
            if (data) {
              try { onEvent(JSON.parse(data)); } catch (_) { /* keep-alive or garbage */ }
            }
          }
        }
      } catch (_) { /* reconnect below */ }
      onState(false);
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  }
  loop();
  return () => { stopped = true; if (ctl) ctl.abort(); };
}

// Small DOM helper: el('a', {href: '#/x'}, 'text', child). Text is always
// set as text, never parsed as HTML, so server strings cannot inject markup.
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

export function fmtTime(secs) {
  if (secs === undefined || secs === null) return '';
  return new Date(secs * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function fmtDur(secs) {
  if (secs < 60) return `${Math.round(secs)}s`;
  if (secs < 3600) return `${Math.round(secs / 60)}m`;
  if (secs < 86400) return `${(secs / 3600).toFixed(1)}h`;
  return `${(secs / 86400).toFixed(1)}d`;
}

export const num = (n) => Number(n).toLocaleString('en-US');
