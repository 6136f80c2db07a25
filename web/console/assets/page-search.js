// Search (GET /search, GET /histogram) and the event page (GET /events/{id}).
// The query, range and custom times live in the URL (#/search?q=..&range=..), so a search can be
// bookmarked or shared. Results grow with "Load more" (next_cursor) or, with live tail on, by
// asking GET /search/tail every 2 seconds for the matching events received since its last answer:
// they go on top, the oldest rows go once TAIL_MAX_ROWS are shown, and the tail can be paused.
// The histogram counts the tailed events in as they come, moving with the range's end.

import { get } from './api.js';
import { h, clear, errorBox, empty, fmtNum, download, loading, toast, table } from './ui.js';
import { histogram, countInto } from './charts.js';
import { rangePicker, rangeParams, rangeMs } from './range.js';
import { eventRows, fieldOf, hostOf, summaryOf, quoteValue, jsonView } from './events.js';

const PAGE = 100;
const TAIL_MS = 2000;
const TAIL_MAX_ROWS = 500;

// The search expression before the first unquoted '|' (the histogram counts matches, not rows).
export function searchPart(q) {
    let quoted = false;
    for (let i = 0; i < q.length; i++) {
        const c = q[i];
        if (c === '\\' && quoted) i++;
        else if (c === '"') quoted = !quoted;
        else if (c === '|' && !quoted) return q.slice(0, i);
    }
    return q;
}

// The server reports a 0-based byte offset into the UTF-8 query; the caret needs characters.
export function charIndex(q, byteOffset) {
    const enc = new TextEncoder();
    let bytes = 0, i = 0;
    for (const ch of q) {
        if (bytes >= byteOffset) return i;
        bytes += enc.encode(ch).length;
        i += ch.length;
    }
    return q.length;
}

function queryError(q, err) {
    const box = h('div', { class: 'qerror', role: 'alert', id: 'query-error' }, h('strong', null, err.message));
    if (Number.isInteger(err.position) && err.position >= 0) {
        const at = charIndex(q, err.position);
        const before = [...q.slice(0, at)].length;
        box.append(h('pre', { class: 'mono' }, q, '\n', ' '.repeat(before), h('span', { class: 'mark' }, '^'),
            h('span', { class: 'muted' }, ` at position ${err.position}`)));
    }
    return box;
}

