// Alerts: the triage list (GET /alerts with status, level and text filters) and one alert
// (GET /alerts/{id}) with its triggering events on a timeline, ATT&CK links, the status workflow
// and assignee (PATCH /alerts/{id}) and comments (POST /alerts/{id}/comments).

import { get, patch, post, canChange, currentUser } from './api.js';
import {
    h, clear, errorBox, empty, fmtNum, fmtAgo, timeCell, badge, clickableRow, tagList, loading, toast, fmtTime,
} from './ui.js';
import { timeline } from './charts.js';
import { eventRow, summaryOf } from './events.js';

const STATUSES = ['new', 'acknowledged', 'closed'];
const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];

export function render(root, route) {
    if (route.parts[1]) return renderAlert(root, route.parts[1]);
    return renderList(root, route);
}

function select(id, label, options, value) {
    return h('label', { for: id }, label, ' ',
        h('select', { id }, h('option', { value: '' }, 'any'),
            options.map((o) => h('option', { value: o, selected: o === value }, o))));
}

function renderList(root, route) {
    const p = route.params;
    const state = { status: p.get('status') ?? 'new', level: p.get('level') || '', q: p.get('q') || '' };
    if (p.has('level') && !p.has('status')) state.status = '';
    const statusSel = select('f-status', 'Status', STATUSES, state.status);
    const levelSel = select('f-level', 'Level', LEVELS, state.level);
    const qInput = h('input', { type: 'search', id: 'f-q', value: state.q, placeholder: 'rule, host, user…',
        'aria-label': 'Filter text' });
    const body = h('div', null, loading());
    const more = h('button', { type: 'button', hidden: true }, 'Load more');
    const tbody = h('tbody');
    let cursor = null;
    let seq = 0;

    const row = (a) => clickableRow([
        h('td', null, badge('lvl', a.level)),
        h('td', null, h('a', { href: '#/alerts/' + encodeURIComponent(a.id) }, a.title || a.rule_id || a.id),
            a.tags && a.tags.length ? h('div', null, tagList(a.tags)) : null),
        h('td', null, a.host || ''),
        h('td', { class: 'num' }, fmtNum(a.count)),
        h('td', null, badge('st', a.status), a.assignee ? h('div', { class: 'muted small' }, a.assignee) : null),
        h('td', { class: 'time' }, timeCell(a.last_seen), h('div', { class: 'muted small' }, fmtAgo(a.last_seen))),
    ], () => (location.hash = '#/alerts/' + encodeURIComponent(a.id)), `${a.level} alert: ${a.title || a.rule_id}`);

    const load = async (append) => {
        const mine = append ? seq : ++seq;
        if (!append) {
            clear(body, loading());
            cursor = null;
        }
        const u = new URLSearchParams();
        u.set('status', state.status);
        for (const k of ['level', 'q']) if (state[k]) u.set(k, state[k]);
        history.replaceState(null, '', '#/alerts' + (u.toString() ? '?' + u : ''));
        try {
            const r = await get('/alerts', { status: state.status, level: state.level, q: state.q, limit: 100,
                cursor: append ? cursor : '' });
            if (mine !== seq) return;
            const list = r.alerts || [];
            cursor = r.next_cursor || null;
            more.hidden = !cursor;
            if (append) tbody.append(...list.map(row));
            else if (!list.length) clear(body, empty('No alerts match these filters.'));
            else {
                clear(tbody, list.map(row));
                clear(body, h('div', { class: 'table-wrap' }, h('table', { id: 'alerts' },
                    h('thead', null, h('tr', null, ['Level', 'Rule', 'Host', 'Count', 'Status', 'Last seen (UTC)']
                        .map((t) => h('th', { scope: 'col', class: t === 'Count' ? 'num' : null }, t)))),
                    tbody)));
            }
        } catch (e) {
            if (mine === seq) clear(body, errorBox(e, 'Alerts'));
        }
    };
    const onFilter = () => {
        state.status = statusSel.querySelector('select').value;
        state.level = levelSel.querySelector('select').value;
        state.q = qInput.value.trim();
        load(false);
    };
    statusSel.addEventListener('change', onFilter);
    levelSel.addEventListener('change', onFilter);
    const form = h('form', { class: 'row' }, statusSel, levelSel, qInput, h('button', { type: 'submit' }, 'Filter'));
    form.addEventListener('submit', (e) => {
        e.preventDefault();
        onFilter();
    });
    more.addEventListener('click', () => load(true));
    clear(root, h('div', { class: 'page-head' }, h('h1', null, 'Alerts'), h('div', { class: 'spacer' }, form)),
        h('section', { class: 'panel' }, body, h('div', { class: 'row' }, more)));
    load(false);
    const timer = setInterval(() => {
        // A refresh redraws the table: not while the analyst is in it or has paged further.
        if (!document.hidden && !cursor && !body.contains(document.activeElement)) load(false);
    }, 30000);
    return () => {
        clearInterval(timer);
        seq++;
    };
}

async function renderAlert(root, id) {
    const box = h('div', null, loading());
    clear(root, box);
    let alert;
    try {
        alert = await get('/alerts/' + encodeURIComponent(id));
    } catch (e) {
        clear(root, h('div', { class: 'page-head' }, h('h1', null, 'Alert'), h('a', { href: '#/alerts' }, 'All alerts')),
            e.status === 404 ? h('p', { class: 'notice' }, 'No such alert, or alerts are not available on this server.')
                : errorBox(e, 'Alert'));
        return;
    }
    draw(root, alert);
}

