// The time-range picker: presets (15m, 1h, 24h, 7d) sent as relative times the API understands
// (-15m .. now), or a custom from/to chosen in UTC and sent as RFC 3339.

import { h } from './ui.js';

export const PRESETS = ['15m', '1h', '24h', '7d'];

// state: {range: '1h'} or {range: 'custom', from: ISO, to: ISO}
export function rangeParams(state) {
    if (state.range === 'custom') return { from: state.from || '-1h', to: state.to || 'now' };
    return { from: '-' + (PRESETS.includes(state.range) ? state.range : '1h'), to: 'now' };
}

// Milliseconds covered by the state (for choosing a sensible histogram).
export function rangeMs(state) {
    if (state.range === 'custom') {
        const a = Date.parse(state.from), b = state.to && state.to !== 'now' ? Date.parse(state.to) : Date.now();
        return isNaN(a) || isNaN(b) ? 3600000 : Math.max(1000, b - a);
    }
    const m = /^(\d+)([mhd])$/.exec(state.range || '1h');
    if (!m) return 3600000;
    return Number(m[1]) * { m: 60000, h: 3600000, d: 86400000 }[m[2]];
}

// datetime-local inputs hold no zone: the console reads and writes them as UTC.
function toLocalInput(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toISOString().slice(0, 16);
}

function fromLocalInput(v) {
    if (!v) return '';
    const d = new Date(v + 'Z');
    return isNaN(d) ? '' : d.toISOString();
}

// A picker bound to `state`; onChange() is called after the state changed.
export function rangePicker(state, onChange) {
    const buttons = [];
    const from = h('input', { type: 'datetime-local', 'aria-label': 'From (UTC)', step: '60' });
    const to = h('input', { type: 'datetime-local', 'aria-label': 'To (UTC)', step: '60' });
    const apply = h('button', { type: 'button' }, 'Apply');
    const custom = h('span', { class: 'range' }, from, h('span', { class: 'muted' }, 'to'), to,
        h('span', { class: 'muted small' }, 'UTC'), apply);

    const sync = () => {
        for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.range === state.range));
        custom.hidden = state.range !== 'custom';
        if (state.range === 'custom') {
            from.value = toLocalInput(state.from || new Date(Date.now() - 3600000).toISOString());
            to.value = state.to && state.to !== 'now' ? toLocalInput(state.to) : toLocalInput(new Date().toISOString());
        }
    };
    for (const r of [...PRESETS, 'custom']) {
        const b = h('button', { type: 'button', 'data-range': r, 'aria-pressed': 'false',
            title: r === 'custom' ? 'Choose from and to' : 'Last ' + r }, r === 'custom' ? 'Custom' : r);
        b.addEventListener('click', () => {
            if (r === 'custom' && state.range !== 'custom') {
                state.from = new Date(Date.now() - rangeMs(state)).toISOString();
                state.to = new Date().toISOString();
            }
            state.range = r;
            sync();
            if (r !== 'custom') onChange();
        });
        buttons.push(b);
    }
    apply.addEventListener('click', () => {
        const f = fromLocalInput(from.value), t = fromLocalInput(to.value);
        if (!f) return from.focus();
        state.from = f;
        state.to = t || 'now';
        onChange();
    });
    const el = h('div', { class: 'range', role: 'group', 'aria-label': 'Time range' },
        h('span', { class: 'seg' }, buttons), custom);
    el.sync = sync;
    sync();
    return el;
}