function csvCell(v, header) {
    if (typeof v === 'number') return String(v);
    let s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    // A leading = + - @ would be run as a formula by spreadsheet programs.
    if (!header && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function toCsv(header, rows) {
    return [header.map((c) => csvCell(c, true)).join(','), ...rows.map((r) => r.map((c) => csvCell(c)).join(','))]
        .join('\r\n') + '\r\n';
}

export function render(root, route) {
    if (route.page === 'events') return renderEvent(root, route);
    const p = route.params;
    const state = {
        q: p.get('q') || '',
        range: p.get('range') || '1h',
        from: p.get('from') || '',
        to: p.get('to') || '',
    };
    if (state.from && !p.get('range')) state.range = 'custom';

    let shown = [];       // events shown, newest first
    let tabular = null;   // {columns, rows} for piped queries
    let cursor = null;
    let truncated = false; // the server stopped scanning at its limit
    let tail = null;      // live tail: {cursor, paused, timer, ctrl, failing}
    let hist = null;      // the histogram shown: {buckets, interval_ms}, counted on by the live tail
    let seq = 0;
    let ctrl = null;

    const input = h('input', { type: 'search', id: 'query', class: 'mono', value: state.q, autocomplete: 'off',
        spellcheck: 'false', 'aria-label': 'Query', 'aria-describedby': 'query-help',
        placeholder: 'user.name:root AND event.outcome:failure | stats count by source.ip' });
    const errBox = h('div', { 'aria-live': 'polite' });
    const histBox = h('div', { id: 'histogram' });
    const status = h('span', { class: 'muted', id: 'result-status' });
    const results = h('div', { id: 'results-box' });
    const more = h('button', { type: 'button', hidden: true, id: 'load-more' }, 'Load more');
    const liveBtn = h('button', { type: 'button', 'aria-pressed': 'false', id: 'live-tail',
        title: 'Show new matching events on top as they arrive (checked every 2 seconds)' }, 'Live tail');
    const pauseBtn = h('button', { type: 'button', 'aria-pressed': 'false', id: 'tail-pause', hidden: true,
        title: 'Stop adding events for now; resuming adds what arrived meanwhile' }, 'Pause');
    const liveMark = h('span', { class: 'live-on', id: 'tail-state', hidden: true }, '● live');
    const csvBtn = h('button', { type: 'button', disabled: true }, 'Export CSV');
    const jsonBtn = h('button', { type: 'button', disabled: true }, 'Export JSON');
    const tbody = h('tbody', null);

    const params = () => ({ q: state.q, ...rangeParams(state) });

    const saveUrl = () => {
        const u = new URLSearchParams();
        if (state.q) u.set('q', state.q);
        u.set('range', state.range);
        if (state.range === 'custom') {
            if (state.from) u.set('from', state.from);
            if (state.to) u.set('to', state.to);
        }
        history.replaceState(null, '', '#/search?' + u);
    };

    const addTerm = (path, value) => {
        const term = `${path}:${quoteValue(value)}`;
        const cur = input.value.trim();
        const pipe = searchPart(cur);
        const rest = cur.slice(pipe.length);
        input.value = (pipe.trim() ? pipe.trim() + ' ' + term : term) + (rest ? ' ' + rest.trim() : '');
        run();
        input.focus();
    };

    const setStatus = (took) => {
        const n = tabular ? tabular.rows.length : shown.length;
        status.textContent = tabular
            ? `${fmtNum(n)} rows` + (took !== undefined ? ` in ${fmtNum(took)} ms` : '')
            : `${fmtNum(n)} events shown` + (cursor ? ' (more available)' : '') +
              (took !== undefined ? ` · ${fmtNum(took)} ms` : '');
        if (truncated) status.textContent += ' · cut at the server limit: narrow the time range';
        if (tail) status.textContent += ` · live tail keeps the newest ${fmtNum(TAIL_MAX_ROWS)}`;
        csvBtn.disabled = jsonBtn.disabled = n === 0;
    };

    const showEvents = () => {
        clear(tbody, eventRows(shown, { onValue: addTerm }));
        clear(results, shown.length
            ? h('div', { class: 'table-wrap' }, h('table', { class: 'events', id: 'results' },
                h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time (UTC)'),
                    h('th', { scope: 'col' }, 'Host'), h('th', { scope: 'col' }, 'Message'))),
                tbody))
            : empty('No events match this query in this time range.'));
    };

    const showTable = () => {
        const { columns, rows } = tabular;
        clear(results, timechart(columns, rows), rows.length
            ? table(columns.map((c) => ({ text: c, class: rows.some((r) => typeof r[columns.indexOf(c)] === 'number') ? 'num' : null })),
                rows.map((r) => h('tr', null, r.map((v) => h('td', { class: typeof v === 'number' ? 'num' : null },
                    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : fmtCell(v))))),
                { class: 'tabular' })
            : empty('The pipeline produced no rows.'));
    };

    const drawHistogram = () => {
        clear(histBox, histogram(hist.buckets, hist.interval_ms, {
            label: 'Matches over time',
            onPick: (from, to) => {
                state.range = 'custom';
                state.from = from;
                state.to = to;
                picker.sync();
                run();
            },
        }));
    };

    const loadHistogram = async (mine) => {
        const ms = rangeMs(state);
        hist = null;
        clear(histBox, h('div', { class: 'muted small' }, 'Loading the histogram…'));
        try {
            const r = await get('/histogram', { ...params(), q: searchPart(state.q).trim(), buckets: ms <= 900000 ? 30 : 60 },
                { signal: ctrl.signal });
            if (mine !== seq) return;
            hist = { buckets: r.buckets || [], interval_ms: r.interval_ms };
            drawHistogram();
        } catch (e) {
            if (e.name === 'AbortError' || mine !== seq) return;
            clear(histBox, e.status === 400 ? h('p', { class: 'muted small' }, 'No histogram for a query with errors.')
                : errorBox(e, 'Histogram'));
        }
    };

    async function run() {
        stopTail();
        state.q = input.value.trim();
        saveUrl();
        if (ctrl) ctrl.abort();
        ctrl = new AbortController();
        const mine = ++seq;
        clear(errBox);
        input.removeAttribute('aria-invalid');
        clear(results, loading());
        shown = [];
        tabular = null;
        cursor = null;
        more.hidden = true;
        status.textContent = '';
        loadHistogram(mine);
        let r;
        try {
            r = await get('/search', { ...params(), limit: PAGE }, { signal: ctrl.signal });
        } catch (e) {
            if (e.name === 'AbortError' || mine !== seq) return;
            clear(results);
            if (e.status === 400) {
                clear(results, empty('Correct the query above to see results.'));
                input.setAttribute('aria-invalid', 'true');
                clear(errBox, queryError(state.q, e));
                if (Number.isInteger(e.position)) {
                    const at = charIndex(state.q, e.position);
                    input.setSelectionRange(at, at);
                }
            } else {
                clear(results, errorBox(e, 'Search'));
            }
            csvBtn.disabled = jsonBtn.disabled = true;
            return;
        }
        if (mine !== seq) return;
        truncated = !!r.truncated;
        if (Array.isArray(r.columns)) {
            tabular = { columns: r.columns, rows: r.rows || [] };
            liveBtn.disabled = true;
            showTable();
        } else {
            liveBtn.disabled = false;
            shown = r.events || [];
            cursor = r.next_cursor || null;
            showEvents();
        }
        more.hidden = !cursor;
        setStatus(r.took_ms);
    }

    more.addEventListener('click', async () => {
        if (!cursor) return;
        more.disabled = true;
        const mine = seq;
        try {
            const r = await get('/search', { ...params(), limit: PAGE, cursor });
            if (mine !== seq) return;
            const add = r.events || [];
            shown.push(...add);
            tbody.append(...eventRows(add, { onValue: addTerm }));
            cursor = r.next_cursor || null;
            more.hidden = !cursor;
            setStatus(r.took_ms);
        } catch (e) {
            toast('Load more failed: ' + e.message);
        } finally {
            more.disabled = false;
        }
    });

    // Live tail: new events go on top (newest first), marked for a moment; past TAIL_MAX_ROWS the
    // oldest rows go, and with them the "Load more" cursor, which no longer follows the last row.
    // The histogram's range moves with now unless it has a fixed end.
    const histGrow = () => (state.range !== 'custom' ? 'slide' : !state.to || state.to === 'now' ? 'extend' : 'fixed');
    const addTailed = (events) => {
        const seen = new Set(shown.map((e) => e.id));
        const fresh = events.filter((e) => !e.id || !seen.has(e.id));
        if (!fresh.length) return;
        if (hist && countInto(hist, fresh.map((e) => e['@timestamp']), histGrow())) drawHistogram();
        if (!shown.length) {
            shown = fresh.slice(0, TAIL_MAX_ROWS);
            showEvents();
        } else {
            shown.unshift(...fresh);
            const rows = eventRows(fresh, { onValue: addTerm });
            for (const r of rows) if (!r.classList.contains('detail-row')) r.classList.add('tail-new');
            tbody.prepend(...rows);
        }
        if (shown.length > TAIL_MAX_ROWS) {
            shown.length = TAIL_MAX_ROWS;
            while (tbody.children.length > TAIL_MAX_ROWS * 2) tbody.lastElementChild.remove();
            cursor = null;
            more.hidden = true;
        }
        setStatus();
    };
    const tailUi = () => {
        liveBtn.setAttribute('aria-pressed', String(!!tail));
        pauseBtn.hidden = !tail;
        liveMark.hidden = !tail;
        if (!tail) return;
        pauseBtn.textContent = tail.paused ? 'Resume' : 'Pause';
        pauseBtn.setAttribute('aria-pressed', String(tail.paused));
        liveMark.textContent = tail.paused ? '❚❚ paused' : '● live';
        liveMark.classList.toggle('live-paused', tail.paused);
    };
    const tailPoll = async () => {
        const t = tail;
        if (!t || t.paused) return;
        const mine = seq;
        try {
            const r = await get('/search/tail', { q: state.q, after: t.cursor, limit: PAGE }, { signal: t.ctrl.signal });
            if (tail !== t || mine !== seq) return;
            t.cursor = r.cursor;
            t.failing = false;
            addTailed(r.events || []);
            if (r.truncated) toast('Live tail: more events arrived than it shows at once; the newest are shown');
        } catch (e) {
            if (e.name === 'AbortError' || tail !== t) return;
            if (e.status === 400 || e.status === 401 || e.status === 403) {
                if (e.status !== 401) toast('Live tail stopped: ' + e.message);
                stopTail();
                return;
            }
            // Say it once; keep trying (the server may be restarting).
            if (!t.failing) toast('Live tail: ' + e.message);
            t.failing = true;
        }
        if (tail === t && !t.paused) t.timer = setTimeout(tailPoll, TAIL_MS);
    };
    function startTail() {
        if (tabular || tail) return;
        tail = { cursor: null, paused: false, timer: 0, ctrl: new AbortController(), failing: false };
        tailUi();
        setStatus();
        tailPoll();
    }
    function stopTail() {
        if (!tail) return;
        clearTimeout(tail.timer);
        tail.ctrl.abort();
        tail = null;
        tailUi();
        setStatus();
    }
    function pauseTail() {
        if (!tail) return;
        if (tail.paused) {
            tail.paused = false;
            tail.ctrl = new AbortController();
            tailPoll();
        } else {
            tail.paused = true;
            clearTimeout(tail.timer);
            tail.ctrl.abort();
        }
        tailUi();
    }
    liveBtn.addEventListener('click', () => (tail ? stopTail() : startTail()));
    pauseBtn.addEventListener('click', pauseTail);

    csvBtn.addEventListener('click', () => {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        if (tabular) download(`trapline-${stamp}.csv`, 'text/csv', toCsv(tabular.columns, tabular.rows));
        else {
            download(`trapline-${stamp}.csv`, 'text/csv', toCsv(['@timestamp', 'id', 'host', 'message'],
                shown.map((e) => [e['@timestamp'], e.id, hostOf(e.event), summaryOf(e.event)])));
        }
    });
    jsonBtn.addEventListener('click', () => {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const data = tabular ? tabular : shown;
        download(`trapline-${stamp}.json`, 'application/json', JSON.stringify(data, null, 2) + '\n');
    });

    const picker = rangePicker(state, run);
    const form = h('form', { class: 'querybar', role: 'search' }, input,
        h('button', { type: 'submit', class: 'primary', id: 'run-search' }, 'Search'));
    form.addEventListener('submit', (e) => {
        e.preventDefault();
        run();
    });

    clear(root,
        h('div', { class: 'page-head' }, h('h1', null, 'Search')),
        h('section', { class: 'panel' },
            form,
            errBox,
            h('div', { class: 'row search-opts' }, picker, h('p', { class: 'muted small spacer', id: 'query-help' },
                'Words, "phrases", field:value, field:val*, field>=N, field:[a TO b], AND / OR / NOT, pipes: ',
                h('code', null, '| stats count by host.name')))),
        h('section', { class: 'panel' }, histBox),
        h('section', { class: 'panel' },
            h('div', { class: 'status-line' }, status, liveMark, h('span', { class: 'spacer' }), liveBtn, pauseBtn, csvBtn, jsonBtn),
            results,
            h('div', { class: 'row' }, more)));
    run();
    return () => {
        stopTail();
        seq++;
        if (ctrl) ctrl.abort();
    };
}