function draw(root, a) {
    const editable = canChange();
    const events = a.events || [];
    const comments = a.comments || [];
    const msg = h('div', { 'aria-live': 'polite' });

    const update = async (change, done) => {
        clear(msg);
        try {
            const r = await patch('/alerts/' + encodeURIComponent(a.id), change);
            Object.assign(a, r || change);
            draw(root, a);
            toast(done);
        } catch (e) {
            clear(msg, errorBox(e, 'Update'));
        }
    };

    const actions = [];
    if (editable) {
        if (a.status === 'new') {
            actions.push(h('button', { type: 'button', class: 'primary', id: 'alert-ack',
                onclick: () => update({ status: 'acknowledged' }, 'Alert acknowledged') }, 'Acknowledge'));
        }
        if (a.status !== 'closed') {
            actions.push(h('button', { type: 'button', id: 'alert-close',
                onclick: () => update({ status: 'closed' }, 'Alert closed') }, 'Close'));
        } else {
            actions.push(h('button', { type: 'button', id: 'alert-reopen',
                onclick: () => update({ status: 'new' }, 'Alert reopened') }, 'Reopen'));
        }
    }

    const assignee = h('input', { id: 'assignee', value: a.assignee || '', placeholder: 'nobody', disabled: !editable,
        autocomplete: 'off' });
    const assignForm = h('form', { class: 'inline' }, h('label', { for: 'assignee' }, 'Assignee', assignee),
        editable ? h('button', { type: 'submit' }, 'Assign') : null,
        editable && currentUser() && a.assignee !== currentUser().name
            ? h('button', { type: 'button', onclick: () => update({ assignee: currentUser().name }, 'Assigned to you') },
                'Assign to me') : null);
    assignForm.addEventListener('submit', (e) => {
        e.preventDefault();
        update({ assignee: assignee.value.trim() }, 'Assignee saved');
    });

    const evBody = h('tbody');
    const rowsById = [];
    for (const e of events) {
        const [r, d] = eventRow(e);
        rowsById.push(r);
        evBody.append(r, d);
    }
    const tl = timeline(events.map((e, i) => ({
        t: e['@timestamp'],
        label: `Event ${i + 1}: ${fmtTime(e['@timestamp'])} ${summaryOf(e.event || {}).slice(0, 120)}`,
        onOpen: (idx) => {
            const r = rowsById[idx];
            if (r.getAttribute('aria-expanded') !== 'true') r.click();
            r.focus();
            r.scrollIntoView({ block: 'center' });
        },
    })), { label: 'Triggering events over time' });

    const text = h('textarea', { id: 'comment-text', rows: '3', placeholder: 'Add a note for the team…',
        'aria-label': 'Comment' });
    const commentForm = h('form', { class: 'stack' }, text,
        h('div', { class: 'row' }, h('button', { type: 'submit', id: 'comment-add' }, 'Add comment')));
    commentForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        const t = text.value.trim();
        if (!t) return text.focus();
        try {
            const c = await post('/alerts/' + encodeURIComponent(a.id) + '/comments', { text: t });
            a.comments = [...comments, c && c.text ? c : { at: new Date().toISOString(), user: currentUser().name, text: t }];
            draw(root, a);
            toast('Comment added');
        } catch (err) {
            clear(msg, errorBox(err, 'Comment'));
        }
    });

    const group = a.group && typeof a.group === 'object' ? Object.entries(a.group) : [];
    clear(root,
        h('p', null, h('a', { href: '#/alerts' }, '← All alerts')),
        h('div', { class: 'alert-head' }, badge('lvl', a.level), h('h1', null, a.title || a.rule_id || 'Alert'),
            badge('st', a.status), h('span', { class: 'spacer row' }, actions)),
        msg,
        h('div', { class: 'grid two' },
            h('section', { class: 'panel' },
                h('h2', null, 'Details'),
                h('dl', { class: 'facts' },
                    h('dt', null, 'Rule'), h('dd', null, a.rule_id
                        ? h('a', { href: '#/rules/' + encodeURIComponent(a.rule_id) }, a.rule_id) : ''),
                    h('dt', null, 'Host'), h('dd', null, a.host || ''),
                    h('dt', null, 'Count'), h('dd', null, fmtNum(a.count)),
                    h('dt', null, 'First seen'), h('dd', null, timeCell(a.first_seen), ' UTC'),
                    h('dt', null, 'Last seen'), h('dd', null, timeCell(a.last_seen), ' UTC'),
                    group.map(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'object' ? JSON.stringify(v) : String(v))]),
                    h('dt', null, 'ATT&CK'), h('dd', null, a.tags && a.tags.length ? tagList(a.tags) : 'no tags')),
                h('h3', null, 'Assignment'), assignForm),
            h('section', { class: 'panel' },
                h('h2', null, 'Comments'),
                comments.length ? h('ul', { class: 'comments' }, comments.map((c) => h('li', null,
                    h('div', { class: 'meta' }, c.user || '', ' · ', timeCell(c.at), ' UTC'),
                    h('p', null, c.text)))) : h('p', { class: 'muted' }, 'No comments yet.'),
                editable ? commentForm : null)),
        h('section', { class: 'panel' },
            h('h2', null, `Triggering events (${fmtNum(events.length)})`),
            events.length ? [tl, h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
                h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time (UTC)'), h('th', { scope: 'col' }, 'Host'),
                    h('th', { scope: 'col' }, 'Message'))),
                evBody))] : empty('The server returned no events for this alert.')));
}
