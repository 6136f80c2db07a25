// Event rendering shared by search, alerts, rule tests and the event page: a one-line summary,
// a pretty JSON view whose values can be added to the query, and the expandable event table.

import { h, clear, clickableRow, timeCell } from './ui.js';

export function dig(obj, path) {
    let o = obj;
    for (const k of path.split('.')) {
        if (o === null || typeof o !== 'object') return undefined;
        if (k in o) o = o[k];
        else return undefined;
    }
    return o;
}

// The stored ECS object may be nested ({"host":{"name":..}}) or use dotted keys ("host.name").
export function fieldOf(ev, path) {
    if (!ev) return undefined;
    if (Object.prototype.hasOwnProperty.call(ev, path)) return ev[path];
    return dig(ev, path);
}

function str(v) {
    if (v === undefined || v === null) return '';
    if (Array.isArray(v)) return v.join(', ');
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
}

export function hostOf(ev) {
    return str(fieldOf(ev, 'host.name') || fieldOf(ev, 'host.hostname') || fieldOf(ev, 'observer.hostname') ||
        fieldOf(ev, 'host.ip') || fieldOf(ev, 'source.ip'));
}

export function summaryOf(ev) {
    const msg = fieldOf(ev, 'message') || fieldOf(ev, 'event.original');
    if (msg) return str(msg);
    const parts = [fieldOf(ev, 'event.action'), fieldOf(ev, 'user.name'), fieldOf(ev, 'source.ip')];
    return parts.filter(Boolean).map(str).join(' ') || JSON.stringify(ev).slice(0, 300);
}

// Quotes a value for the search language: \" and \\ are its only escapes inside quotes.
export function quoteValue(v) {
    return '"' + String(v).replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

// Pretty JSON as DOM. onValue(path, value) makes leaf values buttons that add field:"value".
export function jsonView(obj, onValue) {
    const out = h('pre', { class: 'json mono' });
    const walk = (v, path, indent) => {
        const pad = '  '.repeat(indent);
        if (Array.isArray(v)) {
            if (!v.length) return out.append('[]');
            out.append('[\n');
            v.forEach((x, i) => {
                out.append(pad + '  ');
                walk(x, path, indent + 1);
                out.append(i < v.length - 1 ? ',\n' : '\n');
            });
            out.append(pad + ']');
        } else if (v && typeof v === 'object') {
            const keys = Object.keys(v);
            if (!keys.length) return out.append('{}');
            out.append('{\n');
            keys.forEach((k, i) => {
                out.append(pad + '  ', h('span', { class: 'k' }, JSON.stringify(k)), ': ');
                walk(v[k], path ? path + '.' + k : k, indent + 1);
                out.append(i < keys.length - 1 ? ',\n' : '\n');
            });
            out.append(pad + '}');
        } else {
            const cls = typeof v === 'number' ? 'n' : typeof v === 'boolean' || v === null ? 'b' : 's';
            const text = JSON.stringify(v);
            if (onValue && path && v !== null && v !== '') {
                out.append(h('button', { type: 'button', class: 'v ' + cls,
                    title: `Add ${path}:${quoteValue(v)} to the query`, onclick: () => onValue(path, v) }, text));
            } else {
                out.append(h('span', { class: cls }, text));
            }
        }
    };
    walk(obj, '', 0);
    return out;
}

// Rows of {id, @timestamp, event}: time, host, summary; a row opens to the event's JSON.
export function eventRows(events, opts = {}) {
    const rows = [];
    for (const e of events) rows.push(...eventRow(e, opts));
    return rows;
}

export function eventRow(e, opts = {}) {
    const ev = e.event || {};
    const detail = h('tr', { class: 'detail-row', hidden: true });
    const caret = h('span', { class: 'caret', 'aria-hidden': 'true' }, '▸');
    const row = clickableRow([
        h('td', { class: 'time mono' }, caret, timeCell(e['@timestamp'] || fieldOf(ev, '@timestamp'), true)),
        h('td', null, hostOf(ev)),
        h('td', { class: 'summary' }, summaryOf(ev)),
    ], () => toggle(), 'Event at ' + (e['@timestamp'] || ''));
    row.setAttribute('aria-expanded', 'false');
    row.dataset.id = e.id || '';
    const toggle = () => {
        const open = detail.hidden;
        detail.hidden = !open;
        row.classList.toggle('open', open);
        row.setAttribute('aria-expanded', String(open));
        caret.textContent = open ? '▾' : '▸';
        if (open && !detail.firstChild) {
            clear(detail, h('td', { class: 'detail', colspan: '3' },
                h('div', { class: 'row small muted' },
                    e.id ? h('span', null, 'id ', h('code', null, e.id)) : null,
                    e.id ? h('a', { href: '#/events/' + encodeURIComponent(e.id) }, 'Open event') : null,
                    opts.onValue ? h('span', null, 'Click a value to add it to the query.') : null),
                jsonView(ev, opts.onValue)));
        }
    };
    return [row, detail];
}

export function eventTable(events, opts = {}) {
    return h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
        h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Time (UTC)'), h('th', { scope: 'col' }, 'Host'),
            h('th', { scope: 'col' }, 'Message'))),
        h('tbody', null, eventRows(events, opts))));
}