// `| timechart` rows ([@timestamp, (by fields...), count]) drawn as bars, summed per time.
function timechart(columns, rows) {
    const ci = columns.length - 1;
    if (columns[0] !== '@timestamp' || !rows.length || !rows.every((r) => typeof r[ci] === 'number')) return null;
    const sums = new Map();
    for (const r of rows) sums.set(r[0], (sums.get(r[0]) || 0) + r[ci]);
    const buckets = [...sums.entries()].map(([t, count]) => ({ t, count }))
        .sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
    let step = 0;
    for (let i = 1; i < buckets.length; i++) {
        const d = Date.parse(buckets[i].t) - Date.parse(buckets[i - 1].t);
        if (d > 0 && (!step || d < step)) step = d;
    }
    if (!step) return histogram(buckets, 60000, { label: 'Timechart', height: 120 });
    // Empty spans have no row: fill them so that bars sit at their times.
    const t0 = Date.parse(buckets[0].t), t1 = Date.parse(buckets[buckets.length - 1].t);
    if ((t1 - t0) / step > 5000) return histogram(buckets, step, { label: 'Timechart', height: 120 });
    const byT = new Map(buckets.map((b) => [Date.parse(b.t), b.count]));
    const full = [];
    for (let t = t0; t <= t1; t += step) full.push({ t: new Date(t).toISOString(), count: byT.get(t) || 0 });
    return histogram(full, step, { label: 'Timechart', height: 120 });
}

