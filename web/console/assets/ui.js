// Small DOM helpers shared by every page. Text from the server (log lines are attacker-controlled)
// is only ever set as text nodes or attribute values, never parsed as HTML.

export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'value') el.value = v;
        else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = !!v;
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, String(v));
    }
    for (const c of children) {
        if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
}

export function clear(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Times are shown in UTC, the same clock as the stored events; the local time is in the tooltip.
export function fmtTime(iso, withMs) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    let t = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
        `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    if (withMs) t += '.' + pad(d.getUTCMilliseconds(), 3);
    return t;
}

export function timeCell(iso, withMs) {
    const d = new Date(iso);
    return h('time', { datetime: iso, title: isNaN(d) ? null : d.toString() }, fmtTime(iso, withMs));
}

export function fmtAgo(iso) {
    if (!iso) return 'never';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const sec = Math.round((Date.now() - d.getTime()) / 1000);
    if (sec < 0) return 'just now';
    if (sec < 60) return sec + ' s ago';
    if (sec < 3600) return Math.round(sec / 60) + ' min ago';
    if (sec < 172800) return Math.round(sec / 3600) + ' h ago';
    return Math.round(sec / 86400) + ' days ago';
}

export function fmtNum(n) {
    if (n === undefined || n === null || n === '') return '';
    const x = Number(n);
    if (!isFinite(x)) return String(n);
    return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

// A visible message for a failed request: "not available" for a missing endpoint.
export function errorBox(err, what) {
    if (err && err.notAvailable) {
        return h('p', { class: 'notice' }, (what ? what + ': ' : '') + 'not available on this server.');
    }
    const msg = err && err.message ? err.message : String(err);
    return h('p', { class: 'notice error', role: 'alert' }, (what ? what + ': ' : '') + msg);
}

export function empty(text) {
    return h('p', { class: 'empty' }, text);
}

export function loading() {
    return h('p', { class: 'muted', 'aria-busy': 'true' }, 'Loading…');
}

// Loads into `box`: shows a loading line, then what render(data) returns, or the error.
export async function fill(box, what, load, render) {
    clear(box, loading());
    try {
        const data = await load();
        clear(box, render(data));
    } catch (e) {
        if (e.name === 'AbortError') return;
        clear(box, errorBox(e, what));
    }
}

export function badge(kind, value) {
    const v = value || 'unknown';
    return h('span', { class: `badge ${kind}-${String(v).toLowerCase()}` }, v);
}

let toastTimer = 0;
export function toast(text) {
    const t = document.getElementById('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 3500);
}

export async function copyText(text) {
    try {
        await navigator.clipboard.writeText(text);
        toast('Copied to the clipboard');
    } catch {
        toast('Select the text and copy it with Ctrl+C');
    }
}

export function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A table whose rows open something: reachable with Tab, opened with Enter or Space.
export function clickableRow(cells, open, label) {
    return h('tr', {
        class: 'clickable', tabindex: '0', 'aria-label': label,
        onclick: (e) => {
            if (e.target.closest('a, button, input, select, textarea')) return;
            open(e);
        },
        onkeydown: (e) => {
            if (e.target !== e.currentTarget) return;
            if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                open(e);
            }
        },
    }, cells);
}

export function table(headers, rows, opts = {}) {
    return h('div', { class: 'table-wrap' }, h('table', { class: opts.class },
        opts.caption ? h('caption', { class: 'muted small' }, opts.caption) : null,
        h('thead', null, h('tr', null, headers.map((x) =>
            typeof x === 'string' ? h('th', { scope: 'col' }, x) : h('th', { scope: 'col', class: x.class }, x.text)))),
        h('tbody', null, rows)));
}

// ATT&CK: tags follow Sigma's convention, attack.t1110.001 for a technique and attack.credential_access
// for a tactic. Tactic ids are fixed by MITRE (enterprise matrix).
export const TACTICS = [
    ['reconnaissance', 'TA0043', 'Reconnaissance'],
    ['resource_development', 'TA0042', 'Resource Development'],
    ['initial_access', 'TA0001', 'Initial Access'],
    ['execution', 'TA0002', 'Execution'],
    ['persistence', 'TA0003', 'Persistence'],
    ['privilege_escalation', 'TA0004', 'Privilege Escalation'],
    ['defense_evasion', 'TA0005', 'Defense Evasion'],
    ['credential_access', 'TA0006', 'Credential Access'],
    ['discovery', 'TA0007', 'Discovery'],
    ['lateral_movement', 'TA0008', 'Lateral Movement'],
    ['collection', 'TA0009', 'Collection'],
    ['command_and_control', 'TA0011', 'Command and Control'],
    ['exfiltration', 'TA0010', 'Exfiltration'],
    ['impact', 'TA0040', 'Impact'],
];
const TACTIC_BY_NAME = new Map(TACTICS.map((t) => [t[0], t]));

export function techniqueOf(tag) {
    const m = /^attack\.(t\d{4})(?:\.(\d{3}))?$/i.exec(String(tag));
    if (!m) return null;
    const id = m[1].toUpperCase() + (m[2] ? '.' + m[2] : '');
    const url = 'https://attack.mitre.org/techniques/' + m[1].toUpperCase() + (m[2] ? '/' + m[2] : '') + '/';
    return { id, url };
}

export function tacticOf(tag) {
    const m = /^attack\.([a-z_-]+)$/i.exec(String(tag));
    if (!m) return null;
    const t = TACTIC_BY_NAME.get(m[1].toLowerCase().replace(/-/g, '_'));
    return t ? { key: t[0], id: t[1], name: t[2], url: `https://attack.mitre.org/tactics/${t[1]}/` } : null;
}

export function tagList(tags) {
    return (tags || []).map((t) => {
        const tech = techniqueOf(t);
        if (tech) {
            return h('a', { class: 'tag', href: tech.url, target: '_blank', rel: 'noopener noreferrer',
                title: 'MITRE ATT&CK technique ' + tech.id }, tech.id);
        }
        const tac = tacticOf(t);
        if (tac) {
            return h('a', { class: 'tag', href: tac.url, target: '_blank', rel: 'noopener noreferrer',
                title: 'MITRE ATT&CK tactic ' + tac.id }, tac.name);
        }
        return h('span', { class: 'tag' }, t);
    });
}

// A labelled field for simple forms.
export function field(label, input) {
    return h('label', null, label, input);
}

export function confirmDo(text) {
    return window.confirm(text);
}
