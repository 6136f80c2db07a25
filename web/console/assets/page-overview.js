// Overview (GET /overview): events per minute, top hosts and programs, alerts by level, and the
// agents that have gone silent. Refreshes itself every 30 seconds while shown.

import { get } from './api.js';
import { h, clear, errorBox, empty, fmtNum, fmtAgo, timeCell, table, loading } from './ui.js';
import { histogram, rankList, MAX_BARS } from './charts.js';
import { rangePicker, rangeParams } from './range.js';
import { quoteValue } from './events.js';

const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];

// The chart sums neighbouring buckets past MAX_BARS: say what one bar holds.
function perText(interval, n) {
    const ms = interval * Math.max(1, Math.ceil(n / MAX_BARS));
    if (ms % 86400000 === 0) return ms === 86400000 ? 'day' : ms / 86400000 + ' days';
    if (ms % 3600000 === 0) return ms === 3600000 ? 'hour' : ms / 3600000 + ' hours';
    if (ms % 60000 === 0) return ms === 60000 ? 'minute' : ms / 60000 + ' minutes';
    return Math.round(ms / 1000) + ' seconds';
}

function searchLink(field, value) {
    return '#/search?q=' + encodeURIComponent(`${field}:${quoteValue(value)}`);
}

export function render(root, route) {
    const state = { range: route.params.get('range') || '24h' };
    const body = h('div', { class: 'stack' }, loading());
    let timer = 0;
    let seq = 0;

    const load = async () => {
        const mine = ++seq;
        let data;
        try {
            data = await get('/overview', rangeParams(state));
        } catch (e) {
            if (mine === seq) clear(body, errorBox(e, 'Overview'));
            return;
        }
        if (mine !== seq) return;
        const epm = data.events_per_minute || [];
        const total = epm.reduce((a, b) => a + (Number(b.count) || 0), 0);
        const levels = data.alerts_by_level || {};
        const silent = data.agents_silent || [];
        const interval = epm.length > 1 ? new Date(epm[1].t) - new Date(epm[0].t) : 60000;
        clear(body,
            h('section', { class: 'panel', 'aria-labelledby': 'ov-epm' },
                h('div', { class: 'row' }, h('h2', { id: 'ov-epm' }, 'Events per ' + perText(interval, epm.length)),
                    h('span', { class: 'spacer muted' }, fmtNum(total) + ' events in range')),
                histogram(epm, interval, {
                    label: 'Events per minute',
                    onPick: (from, to) => {
                        location.hash = '#/search?' + new URLSearchParams({ range: 'custom', from, to });
                    },
                })),
            h('section', { class: 'panel', 'aria-labelledby': 'ov-levels' },
                h('h2', { id: 'ov-levels' }, 'Alerts by level'),
                h('div', { class: 'levels' }, LEVELS.map((l) =>
                    h('a', { href: '#/alerts?level=' + l, class: 'lvl-' + l },
                        h('strong', null, fmtNum(levels[l] || 0)), h('span', null, l))))),
            h('div', { class: 'grid three' },
                h('section', { class: 'panel', 'aria-labelledby': 'ov-hosts' },
                    h('h2', { id: 'ov-hosts' }, 'Top hosts'),
                    (data.by_host || []).length ? rankList(data.by_host, (v) => searchLink('host.name', v))
                        : empty('No events from any host in this range.')),
                h('section', { class: 'panel', 'aria-labelledby': 'ov-sources' },
                    h('h2', { id: 'ov-sources', title: 'The programs that logged the most (process.name)' }, 'Top programs'),
                    (data.by_source || []).length ? rankList(data.by_source, (v) => searchLink('process.name', v))
                        : empty('No program named in this range.')),
                h('section', { class: 'panel', 'aria-labelledby': 'ov-silent' },
                    h('h2', { id: 'ov-silent' }, 'Agents not seen recently'),
                    silent.length
                        ? table(['Agent', 'Last seen'], silent.map((a) => h('tr', null,
                            h('td', null, h('a', { href: '#/agents' }, a.name || a.id)),
                            h('td', { title: a.last_seen || '' }, fmtAgo(a.last_seen)))))
                        : empty('Every agent has reported recently.'))),
            h('p', { class: 'muted small' }, 'Updated ', timeCell(new Date().toISOString()), ' UTC'));
    };

    const picker = rangePicker(state, () => {
        history.replaceState(null, '', '#/overview?range=' + encodeURIComponent(state.range));
        load();
    });
    clear(root, h('div', { class: 'page-head' }, h('h1', null, 'Overview'), h('div', { class: 'spacer' }, picker)),
        body);
    load();
    timer = setInterval(() => {
        if (!document.hidden && !body.contains(document.activeElement)) load();
    }, 30000);
    return () => {
        clearInterval(timer);
        seq++;
    };
}