function fmtCell(v) {
    return typeof v === 'number' ? fmtNum(v) : String(v);
}

async function renderEvent(root, route) {
    const id = route.parts[1] || '';
    const body = h('div', null, loading());
    clear(root, h('div', { class: 'page-head' }, h('h1', null, 'Event'),
        h('a', { class: 'spacer', href: '#/search' }, 'Back to search')), body);
    try {
        const e = await get('/events/' + encodeURIComponent(id));
        const ev = e.event || {};
        const ts = e['@timestamp'] || fieldOf(ev, '@timestamp');
        const around = (ms) => '#/search?' + new URLSearchParams({
            range: 'custom',
            from: new Date(Date.parse(ts) - ms).toISOString(),
            to: new Date(Date.parse(ts) + ms).toISOString(),
            q: hostOf(ev) ? `host.name:${quoteValue(hostOf(ev))}` : '',
        });
        clear(body, h('section', { class: 'panel stack' },
            h('div', { class: 'row' }, h('code', null, e.id || id), h('span', { class: 'muted' }, ts || ''),
                ts && !isNaN(Date.parse(ts)) ? h('a', { class: 'spacer', href: around(300000) },
                    'Same host, 5 minutes around it') : null),
            h('p', null, summaryOf(ev)),
            jsonView(ev, (path, value) => {
                location.hash = '#/search?q=' + encodeURIComponent(`${path}:${quoteValue(value)}`);
            })));
    } catch (e) {
        clear(body, e.status === 404 ? h('p', { class: 'notice' }, 'No such event, or event lookup is not available on this server.')
            : errorBox(e, 'Event'));
    }
}
