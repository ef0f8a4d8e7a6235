// trapline console. One script for every page, dispatched on <body data-page>.
//
// Safety rule: data from the API (device text above all) only ever reaches the page through
// textContent / setAttribute on elements built here (the el() helper) — never innerHTML. The
// Content-Security-Policy (default-src 'self') forbids inline scripts on top of that.
'use strict';

(() => {
  const body = document.body;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const permissions = new Set((body.dataset.permissions || '').split(' ').filter(Boolean));
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  /** Builds an element: attrs may hold class, dataset (object), text, title, href, …;
   *  children are nodes or strings (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Calls the JSON API with the session (and its CSRF token when changing state). */
  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.method && opts.method !== 'GET') headers['X-CSRF-Token'] = csrf;
    const response = await fetch(path, {
      method: opts.method || 'GET',
      headers,
      credentials: 'same-origin',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    if (response.status === 401) {
      window.location.assign('/login');
      throw new Error('not logged in');
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!response.ok) {
      const detail = data && data.detail ? `: ${typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail)}` : '';
      throw new Error(`${(data && data.error) || response.statusText}${detail}`);
    }
    return data;
  }

  const pad = (n) => String(n).padStart(2, '0');
  /** Local time, second precision, sortable. */
  function formatTime(rfc3339) {
    if (!rfc3339) return '';
    const d = new Date(rfc3339);
    if (Number.isNaN(d.getTime())) return rfc3339;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  /** "12s", "5m", "3h", "2d" ago. */
  function age(rfc3339) {
    const seconds = Math.max(0, (Date.now() - new Date(rfc3339).getTime()) / 1000);
    if (seconds < 60) return `${Math.floor(seconds)}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
    return `${Math.floor(seconds / 86400)}d`;
  }

  // ---------------------------------------------------------------------------------------
  // Theme: system, light, dark (remembered per browser).
  const THEMES = ['', 'light', 'dark'];
  function applyTheme(theme) {
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }
  applyTheme(localStorage.getItem('trapline.theme') || '');
  document.addEventListener('DOMContentLoaded', () => {
    const button = $('#theme');
    if (!button) return;
    button.addEventListener('click', () => {
      const current = localStorage.getItem('trapline.theme') || '';
      const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
      localStorage.setItem('trapline.theme', next);
      applyTheme(next);
      button.title = `Theme: ${next || 'system'}`;
    });
  });

  // ---------------------------------------------------------------------------------------
  // Alert page
  const ACTIVE_STATES = ['open', 'acked', 'snoozed', 'suppressed'];
  const LEVELS = ['critical', 'warning', 'low', 'none'];
  const PAGE_SIZE = 100;

  function alertPage() {
    const canAct = permissions.has('ActOnAlerts');
    const known = new Map(); // id → alert JSON (compact unless from the stream)
    const fresh = new Set(); // ids raised since the page loaded (flash once)
    const selected = new Set();
    const expanded = new Map(); // id → full alert JSON or null while loading
    let pageIndex = 0;
    let renderQueued = false;
    let loading = null;
    let touchedWhileLoading = null;
    let unseenCritical = 0;
    const baseTitle = document.title;
    const form = $('#filters');

    // Filters live in the URL, so a filtered view can be bookmarked or put on a wall screen.
    const params = new URLSearchParams(window.location.search);
    for (const name of ['level', 'state', 'host', 'category', 'q']) {
      if (params.has(name)) form.elements[name].value = params.get(name);
    }
    // `?alert=ID` (the link in notification mails): that one alert, whatever its state,
    // opened; any filter change shows the list again.
    let focus = /^\d+$/.test(params.get('alert') || '') ? Number(params.get('alert')) : null;
    function filters() {
      const f = {};
      for (const name of ['level', 'state', 'host', 'category', 'q']) f[name] = form.elements[name].value.trim();
      return f;
    }
    function filtersChanged() {
      focus = null;
      const f = filters();
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(f)) if (v) query.set(k, v);
      const search = query.toString();
      window.history.replaceState(null, '', search ? `?${search}` : window.location.pathname);
      pageIndex = 0;
      if (f.state && !ACTIVE_STATES.includes(f.state)) loadHistory(f); else render();
    }
    form.addEventListener('input', debounce(filtersChanged, 150));
    form.addEventListener('submit', (e) => e.preventDefault());

    function globToRegExp(glob) {
      const escaped = glob.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*');
      return new RegExp(`^${escaped}$`, 'i');
    }
    function matcher(f) {
      if (focus !== null) return (a) => a.id === focus;
      const host = f.host ? (f.host.includes('*') ? globToRegExp(f.host) : null) : null;
      const hostText = f.host.toLowerCase();
      const category = f.category.toLowerCase();
      const words = f.q.toLowerCase().split(/\s+/).filter(Boolean);
      return (a) => {
        if (f.level && a.level !== f.level) return false;
        if (f.state ? a.state !== f.state : !ACTIVE_STATES.includes(a.state)) return false;
        if (host && !host.test(a.host)) return false;
        if (!host && hostText && !a.host.toLowerCase().includes(hostText)) return false;
        if (category && !(a.category || '').toLowerCase().includes(category)) return false;
        if (words.length) {
          const hay = `${a.summary} ${a.host} ${a.rule} ${a.category || ''} ${a.key}`.toLowerCase();
          if (!words.every((w) => hay.includes(w))) return false;
        }
        return true;
      };
    }

    // Loading: every active alert (bounded by the engine's max_active), a page at a time.
    async function loadActive() {
      touchedWhileLoading = new Set();
      const loaded = new Map();
      let cursor = '';
      for (let pages = 0; pages < 50; pages += 1) {
        const page = await api(`/api/v1/alerts?state=${ACTIVE_STATES.join(',')}&limit=1000&compact=true${cursor ? `&cursor=${cursor}` : ''}`);
        for (const a of page.alerts) loaded.set(a.id, a);
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      // Replace active alerts; keep what the stream told us meanwhile (it is newer).
      for (const [id, a] of known) if (ACTIVE_STATES.includes(a.state) && !touchedWhileLoading.has(id)) known.delete(id);
      for (const [id, a] of loaded) if (!touchedWhileLoading.has(id)) known.set(id, a);
      touchedWhileLoading = null;
      render();
    }
    async function loadHistory(f) {
      const query = new URLSearchParams({ state: f.state, limit: '1000', compact: 'true' });
      if (f.level) query.set('level', f.level);
      const page = await api(`/api/v1/alerts?${query}`);
      for (const a of page.alerts) if (!known.has(a.id)) known.set(a.id, a);
      render();
    }
    function reload() {
      if (!loading) {
        loading = loadActive().catch(showError).finally(() => { loading = null; });
      }
      const f = filters();
      if (f.state && !ACTIVE_STATES.includes(f.state)) loadHistory(f).catch(showError);
    }

    // Live updates.
    const live = $('#live');
    function setLive(on, text) {
      live.textContent = `● ${text}`;
      live.className = `live ${on ? 'on' : 'off'}`;
    }
    function connect() {
      const source = new EventSource('/api/v1/alerts/stream');
      source.addEventListener('open', () => { setLive(true, 'live'); reload(); });
      source.addEventListener('alert', (message) => {
        let a;
        try { a = JSON.parse(message.data); } catch (_) { return; }
        const isNew = !known.has(a.id);
        known.set(a.id, a);
        if (touchedWhileLoading) touchedWhileLoading.add(a.id);
        if (expanded.has(a.id)) expanded.set(a.id, a);
        if (isNew) {
          fresh.add(a.id);
          if (a.level === 'critical' && a.state === 'open') newCritical();
        }
        scheduleRender();
      });
      source.addEventListener('lagged', () => reload());
      source.addEventListener('error', () => setLive(false, 'reconnecting…'));
    }

    // The cue for a new critical alert: a short sound (switchable) and the tab title.
    const sound = $('#sound');
    sound.checked = localStorage.getItem('trapline.sound') === 'on';
    let audio = null;
    sound.addEventListener('change', () => {
      localStorage.setItem('trapline.sound', sound.checked ? 'on' : 'off');
      if (sound.checked) beep();
    });
    function beep() {
      try {
        audio = audio || new AudioContext();
        if (audio.state === 'suspended') audio.resume();
        for (const [start, freq] of [[0, 880], [0.25, 660]]) {
          const osc = audio.createOscillator();
          const gain = audio.createGain();
          osc.frequency.value = freq;
          gain.gain.value = 0.15;
          osc.connect(gain).connect(audio.destination);
          osc.start(audio.currentTime + start);
          osc.stop(audio.currentTime + start + 0.18);
        }
      } catch (_) { /* no audio: the title still tells */ }
    }
    function newCritical() {
      if (sound.checked) beep();
      if (document.hidden) {
        unseenCritical += 1;
        document.title = `(${unseenCritical}) new critical — ${baseTitle}`;
      }
    }
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) { unseenCritical = 0; document.title = baseTitle; }
    });

    // Rendering: only the current page of rows is in the DOM (10,000 alerts stay responsive).
    function scheduleRender() {
      if (renderQueued) return;
      renderQueued = true;
      setTimeout(() => { renderQueued = false; render(); }, 100);
    }
    function render() {
      const f = filters();
      const match = matcher(f);
      const counts = { critical: 0, warning: 0, low: 0, none: 0 };
      let acked = 0;
      let snoozed = 0;
      const view = [];
      for (const a of known.values()) {
        if (a.state === 'open') counts[a.level] += 1;
        else if (a.state === 'acked') acked += 1;
        else if (a.state === 'snoozed') snoozed += 1;
        if (match(a)) view.push(a);
      }
      view.sort((x, y) => y.id - x.id);
      for (const level of LEVELS) {
        const button = $(`[data-count="${level}"]`);
        $('.n', button).textContent = String(counts[level]);
        button.classList.toggle('active-filter', f.level === level);
      }
      $('#count-note').textContent = `open · ${acked} acked · ${snoozed} snoozed`;
      const pages = Math.max(1, Math.ceil(view.length / PAGE_SIZE));
      pageIndex = Math.min(pageIndex, pages - 1);
      const shown = view.slice(pageIndex * PAGE_SIZE, (pageIndex + 1) * PAGE_SIZE);
      const rows = [];
      for (const a of shown) {
        rows.push(alertRow(a));
        if (expanded.has(a.id)) rows.push(detailsRow(a.id));
      }
      $('#alert-rows').replaceChildren(...rows);
      fresh.clear();
      $('#alerts-empty').hidden = view.length > 0;
      $('#page-info').textContent = view.length
        ? `${pageIndex * PAGE_SIZE + 1}–${pageIndex * PAGE_SIZE + shown.length} of ${view.length}`
        : '';
      $('[data-page-step="-1"]').disabled = pageIndex === 0;
      $('[data-page-step="1"]').disabled = pageIndex >= pages - 1;
      for (const id of selected) if (!known.has(id)) selected.delete(id);
      updateBulk();
      $('#select-page').checked = shown.length > 0 && shown.every((a) => selected.has(a.id));
    }

    function actionsFor(a) {
      if (!canAct) return [];
      const active = ACTIVE_STATES.includes(a.state);
      const list = [];
      if (active && a.state !== 'acked') list.push(['ack', 'Ack', 'Acknowledge: someone is on it']);
      if (active) list.push(['snooze', 'Snooze', 'Put aside until a time']);
      if (active) list.push(['transfer', 'Transfer', 'Hand over to on-call people']);
      if (a.state !== 'archived' && a.state !== 'deleted') list.push(['archive', 'Archive', 'Done with it; keep it for the record']);
      if (a.state !== 'deleted') list.push(['delete', 'Delete', 'Throw it away']);
      return list;
    }

    function alertRow(a) {
      const stateText = a.state === 'snoozed' && a.snoozed_until ? `snoozed until ${formatTime(a.snoozed_until)}` : a.state;
      const meta = [a.rule, a.category, `first ${age(a.first_seen)} ago`].filter(Boolean).join(' · ');
      const transferred = a.transferred_to && a.transferred_to.length ? ` → ${a.transferred_to.join(', ')}` : '';
      const row = el('tr', {
        class: `alert${selected.has(a.id) ? ' selected' : ''}${fresh.has(a.id) ? ' fresh' : ''}`,
        'data-alert-id': a.id,
        'data-level': a.level,
        'data-state': a.state,
      },
      el('td', { class: 'sel' }, el('input', { type: 'checkbox', 'aria-label': 'Select', checked: selected.has(a.id), dataset: { select: a.id } })),
      el('td', {}, el('span', { class: `badge ${a.level}`, text: a.level })),
      el('td', {}, el('span', { class: `badge state ${a.state}`, text: stateText }), transferred),
      el('td', {}, permissions.has('ViewEquipment')
        ? el('a', { href: `/hosts/${encodeURIComponent(a.host)}`, text: a.host, title: 'The host: details and timeline' })
        : el('a', { href: `/events?host=${encodeURIComponent(a.host)}`, text: a.host, title: 'Events of this host' })),
      el('td', { class: 'summary' }, el('span', { text: a.summary }), el('span', { class: 'meta', text: meta })),
      el('td', { class: 'num', text: String(a.count) }),
      el('td', { class: 'time', title: formatTime(a.last_seen), text: `${age(a.last_seen)} ago` }),
      el('td', { class: 'actions' },
        actionsFor(a).map(([action, label, title]) => el('button', {
          type: 'button', class: action === 'delete' ? 'danger' : '', title, text: label, dataset: { action, id: a.id },
        })),
        el('button', { type: 'button', class: 'ghost', title: 'Details and history', 'aria-expanded': expanded.has(a.id) ? 'true' : 'false', text: expanded.has(a.id) ? '▾' : '▸', dataset: { details: a.id } })));
      return row;
    }

    function detailsRow(id) {
      const full = expanded.get(id);
      const cell = el('td', { colspan: '8' });
      if (!full) cell.append('Loading…');
      else {
        const facts = el('dl', { class: 'fields' },
          ...[['id', full.id], ['key', full.key], ['rule', full.rule], ['category', full.category || '—'],
            ['first seen', formatTime(full.first_seen)], ['last seen', formatTime(full.last_seen)],
            ['events', full.count], ['snoozed until', full.snoozed_until ? formatTime(full.snoozed_until) : '—'],
            ['transferred to', (full.transferred_to || []).join(', ') || '—']]
            .flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
        const events = el('p', {}, 'Latest events: ',
          (full.event_ids || []).slice(0, 20).flatMap((eventId, i) => [i ? ', ' : '', el('a', { href: `/events/${eventId}`, text: `#${eventId}` })]));
        const history = el('ul', { class: 'history' },
          (full.history || []).slice().reverse().map((h) => el('li', {},
            el('span', { class: 'when', text: formatTime(h.at) }),
            el('strong', { text: h.by }), ` ${h.action}`, h.detail ? ` — ${h.detail}` : '')));
        const maintenance = permissions.has('ChangeMaintenance')
          ? el('p', {}, el('button', { type: 'button', dataset: { maintenance: full.id }, title: 'Silence this host for a while (a maintenance window)', text: `Maintenance for ${full.host}…` }))
          : null;
        const incident = canAct && permissions.has('FollowIncidents')
          ? el('p', {}, el('button', { type: 'button', dataset: { openIncident: full.id }, title: 'Open an incident prefilled from this alert', text: 'Open incident' }))
          : null;
        cell.append(el('div', { class: 'details-grid' },
          el('div', {}, facts, events, maintenance, incident),
          el('div', {}, el('h2', { text: 'History' }), history)));
      }
      return el('tr', { class: 'details', dataset: { detailsOf: id } }, cell);
    }

    // Clicks on rows: select, details, actions.
    $('#alert-rows').addEventListener('click', (event) => {
      const target = event.target;
      if (!(target instanceof Element)) return;
      const selectBox = target.closest('[data-select]');
      if (selectBox) {
        const id = Number(selectBox.dataset.select);
        if (selectBox.checked) selected.add(id); else selected.delete(id);
        render();
        return;
      }
      const details = target.closest('[data-details]');
      if (details) {
        const id = Number(details.dataset.details);
        if (expanded.has(id)) expanded.delete(id);
        else {
          expanded.set(id, null);
          api(`/api/v1/alerts/${id}`).then((full) => { if (expanded.has(id)) { expanded.set(id, full); render(); } }).catch(showError);
        }
        render();
        return;
      }
      const button = target.closest('[data-action]');
      if (button) act(button.dataset.action, [Number(button.dataset.id)]);
      const silence = target.closest('[data-maintenance]');
      if (silence) act('maintenance', [Number(silence.dataset.maintenance)]);
      const opener = target.closest('[data-open-incident]');
      if (opener) {
        opener.disabled = true;
        api('/api/v1/incidents', { method: 'POST', body: { alert_id: Number(opener.dataset.openIncident) } })
          .then((i) => window.location.assign(`/incidents/${i.id}`))
          .catch((e) => { opener.disabled = false; showError(e); });
      }
    });
    $('#select-page').addEventListener('change', (event) => {
      const ids = $$('#alert-rows tr.alert').map((row) => Number(row.dataset.alertId));
      for (const id of ids) if (event.target.checked) selected.add(id); else selected.delete(id);
      render();
    });
    for (const button of $$('[data-page-step]')) {
      button.addEventListener('click', () => { pageIndex = Math.max(0, pageIndex + Number(button.dataset.pageStep)); render(); });
    }
    for (const button of $$('[data-count]')) {
      button.addEventListener('click', () => {
        const level = button.dataset.count;
        form.elements.level.value = form.elements.level.value === level ? '' : level;
        filtersChanged();
      });
    }

    // Bulk actions on the selection.
    const bulk = $('#bulk');
    function updateBulk() {
      bulk.hidden = !canAct || selected.size === 0;
      $('#bulk-count').textContent = `${selected.size} selected`;
    }
    for (const button of $$('[data-bulk]')) button.addEventListener('click', () => act(button.dataset.bulk, Array.from(selected)));
    $('#bulk-clear').addEventListener('click', () => { selected.clear(); render(); });

    // Actions: ack and archive at once; snooze, transfer and delete ask first.
    const dialog = $('#action-dialog');
    const actionForm = $('#action-form');
    let pending = null;
    function act(action, ids) {
      if (!ids.length) return;
      if (action === 'ack' || action === 'archive') { send(action, ids, {}).catch(showError); return; }
      pending = { action, ids };
      $('#action-title').textContent = { snooze: 'Snooze', transfer: 'Transfer to on-call', delete: 'Delete', maintenance: 'Maintenance window' }[action];
      const first = known.get(ids[0]);
      $('#action-subject').textContent = ids.length > 1 ? `${ids.length} alerts` : (first ? `${first.host}: ${first.summary}` : `alert ${ids[0]}`);
      for (const part of $$('[data-for]', actionForm)) part.hidden = !part.dataset.for.split(' ').includes(action);
      $('#action-confirm').textContent = action === 'delete' ? 'Delete for good' : 'Confirm';
      $('#action-confirm').className = action === 'delete' ? 'danger' : 'primary';
      $('#action-error').textContent = '';
      actionForm.elements.comment.value = '';
      actionForm.elements.until.value = '';
      dialog.showModal();
    }
    actionForm.addEventListener('submit', (event) => {
      const choice = event.submitter ? event.submitter.value : 'cancel';
      if (choice === 'cancel' || !pending) { pending = null; return; }
      event.preventDefault();
      const { action, ids } = pending;
      const extra = { comment: actionForm.elements.comment.value.trim() || undefined };
      let chosen = action;
      if (action === 'delete' && choice === 'archive') chosen = 'archive';
      if (chosen === 'snooze' || chosen === 'maintenance') {
        const until = actionForm.elements.until.value;
        if (until) extra.until = new Date(until).toISOString(); else extra.for = actionForm.elements.for.value;
      }
      if (chosen === 'transfer') extra.to = actionForm.elements.to.value.split(',').map((s) => s.trim()).filter(Boolean);
      send(chosen, ids, extra)
        .then(() => { pending = null; dialog.close(); })
        .catch((error) => { $('#action-error').textContent = error.message; });
    });
    async function send(action, ids, extra) {
      if (action === 'maintenance') {
        const a = known.get(ids[0]);
        const start = new Date();
        const end = extra.until ? new Date(extra.until) : new Date(start.getTime() + durationMs(extra.for));
        await api('/api/v1/maintenance', {
          method: 'POST',
          body: { name: extra.comment || `from alert ${ids[0]}`, start: start.toISOString(), end: end.toISOString(), hosts: [a.host] },
        });
        return;
      }
      if (ids.length === 1) {
        const a = await api(`/api/v1/alerts/${ids[0]}/${action}`, { method: 'POST', body: extra });
        known.set(a.id, a);
      } else {
        const result = await api(`/api/v1/alerts/bulk/${action}`, { method: 'POST', body: { ...extra, ids } });
        for (const a of result.done) known.set(a.id, a);
        if (result.failed.length) showError(new Error(`${result.failed.length} of ${ids.length} alerts: ${result.failed[0].error}`));
      }
      for (const id of ids) selected.delete(id);
      render();
    }

    if (focus !== null) {
      api(`/api/v1/alerts/${focus}`).then((a) => { known.set(a.id, a); expanded.set(a.id, a); render(); }).catch(showError);
    }
    setInterval(render, 30000); // ages ("5m ago") move on
    if (filters().state && !ACTIVE_STATES.includes(filters().state)) loadHistory(filters()).catch(showError);
    connect();
  }

  // ---------------------------------------------------------------------------------------
  // Events page
  function eventsPage() {
    const form = $('#event-filters');
    const names = ['since', 'until', 'host', 'level', 'kind', 'q'];
    const params = new URLSearchParams(window.location.search);
    for (const name of names) {
      if (!params.has(name)) continue;
      const value = params.get(name);
      form.elements[name].value = form.elements[name].type === 'datetime-local' ? toLocalInput(value) : value;
    }
    let cursor = null;
    function query() {
      const q = new URLSearchParams();
      for (const name of names) {
        const value = form.elements[name].value.trim();
        if (!value) continue;
        q.set(name, form.elements[name].type === 'datetime-local' ? new Date(value).toISOString() : value);
      }
      return q;
    }
    async function load(more) {
      const q = query();
      if (!more) window.history.replaceState(null, '', q.toString() ? `?${q}` : window.location.pathname);
      q.set('limit', '100');
      if (more && cursor) q.set('cursor', cursor);
      const page = await api(`/api/v1/events?${q}`);
      const rows = page.events.map((e) => el('tr', { 'data-event-id': e.id, 'data-level': e.level },
        el('td', { class: 'time', text: formatTime(e.received_at) }),
        el('td', {}, el('span', { class: `badge ${e.level}`, text: e.level })),
        el('td', { text: e.kind }),
        el('td', { text: e.host }),
        el('td', { text: e.app || '' }),
        el('td', { class: 'summary' }, el('a', { href: `/events/${e.id}`, text: e.message || (e.trap && (e.trap.trap_name || e.trap.trap_oid)) || '(empty)' }))));
      if (more) $('#event-rows').append(...rows); else $('#event-rows').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('#events-more').hidden = !cursor;
      $('#events-empty').hidden = $('#event-rows').children.length > 0;
    }
    form.addEventListener('submit', (event) => { event.preventDefault(); load(false).catch(showError); });
    $('#events-more').addEventListener('click', () => load(true).catch(showError));
    load(false).catch(showError);
  }
  function toLocalInput(rfc3339) {
    const d = new Date(rfc3339);
    if (Number.isNaN(d.getTime())) return '';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  // ---------------------------------------------------------------------------------------
  // One event, raw
  async function eventPage() {
    const id = body.dataset.argument;
    let e;
    try {
      e = await api(`/api/v1/events/${encodeURIComponent(id)}`);
    } catch (error) {
      $('#event-error').textContent = error.message;
      $('#event-error').hidden = false;
      return;
    }
    $('#event-title').textContent = `Event #${e.id} from ${e.host}`;
    const fields = [['received', formatTime(e.received_at)], ['source', e.source], ['transport', e.transport],
      ['kind', e.kind], ['level', e.level], ['facility', e.facility], ['severity', e.severity], ['host', e.host],
      ['app', e.app], ['procid', e.procid], ['msgid', e.msgid], ['timestamp (as sent)', e.timestamp]];
    if (e.trap) {
      fields.push(['SNMP version', e.trap.version], ['community', e.trap.community], ['user', e.trap.user],
        ['trap OID', e.trap.trap_oid], ['trap name', e.trap.trap_name], ['agent', e.trap.agent], ['uptime', e.trap.uptime]);
    }
    $('#event-fields').replaceChildren(...fields.filter(([, v]) => v !== null && v !== undefined && v !== '')
      .flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
    $('#event-message').textContent = e.message;
    if (e.trap && e.trap.varbinds && e.trap.varbinds.length) {
      $('#event-varbinds').hidden = false;
      $('#varbind-rows').replaceChildren(...e.trap.varbinds.map((v) => el('tr', {},
        el('td', { class: 'mono', text: v.oid }), el('td', { text: v.name || '' }),
        el('td', { text: v.type }), el('td', { class: 'mono', text: typeof v.value === 'string' ? v.value : JSON.stringify(v.value) }))));
    }
    if (e.structured_data && Object.keys(e.structured_data).length) {
      $('#event-sd').hidden = false;
      $('#event-sd-text').textContent = JSON.stringify(e.structured_data, null, 2);
    }
    if (e.raw) {
      $('#event-raw').hidden = false;
      $('#event-raw-text').textContent = hexDump(e.raw);
    }
    $('#event-json').textContent = JSON.stringify(e, null, 2);
  }
  /** base64 → classic hex dump (offset, 16 bytes, printable ASCII). */
  function hexDump(base64) {
    let bytes;
    try { bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)); } catch (_) { return base64; }
    const lines = [];
    for (let offset = 0; offset < bytes.length && offset < 65536; offset += 16) {
      const chunk = Array.from(bytes.slice(offset, offset + 16));
      const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47, ' ');
      const text = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
      lines.push(`${offset.toString(16).padStart(6, '0')}  ${hex}  ${text}`);
    }
    return lines.join('\n');
  }

  // ---------------------------------------------------------------------------------------
  // Login audit (admins)
  function loginsPage() {
    let cursor = null;
    async function load(more) {
      const page = await api(`/api/v1/logins?limit=100${more && cursor ? `&cursor=${cursor}` : ''}`);
      const rows = page.logins.map((l) => el('tr', {},
        el('td', { class: 'time', text: formatTime(l.at) }), el('td', { text: l.user }), el('td', { text: l.role || '—' }),
        el('td', { text: l.address }), el('td', { text: typeof l.outcome === 'string' ? l.outcome : JSON.stringify(l.outcome) })));
      if (more) $('#login-rows').append(...rows); else $('#login-rows').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('#logins-more').hidden = !cursor;
    }
    $('#logins-more').addEventListener('click', () => load(true).catch(showError));
    load(false).catch(showError);
  }

  // ---------------------------------------------------------------------------------------
  // ---------------------------------------------------------------------------------------
  // Users (admins)
  function usersPage() {
    const ROLES = ['operator', 'manager', 'oncall', 'admin', 'viewer'];
    const error = $('#users-error');
    const report = (e) => { error.textContent = e.message; };
    async function load() {
      const users = await api('/api/v1/users');
      $('#user-rows').replaceChildren(...users.map((u) => {
        const role = el('select', { 'aria-label': 'Role' }, ROLES.map((r) => el('option', { selected: r === u.role, text: r })));
        const email = el('input', { type: 'email', value: u.email || '', 'aria-label': 'Email', size: '30' });
        const password = el('input', { type: 'password', placeholder: 'new password', autocomplete: 'new-password', 'aria-label': 'New password', size: '14' });
        const save = el('button', { type: 'button', text: 'Save' });
        const remove = el('button', { type: 'button', class: 'danger', text: 'Remove' });
        save.addEventListener('click', () => {
          const change = { role: role.value, email: email.value.trim() || null };
          if (password.value) change.password = password.value;
          error.textContent = '';
          api(`/api/v1/users/${encodeURIComponent(u.name)}`, { method: 'PATCH', body: change }).then(load).catch(report);
        });
        remove.addEventListener('click', () => {
          if (!window.confirm(`Remove ${u.name}? Their tokens and sessions end.`)) return;
          api(`/api/v1/users/${encodeURIComponent(u.name)}`, { method: 'DELETE' }).then(load).catch(report);
        });
        return el('tr', { dataset: { user: u.name } },
          el('td', { text: u.name }), el('td', {}, role), el('td', {}, email),
          el('td', { class: 'time', text: formatTime(u.created_at) }), el('td', { class: 'actions' }, password, ' ', save, ' ', remove));
      }));
    }
    $('#new-user').addEventListener('submit', (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const body = { name: f.name.value.trim(), role: f.role.value, password: f.password.value };
      if (f.email.value.trim()) body.email = f.email.value.trim();
      error.textContent = '';
      api('/api/v1/users', { method: 'POST', body }).then(() => { event.target.reset(); return load(); }).catch(report);
    });
    load().catch(report);
  }

  // ---------------------------------------------------------------------------------------
  // Equipment: the hosts seen, and one host with its timeline
  function levelBadges(counts) {
    return el('span', { class: 'counts-inline' }, LEVELS.filter((l) => counts && counts[l])
      .map((l) => el('span', { class: `badge ${l}`, title: l, text: String(counts[l]) })));
  }
  function hostsPage() {
    const form = $('#host-filters');
    const params = new URLSearchParams(window.location.search);
    for (const name of ['q', 'zone']) if (params.has(name)) form.elements[name].value = params.get(name);
    let cursor = null;
    async function load(more) {
      const q = new URLSearchParams();
      for (const name of ['q', 'zone']) if (form.elements[name].value.trim()) q.set(name, form.elements[name].value.trim());
      if (!more) window.history.replaceState(null, '', q.toString() ? `?${q}` : window.location.pathname);
      q.set('limit', '200');
      if (more && cursor) q.set('cursor', cursor);
      const page = await api(`/api/v1/hosts?${q}`);
      const rows = page.hosts.map((h) => el('tr', { dataset: { host: h.host } },
        el('td', {}, el('a', { href: `/hosts/${encodeURIComponent(h.host)}`, text: h.host })),
        el('td', { text: h.name || '' }), el('td', { text: h.type || '' }), el('td', { text: h.location || '' }),
        el('td', { text: h.zone || '' }),
        el('td', { class: 'time', title: h.last_seen ? formatTime(h.last_seen) : '', text: h.last_seen ? `${age(h.last_seen)} ago` : 'never' }),
        el('td', { class: 'num', text: h.events.toLocaleString() }),
        el('td', {}, h.open_alerts ? levelBadges(h.open_alerts_by_level) : '—')));
      if (more) $('#host-rows').append(...rows); else $('#host-rows').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('#hosts-more').hidden = !cursor;
      $('#hosts-empty').hidden = $('#host-rows').children.length > 0;
    }
    form.addEventListener('input', debounce(() => load(false).catch(showError), 200));
    form.addEventListener('submit', (event) => event.preventDefault());
    $('#hosts-more').addEventListener('click', () => load(true).catch(showError));
    load(false).catch(showError);
  }

  function hostPage() {
    const host = body.dataset.argument;
    const path = `/api/v1/hosts/${encodeURIComponent(host)}`;
    const form = $('#host-form');
    const canEdit = permissions.has('EditEquipment');
    const canAdminister = permissions.has('AdministerEquipment');
    const fields = ['name', 'type', 'address', 'location', 'zone', 'comments'];
    const error = $('#host-error');
    $('#host-title').textContent = host;
    for (const name of fields) form.elements[name].disabled = !canEdit || (name === 'zone' && !canAdminister);
    $('#host-save').hidden = !canEdit;
    $('#host-forget').hidden = !canAdminister;
    function show(h) {
      $('#host-title').textContent = h.name ? `${h.name} (${h.host})` : h.host;
      for (const name of fields) form.elements[name].value = h[name] || '';
      $('#host-updated').textContent = h.updated_by ? `Last edited by ${h.updated_by}, ${formatTime(h.updated_at)}` : '';
      const facts = [['first seen', h.first_seen ? formatTime(h.first_seen) : 'never'], ['last seen', h.last_seen ? formatTime(h.last_seen) : 'never'],
        ['last sender', h.source || '—'], ['events', h.events.toLocaleString()], ['open alerts', String(h.open_alerts)]];
      $('#host-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
        el('dt', { text: 'events by level' }), el('dd', {}, levelBadges(h.events_by_level)),
        el('dt', { text: 'alerts by level' }), el('dd', {}, levelBadges(h.open_alerts_by_level)));
    }
    async function load() {
      try { show(await api(path)); } catch (e) { error.textContent = e.message; }
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const change = {};
      for (const name of fields) {
        if (form.elements[name].disabled) continue;
        change[name] = form.elements[name].value.trim() || null;
      }
      error.textContent = '';
      api(path, { method: 'PATCH', body: change }).then(show).catch((e) => { error.textContent = e.message; });
    });
    $('#host-forget').addEventListener('click', () => {
      if (!window.confirm(`Forget ${host}? Its details go; it comes back if it sends again.`)) return;
      api(path, { method: 'DELETE' }).then(() => window.location.assign('/hosts')).catch((e) => { error.textContent = e.message; });
    });
    let cursor = null;
    async function timeline(more) {
      const page = await api(`${path}/timeline?limit=100${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const rows = page.items.map((item) => {
        const isAlert = item.type === 'alert';
        const text = isAlert ? `${item.summary} (${item.state}, ${item.count}×)` : (item.message || (item.trap && (item.trap.trap_name || item.trap.trap_oid)) || '');
        const link = isAlert ? `/?q=${encodeURIComponent(item.key || item.summary)}&state=${encodeURIComponent(item.state)}` : `/events/${item.id}`;
        return el('tr', { dataset: { type: item.type } },
          el('td', { class: 'time', text: formatTime(item.at) }),
          el('td', { text: isAlert ? 'alert' : (item.kind || 'event') }),
          el('td', {}, el('span', { class: `badge ${item.level}`, text: item.level })),
          el('td', { class: 'summary' }, el('a', { href: link, text })));
      });
      if (more) $('#timeline-rows').append(...rows); else $('#timeline-rows').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('#timeline-more').hidden = !cursor;
    }
    $('#timeline-more').addEventListener('click', () => timeline(true).catch(showError));
    load();
    timeline(false).catch(showError);
  }

  // ---------------------------------------------------------------------------------------
  // About: version, uptime, SNMP engine id
  async function aboutPage() {
    const s = await api('/api/v1/system');
    const days = Math.floor(s.uptime_seconds / 86400);
    const uptime = `${days ? `${days}d ` : ''}${Math.floor((s.uptime_seconds % 86400) / 3600)}h ${Math.floor((s.uptime_seconds % 3600) / 60)}m`;
    const facts = [['version', s.version], ['started', formatTime(s.started_at)], ['uptime', uptime],
      ['SNMP engine id', s.snmp_engine_id ? `0x${s.snmp_engine_id}` : '— (no trap listener yet)'],
      ['SNMP engine boots', s.snmp_engine_boots ?? '—'], ['events stored', s.events_stored.toLocaleString()],
      ['event data', `${(s.event_bytes / 1048576).toFixed(1)} MiB (compressed)`], ['rules in force', s.rules]];
    $('#system-fields').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v), dataset: { fact: k } })]));
  }

  // On call: who is on call now and next (everybody), the schedule (admins edit it).
  function oncallPage() {
    const canEdit = permissions.has('EditOncall');
    const error = $('#oncall-error');
    const report = (e) => { error.textContent = e.message; };
    let schedule = { shifts: [], rotations: [], escalate_after: '10m' };
    const toIso = (local) => new Date(local).toISOString();
    function markDirty() { $('#oncall-dirty').textContent = 'Not saved yet.'; }
    function removeButton(list, index) {
      const button = el('button', { type: 'button', class: 'danger', text: 'Remove' });
      button.addEventListener('click', () => { list.splice(index, 1); markDirty(); renderSchedule(); });
      return button;
    }
    function renderSchedule() {
      $('#escalate-after').textContent = schedule.escalate_after;
      $('#shift-rows').replaceChildren(...schedule.shifts.map((s, i) => el('tr', { dataset: { user: s.user, rank: String(s.rank) } },
        el('td', { text: s.user }), el('td', { class: 'time', text: formatTime(s.start) }), el('td', { class: 'time', text: formatTime(s.end) }),
        el('td', { text: String(s.rank) }), el('td', { class: 'actions' }, canEdit ? removeButton(schedule.shifts, i) : null))));
      $('#rotation-rows').replaceChildren(...(schedule.rotations || []).map((r, i) => el('tr', {},
        el('td', { text: r.users.join(', ') }), el('td', { class: 'time', text: formatTime(r.start) }), el('td', { text: r.every || '7d' }),
        el('td', { class: 'time', text: r.until ? formatTime(r.until) : '—' }), el('td', { text: String(r.rank) }),
        el('td', { class: 'actions' }, canEdit ? removeButton(schedule.rotations, i) : null))));
    }
    function renderNow(page) {
      const now = page.now.map((n) => el('li', { dataset: { rank: String(n.rank) } },
        el('strong', { text: `Rank ${n.rank}: ` }), n.users.join(', '), n.until ? el('span', { class: 'muted', text: ` until ${formatTime(n.until)}` }) : null));
      $('#oncall-now').replaceChildren(...(now.length ? now : [el('li', { class: 'muted', text: 'Nobody is on call.' })]));
      const next = page.next.map((n) => el('li', {},
        el('strong', { text: `Rank ${n.rank}: ` }), n.user, el('span', { class: 'muted', text: ` from ${formatTime(n.start)} to ${formatTime(n.end)}` })));
      $('#oncall-next').replaceChildren(...(next.length ? next : [el('li', { class: 'muted', text: 'Nothing planned.' })]));
    }
    async function load() {
      const page = await api('/api/v1/oncall');
      schedule = { shifts: page.shifts, rotations: page.rotations || [], escalate_after: page.escalate_after };
      $('#oncall-save').elements.escalate_after.value = page.escalate_after;
      $('#oncall-dirty').textContent = '';
      renderNow(page);
      renderSchedule();
    }
    if (canEdit) {
      $('#oncall-editor').hidden = false;
      api('/api/v1/users').then((users) => {
        $('#new-shift').elements.user.replaceChildren(...users.map((u) => el('option', { value: u.name, text: u.email ? `${u.name} <${u.email}>` : `${u.name} (no email)` })));
      }).catch(report);
      $('#new-shift').addEventListener('submit', (event) => {
        event.preventDefault();
        const f = event.target.elements;
        schedule.shifts.push({ user: f.user.value, start: toIso(f.start.value), end: toIso(f.end.value), rank: Number(f.rank.value) });
        markDirty(); renderSchedule();
      });
      $('#new-rotation').addEventListener('submit', (event) => {
        event.preventDefault();
        const f = event.target.elements;
        const users = f.users.value.split(',').map((u) => u.trim()).filter(Boolean);
        schedule.rotations.push({ users, start: toIso(f.start.value), every: f.every.value.trim(), rank: Number(f.rank.value) });
        markDirty(); renderSchedule();
      });
      $('#oncall-save').addEventListener('submit', (event) => {
        event.preventDefault();
        error.textContent = '';
        const body = { shifts: schedule.shifts, rotations: schedule.rotations, escalate_after: event.target.elements.escalate_after.value.trim() };
        api('/api/v1/oncall', { method: 'PUT', body }).then(load).catch(report);
      });
    }
    load().catch(report);
    setInterval(() => { if (!$('#oncall-dirty').textContent) load().catch(report); }, 60000);
  }

  // ---------------------------------------------------------------------------------------
  // Notification log (operators, admins)
  function notificationsPage() {
    let cursor = null;
    const form = $('#notification-filters');
    async function load(more) {
      const q = new URLSearchParams({ limit: '100' });
      if (form.elements.status.value) q.set('status', form.elements.status.value);
      if (more && cursor) q.set('cursor', cursor);
      const page = await api(`/api/v1/notifications?${q}`);
      const rows = page.notifications.map((n) => {
        const last = n.log.length ? n.log[n.log.length - 1] : null;
        return el('tr', { dataset: { notification: String(n.id), status: n.status } },
          el('td', { class: 'time', text: formatTime(n.created_at) }), el('td', { text: n.channel }), el('td', { text: n.recipient }),
          el('td', { text: n.kind }), el('td', { text: n.more ? `${n.subject} (+${n.more} more)` : n.subject }), el('td', { text: n.status }),
          el('td', { text: String(n.attempts) }),
          el('td', { text: last ? `${formatTime(last.at)} ${last.error || 'sent'}` : (n.next_attempt_at ? `due ${formatTime(n.next_attempt_at)}` : '—') }));
      });
      if (more) $('#notification-rows').append(...rows); else $('#notification-rows').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('#notifications-more').hidden = !cursor;
    }
    form.addEventListener('change', () => load(false).catch(showError));
    form.addEventListener('submit', (e) => e.preventDefault());
    $('#notifications-more').addEventListener('click', () => load(true).catch(showError));
    load(false).catch(showError);
  }

  // ---------------------------------------------------------------------------------------
  // Incidents: the list (filters, knowledge base, new incident) and one incident
  const SEVERITIES = ['green', 'orange', 'red'];
  const stateLabel = (state) => state.replace('_', ' ');
  const names = (text) => text.split(',').map((n) => n.trim()).filter(Boolean);
  function incidentsPage() {
    const form = $('#incident-filters');
    const params = new URLSearchParams(window.location.search);
    for (const name of ['q', 'state', 'category']) if (params.has(name)) form.elements[name].value = params.get(name);
    form.elements.kb.checked = params.get('kb') === 'true';
    let cursor = null;
    async function load(more) {
      const q = new URLSearchParams();
      for (const name of ['q', 'state', 'category']) if (form.elements[name].value.trim()) q.set(name, form.elements[name].value.trim());
      if (form.elements.kb.checked) q.set('kb', 'true');
      if (!more) window.history.replaceState(null, '', q.toString() ? `?${q}` : window.location.pathname);
      q.set('limit', '200');
      if (more && cursor) q.set('cursor', cursor);
      const page = await api(`/api/v1/incidents?${q}`);
      const rows = page.incidents.map((i) => el('tr', { dataset: { incidentId: i.id, state: i.state } },
        el('td', {}, el('a', { href: `/incidents/${i.id}`, text: i.reference })),
        el('td', {}, el('span', { class: `badge sev-${i.severity}`, text: i.severity })),
        el('td', {}, el('span', { class: `badge state ${i.state}`, text: stateLabel(i.state) }), i.knowledge_base ? ' · KB' : ''),
        el('td', { class: 'summary' }, el('a', { href: `/incidents/${i.id}`, text: i.title }), el('span', { class: 'meta', text: i.category })),
        el('td', { text: i.host || '' }),
        el('td', { class: 'time', title: formatTime(i.opened_at), text: `${formatTime(i.opened_at)} · ${i.opened_by}` }),
        el('td', { text: i.assignees.join(', ') })));
      if (more) $('#incident-rows').append(...rows); else $('#incident-rows').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('#incidents-more').hidden = !cursor;
      $('#incidents-empty').hidden = $('#incident-rows').children.length > 0;
    }
    form.addEventListener('input', debounce(() => load(false).catch(showError), 200));
    form.addEventListener('submit', (event) => event.preventDefault());
    $('#incidents-more').addEventListener('click', () => load(true).catch(showError));
    const create = $('#new-incident-form');
    create.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = { title: create.elements.title.value.trim(), severity: create.elements.severity.value, source: create.elements.source.value };
      for (const name of ['description', 'category', 'host']) if (create.elements[name].value.trim()) body[name] = create.elements[name].value.trim();
      $('#new-incident-error').textContent = '';
      api('/api/v1/incidents', { method: 'POST', body })
        .then((i) => window.location.assign(`/incidents/${i.id}`))
        .catch((e) => { $('#new-incident-error').textContent = e.message; });
    });
    for (const link of $$('[data-export]')) {
      link.addEventListener('click', (event) => {
        event.preventDefault();
        const since = new Date(Date.now() - Number(link.dataset.export) * 86400 * 1000).toISOString();
        window.location.assign(`/api/v1/incidents/export?format=csv&since=${encodeURIComponent(since)}`);
      });
    }
    load(false).catch(showError);
  }

  function incidentPage() {
    const id = body.dataset.argument;
    const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
    const error = $('#incident-error');
    const edit = $('#incident-form');
    const fail = (e) => { error.textContent = e.message; };
    $('#incident-pdf').href = `${path}/pdf`;
    $('#incident-print').addEventListener('click', () => window.print());
    function show(i) {
      document.title = `${i.reference} — trapline`;
      $('#incident-title').textContent = `${i.reference}: ${i.title}`;
      const facts = [['state', stateLabel(i.state)], ['severity', i.severity], ['category', i.category], ['source', i.source],
        ['host', i.host || '—'], ['occurred', formatTime(i.occurred_at)], ['opened', `${formatTime(i.opened_at)} by ${i.opened_by}`],
        ['assignees', i.assignees.join(', ') || '—'], ['followers', i.followers.join(', ') || '—'],
        ['closed', i.closed_at ? `${formatTime(i.closed_at)} by ${i.closed_by}` : '—'], ['knowledge base', i.knowledge_base ? 'yes' : 'no']];
      $('#incident-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { dataset: { fact: k }, text: v })]),
        el('dt', { text: 'alerts' }), el('dd', {}, i.alert_ids.flatMap((a, n) => [n ? ', ' : '', el('a', { href: `/?alert=${a}`, text: `#${a}` })])));
      $('#incident-description').textContent = i.description || '—';
      $('#incident-resolutions').replaceChildren(...i.resolutions.map((r) => el('li', { class: r.final ? 'final' : '' },
        el('span', { class: 'when', text: formatTime(r.at) }), el('strong', { text: r.by }), r.final ? ' (final)' : '', el('pre', { class: 'message', text: r.text }))));
      $('#incident-history').replaceChildren(...(i.history || []).slice().reverse().map((h) => el('li', {},
        el('span', { class: 'when', text: formatTime(h.at) }), el('strong', { text: h.by }), ` ${h.action}`, h.detail ? ` — ${h.detail}` : '')));
      const open = i.state !== 'closed';
      const mayEdit = i.may_edit !== false;
      edit.hidden = !(open && mayEdit);
      for (const name of ['title', 'description', 'category', 'severity', 'host']) edit.elements[name].value = i[name] || '';
      edit.elements.followers.value = i.followers.join(', ');
      $('#resolve-form').hidden = !(open && mayEdit && permissions.has('ResolveIncidents'));
      $('#transfer-form').hidden = !(permissions.has('ManageIncidents') && (i.state === 'open' || i.state === 'in_progress'));
      $('#close-form').hidden = !(permissions.has('ManageIncidents') && i.state === 'resolved');
    }
    async function load() {
      try {
        show(await api(path));
        const related = await api(`${path}/related`);
        $('#incident-related').replaceChildren(...(related.incidents.length ? related.incidents.map((r) => el('li', {},
          el('a', { href: `/incidents/${r.id}`, text: r.reference }), ` ${r.title}`, r.host ? ` (${r.host})` : ''))
          : [el('li', { class: 'muted', text: 'Nothing about this host or category yet.' })]));
      } catch (e) { fail(e); }
    }
    const after = (i) => { error.textContent = ''; load(); return i; };
    edit.addEventListener('submit', (event) => {
      event.preventDefault();
      const change = { title: edit.elements.title.value, description: edit.elements.description.value, category: edit.elements.category.value,
        severity: edit.elements.severity.value, host: edit.elements.host.value.trim() || null, followers: names(edit.elements.followers.value) };
      api(path, { method: 'PATCH', body: change }).then(after).catch(fail);
    });
    const resolve = $('#resolve-form');
    resolve.addEventListener('submit', (event) => {
      event.preventDefault();
      api(`${path}/resolve`, { method: 'POST', body: { text: resolve.elements.text.value, final: resolve.elements.final.checked } })
        .then((i) => { resolve.reset(); after(i); }).catch(fail);
    });
    const transfer = $('#transfer-form');
    transfer.addEventListener('submit', (event) => {
      event.preventDefault();
      api(`${path}/transfer`, { method: 'POST', body: { to: names(transfer.elements.to.value), comment: transfer.elements.comment.value.trim() || undefined } })
        .then((i) => { transfer.reset(); after(i); }).catch(fail);
    });
    const close = $('#close-form');
    close.addEventListener('submit', (event) => {
      event.preventDefault();
      api(`${path}/close`, { method: 'POST', body: { knowledge_base: close.elements.knowledge_base.checked, comment: close.elements.comment.value.trim() || undefined } })
        .then(after).catch(fail);
    });
    if (permissions.has('ManageIncidents')) {
      // Transfers go to on-call people: offer those on call now.
      api('/api/v1/oncall').then((s) => {
        const users = new Set((s.now || []).flatMap((n) => n.users || []));
        $('#oncall-users').replaceChildren(...Array.from(users).map((u) => el('option', { value: u })));
      }).catch(() => {});
    }
    load();
  }

  // ---------------------------------------------------------------------------------------
  /** "15m", "1h", "1d" → milliseconds. */
  // ---------------------------------------------------------------------------------------
  // Reports: availability per host and service, outages, charts (SVG drawn by the server).
  function humanSeconds(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    if (seconds < 60) return `${seconds.toFixed(1)}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.round((seconds % 3600) / 60)}m`;
    return `${Math.floor(seconds / 86400)}d ${Math.round((seconds % 86400) / 3600)}h`;
  }
  function reportsPage() {
    const form = $('#report-filters');
    const canRecord = permissions.has('RecordOutages');
    const params = new URLSearchParams(window.location.search);
    for (const name of ['period', 'at', 'host']) if (params.has(name)) form.elements[name].value = params.get(name);
    function query() {
      const q = new URLSearchParams();
      q.set('period', form.elements.period.value);
      const at = form.elements.at.value;
      if (at) q.set('at', new Date(`${at}T12:00:00`).toISOString());
      if (form.elements.host.value.trim()) q.set('host', form.elements.host.value.trim());
      return q;
    }
    function figures(f) {
      return [el('td', { class: 'num', text: `${f.availability_percent.toFixed(3)} %` }),
        el('td', { class: 'num', text: humanSeconds(f.downtime_seconds) }),
        el('td', { class: 'num', text: String(f.outages) }),
        el('td', { class: 'num', text: humanSeconds(f.mttr_seconds) })];
    }
    function outageRow(o) {
      const source = o.source === 'alert' ? `alert ${o.alert_id} (${o.rule})` : `${o.by}: ${o.reason}`;
      const remove = canRecord && o.source === 'manual'
        ? el('button', { type: 'button', dataset: { action: 'remove-outage' }, text: 'Remove' }) : '';
      if (remove) {
        remove.addEventListener('click', () => {
          api(`/api/v1/outages/${encodeURIComponent(o.id)}`, { method: 'DELETE' }).then(load).catch(showError);
        });
      }
      return el('tr', { dataset: { outageId: o.id } },
        el('td', { text: o.host }), el('td', { text: o.service }),
        el('td', { class: 'time', text: formatTime(o.start) }),
        el('td', { class: 'time', text: o.end ? formatTime(o.end) : 'ongoing' }),
        el('td', { class: 'num', text: humanSeconds(o.duration_seconds) }),
        el('td', { text: source }), el('td', {}, remove));
    }
    async function load() {
      const q = query();
      window.history.replaceState(null, '', `?${q}`);
      const report = await api(`/api/v1/reports/availability?${q}`);
      $('#report-window').textContent = `${formatTime(report.since)} – ${formatTime(report.until)} (${report.timezone}), observed until ${formatTime(report.observed_until)}`;
      const rows = [];
      for (const h of report.hosts) {
        rows.push(el('tr', { class: 'host-total', dataset: { host: h.host } },
          el('td', {}, el('a', { href: `/hosts/${encodeURIComponent(h.host)}`, text: h.host })), el('td', { text: 'all' }), ...figures(h)));
        for (const s of h.services) rows.push(el('tr', { dataset: { host: h.host } }, el('td', {}), el('td', { text: s.service }), ...figures(s)));
      }
      $('#report-host-rows').replaceChildren(...rows);
      $('#report-empty').hidden = rows.length > 0;
      $('#report-outage-rows').replaceChildren(...report.outages.map(outageRow));
      const csv = new URLSearchParams(q);
      csv.set('format', 'csv');
      $('#report-csv').setAttribute('href', `/api/v1/reports/availability?${csv}`);
      $('#chart-availability').setAttribute('src', `/api/v1/reports/availability.svg?${q}`);
      const all = new URLSearchParams(q);
      all.delete('host');
      $('#chart-alerts').setAttribute('src', `/api/v1/reports/summary.svg?${all}`);
      const summary = await api(`/api/v1/reports/summary?${all}`);
      const incidentRows = summary.incident_categories.map(([category, n]) => el('tr', {},
        el('td', {}, el('a', { href: `/incidents?category=${encodeURIComponent(category)}`, text: category })),
        el('td', { class: 'num', text: String(n) })));
      if (!incidentRows.length) incidentRows.push(el('tr', {}, el('td', { colspan: '2', class: 'muted', text: 'No incident opened in this period.' })));
      $('#report-incident-rows').replaceChildren(...incidentRows);
    }
    const entry = $('#outage-form');
    entry.hidden = !canRecord;
    entry.addEventListener('submit', (event) => {
      event.preventDefault();
      const f = entry.elements;
      const when = (value) => (value ? new Date(value).toISOString() : undefined);
      const outage = { host: f.host.value.trim(), start: when(f.start.value), end: when(f.end.value), reason: f.reason.value.trim() };
      if (f.service.value.trim()) outage.service = f.service.value.trim();
      api('/api/v1/outages', { method: 'POST', body: outage }).then(() => { entry.reset(); return load(); }).catch(showError);
    });
    form.addEventListener('input', debounce(() => load().catch(showError), 300));
    form.addEventListener('submit', (event) => event.preventDefault());
    load().catch(showError);
  }

  function durationMs(text) {
    const match = /^(\d+)([smhd])$/.exec(text || '');
    if (!match) return 3600 * 1000;
    return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2]] * 1000;
  }
  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }
  function showError(error) {
    let bar = $('#console-error');
    if (!bar) {
      bar = el('p', { id: 'console-error', class: 'notice error', role: 'alert' });
      $('.notices').append(bar);
    }
    bar.textContent = error.message;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => bar.remove(), 10000);
  }

  const PAGES = {
    alerts: alertPage, events: eventsPage, event: eventPage, logins: loginsPage, users: usersPage, about: aboutPage,
    hosts: hostsPage, host: hostPage, oncall: oncallPage, notifications: notificationsPage,
    incidents: incidentsPage, incident: incidentPage,
    reports: reportsPage,
  };
  // A script error is shown, not swallowed: a console that silently stops updating is the
  // worst kind of broken on a wall screen.
  window.addEventListener('error', (event) => showError(new Error(`script error: ${event.message}`)));
  window.addEventListener('unhandledrejection', (event) => showError(event.reason instanceof Error ? event.reason : new Error(String(event.reason))));
  document.addEventListener('DOMContentLoaded', () => {
    const start = PAGES[body.dataset.page];
    if (start) start();
  });
})();
