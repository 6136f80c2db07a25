// Charts drawn as SVG: a time histogram and an event timeline. Colours come from the stylesheet
// (classes), so both themes apply. Bars and dots are focusable and carry a <title> for readers.

import { h, s, fmtNum, fmtTime } from './ui.js';

export const MAX_BARS = 120;

function niceMax(v) {
    if (v <= 5) return 5;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
}

function shortTime(d, spanMs) {
    const iso = fmtTime(d.toISOString());
    if (spanMs > 2 * 86400000) return iso.slice(5, 16);
    return iso.slice(11, 16);
}

// buckets: [{t, count}], intervalMs: width of one bucket. onPick(fromIso, toIso) is called when a
// bar is chosen (click or Enter), to narrow a search to it.
export function histogram(buckets, intervalMs, opts = {}) {
    const W = 1000, H = opts.height || 140, L = 44, B = 22, T = 8;
    let list = buckets || [];
    // More bars than pixels say nothing: neighbouring buckets are summed into at most MAX_BARS.
    if (list.length > MAX_BARS) {
        const k = Math.ceil(list.length / MAX_BARS);
        const merged = [];
        for (let i = 0; i < list.length; i += k) {
            merged.push({ t: list[i].t, count: list.slice(i, i + k).reduce((a, b) => a + (Number(b.count) || 0), 0) });
        }
        list = merged;
        intervalMs = (intervalMs || 60000) * k;
    }
    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
        'aria-label': opts.label || 'Events over time' });
    if (!list.length) {
        svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No events in this time range'));
        return svg;
    }
    const max = niceMax(Math.max(1, ...list.map((b) => Number(b.count) || 0)));
    const plotW = W - L - 4, plotH = H - B - T;
    for (let i = 0; i <= 2; i++) {
        const y = T + plotH - (plotH * i) / 2;
        svg.append(s('line', { class: 'tick', x1: L, x2: W - 4, y1: y, y2: y }));
        svg.append(s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }, fmtNum((max * i) / 2)));
    }
    const bw = plotW / list.length;
    const t0 = new Date(list[0].t).getTime();
    const span = new Date(list[list.length - 1].t).getTime() - t0 + (intervalMs || 0);
    list.forEach((b, i) => {
        const c = Number(b.count) || 0;
        if (!c) return;
        const bh = c ? Math.max(1.5, (plotH * c) / max) : 0;
        const from = new Date(b.t);
        const to = new Date(from.getTime() + (intervalMs || 60000));
        const label = `${fmtTime(b.t)}: ${fmtNum(c)} events`;
        const rect = s('rect', {
            class: 'bar', x: (L + i * bw + 0.5).toFixed(2), y: (T + plotH - bh).toFixed(2),
            width: Math.max(1, bw - 1).toFixed(2), height: bh.toFixed(2),
        }, s('title', null, label));
        if (opts.onPick && c) {
            rect.setAttribute('tabindex', '0');
            rect.setAttribute('role', 'button');
            rect.setAttribute('aria-label', label + ', narrow the search to it');
            const pick = () => opts.onPick(from.toISOString(), to.toISOString());
            rect.addEventListener('click', pick);
            rect.addEventListener('keydown', (e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    pick();
                }
            });
        }
        svg.append(rect);
    });
    svg.append(s('line', { class: 'axis', x1: L, x2: W - 4, y1: T + plotH, y2: T + plotH }));
    const ticks = Math.min(6, list.length);
    for (let i = 0; i < ticks; i++) {
        const idx = Math.round((i * (list.length - 1)) / Math.max(1, ticks - 1));
        const x = L + idx * bw + bw / 2;
        svg.append(s('text', { x, y: H - 6, 'text-anchor': i === 0 ? 'start' : i === ticks - 1 ? 'end' : 'middle' },
            shortTime(new Date(list[idx].t), span)));
    }
    return svg;
}

