// The dashboard's shell: log in with an API token, route between views
// (location hash: #/map, #/queue, #/shares, #/usage, #/submit, #/jobs/ID),
// and feed the server's event stream to the view on screen.

import { api, token, watch, el } from './api.js';
import { mapView, queueView, sharesView, jobView, usageView, submitView } from './views.js';

const main = document.getElementById('main');
const routes = [
  [/^#\/map$/, mapView, 'Site map'],
  [/^#\/queue$/, queueView, 'Queue'],
  [/^#\/shares$/, sharesView, 'Shares'],
  [/^#\/usage$/, usageView, 'Usage'],
  [/^#\/submit$/, submitView, 'Submit'],
  [/^#\/jobs\/([^/]+)$/, jobView, 'Job'],
];
let current = {};
let stopWatch = null;
let me = null;

function loginView(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('live').hidden = true;
  document.getElementById('who').textContent = '';
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'off', 'aria-describedby': 'token-error', size: 50, required: true });
  const err = el('span', { class: 'field-error', id: 'token-error', role: 'alert' }, message || '');
  const form = el('form', { id: 'login' }, el('h1', {}, 'Log in'),
    el('p', {}, 'Paste an API token (agora serve prints the site-admin token at first start; agora tokens --create makes others).'),
    el('div', { class: 'field' }, el('label', { for: 'token' }, 'API token'), input, err),
    el('button', { type: 'submit' }, 'Log in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    try {
      await api('/v1/whoami');
      if (!location.hash || location.hash === '#/login') location.hash = '#/map';
      start();
    } catch (x) {
      token.clear();
      err.textContent = x.message;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

async function start() {
  try { me = await api('/v1/whoami'); } catch (e) { token.clear(); loginView(e.status === 401 ? '' : e.message); return; }
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = `${me.user} · ${me.role}${me.scope ? ` of ${me.scope}` : ''}`;
  if (stopWatch) stopWatch();
  const live = document.getElementById('live');
  stopWatch = watch((e) => { if (current.onEvent) current.onEvent(e); }, (on) => { live.hidden = false; live.classList.toggle('on', on); live.textContent = on ? 'live' : 'reconnecting'; });
  route();
}

async function route() {
  if (!token.get()) { loginView(); return; }
  if (current.stop) current.stop();
  current = {};
  const h = location.hash || '#/map';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === h) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const hit = routes.map(([re, view, title]) => [h.match(re), view, title]).find(([m]) => m);
  if (!hit) { main.replaceChildren(el('h1', {}, 'Not found'), el('p', {}, `No view ${h}`)); return; }
  const [m, view, title] = hit;
  document.title = `${title} · Agora`;
  main.replaceChildren(el('p', { class: 'loading' }, 'Loading…'));
  const mine = {};
  current = mine;
  try {
    const v = await view(main, { me }, m.slice(1));
    if (current === mine) current = Object.assign(mine, v || {});
    else if (v && v.stop) v.stop();
  } catch (e) {
    if (e.status === 401) { token.clear(); loginView('the token is no longer valid'); return; }
    main.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message || String(e)));
  }
  document.body.dataset.view = title;
  main.dataset.ready = String(Date.now());
}

document.getElementById('logout').addEventListener('click', () => {
  token.clear();
  history.replaceState(null, '', '#/map');
  if (stopWatch) { stopWatch(); stopWatch = null; }
  if (current.stop) current.stop();
  current = {};
  loginView();
});
window.addEventListener('hashchange', route);
if (token.get()) start(); else loginView();