// Counts events into a histogram as they arrive (the live tail). hist is {buckets: [{t, count}],
// interval_ms}, as GET /histogram answers, and is updated in place; times are the events'
// @timestamp values. An event inside the buckets counts into its bucket. A later one adds empty
// buckets up to its own when grow is 'slide' (then as many go from the start, so that a range
// relative to now keeps its width) or 'extend' (a range from a fixed time to now); with 'fixed' (a
// range with an end) it is left out. So are events before the first bucket and events more than
// the histogram's width past its end (a clock far off would otherwise wipe the chart). Returns how
// many events were counted.
export function countInto(hist, times, grow) {
    const list = hist.buckets, step = Number(hist.interval_ms);
    if (!list.length || !(step > 0)) return 0;
    const width = list.length;
    let t0 = Date.parse(list[0].t), n = 0;
    for (const v of times) {
        const t = Date.parse(v);
        if (isNaN(t) || t < t0) continue;
        let i = Math.floor((t - t0) / step);
        if (i >= list.length) {
            if (grow === 'fixed' || i >= 2 * list.length) continue;
            while (list.length <= i) list.push({ t: new Date(t0 + list.length * step).toISOString(), count: 0 });
            if (grow === 'slide') {
                const drop = list.length - width;
                list.splice(0, drop);
                t0 = Date.parse(list[0].t);
                i -= drop;
            }
        }
        list[i].count = (Number(list[i].count) || 0) + 1;
        n++;
    }
    return n;
}

// items: [{t, label, onOpen}] placed on one horizontal time axis.
export function timeline(items, opts = {}) {
    const W = 1000, H = 70, L = 20, R = 20;
    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
        'aria-label': opts.label || 'Timeline' });
    const times = items.map((x) => new Date(x.t).getTime()).filter((x) => !isNaN(x));
    if (!times.length) {
        svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No events'));
        return svg;
    }
    let t0 = Math.min(...times), t1 = Math.max(...times);
    if (t1 === t0) {
        t0 -= 30000;
        t1 += 30000;
    }
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: 30, y2: 30 }));
    // Events closer than a dot's width share one dot, sized and labelled by how many it holds.
    const clusters = [];
    items.map((it, i) => ({ it, i, x: x(new Date(it.t).getTime()) }))
        .filter((p) => !isNaN(p.x))
        .sort((a, b) => a.x - b.x)
        .forEach((p) => {
            const last = clusters[clusters.length - 1];
            if (last && p.x - last.x < 12) last.members.push(p);
            else clusters.push({ x: p.x, members: [p] });
        });
    for (const c of clusters) {
        const n = c.members.length;
        const first = c.members[0];
        const label = n > 1 ? `${n} events from ${first.it.label}` : first.it.label;
        const dot = s('circle', { class: 'dot', cx: c.x.toFixed(1), cy: 30, r: n > 1 ? Math.min(12, 6 + 2 * Math.log2(n)) : 6,
            tabindex: '0', role: 'button', 'aria-label': label }, s('title', null, label));
        const open = () => first.it.onOpen && first.it.onOpen(first.i);
        dot.addEventListener('click', open);
        dot.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                open();
            }
        });
        svg.append(dot);
        if (n > 1) svg.append(s('text', { x: c.x.toFixed(1), y: 12, 'text-anchor': 'middle' }, '×' + n));
    }
    svg.append(s('text', { x: L, y: 60 }, fmtTime(new Date(t0).toISOString())));
    svg.append(s('text', { x: W - R, y: 60, 'text-anchor': 'end' }, fmtTime(new Date(t1).toISOString())));
    return svg;
}

// A ranked list with a bar per entry: [{value, count}]. link(value) gives an href or null.
export function rankList(entries, link) {
    const list = entries || [];
    const max = Math.max(1, ...list.map((e) => Number(e.count) || 0));
    return h('ul', { class: 'hbars' }, list.map((e) => {
        const v = e.value === undefined || e.value === null || e.value === '' ? '(none)' : String(e.value);
        const href = link ? link(e.value) : null;
        return h('li', null,
            h('div', null,
                href ? h('a', { class: 'lbl', href, title: v }, v) : h('span', { class: 'lbl', title: v }, v),
                h('meter', { class: 'meter', min: '0', max: String(max), value: String(Number(e.count) || 0),
                    'aria-hidden': 'true' })),
            h('span', { class: 'cnt' }, fmtNum(e.count)));
    }));
}
