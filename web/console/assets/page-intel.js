// Threat intel: feeds and their status (GET /feeds), indicator search (GET /iocs?q=&type=), feed
// import (POST /iocs), and recent sightings of indicators in events (GET /sightings).

import { get, request, canChange } from './api.js';
import { h, clear, errorBox, empty, fmtNum, fmtAgo, timeCell, table, loading, tagList, fill } from './ui.js';

const TYPES = ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email', 'filename',
    'user-agent'];

function feedsTable(r) {
    const list = r.feeds || [];
    if (!list.length) return empty('No feeds are configured.');
    return table(['Feed', 'Last fetch (UTC)', { text: 'Indicators', class: 'num' }, 'Status'], list.map((f) => h('tr', null,
        h('td', null, h('strong', null, f.name || ''), f.format ? ' ' : null, f.format ? h('span', { class: 'tag' }, f.format) : null,
            f.url ? h('div', { class: 'muted small mono' }, f.url) : null),
        h('td', { class: 'time' }, f.last_fetch ? [timeCell(f.last_fetch), h('div', { class: 'muted small' }, fmtAgo(f.last_fetch))]
            : 'never'),
        h('td', { class: 'num' }, fmtNum(f.count)),
        h('td', null, f.error ? h('span', { class: 'badge st-silent', title: f.error }, 'error') : h('span', { class: 'badge st-online' }, 'ok'),
            f.error ? h('div', { class: 'small' }, f.error) : null))));
}

function iocTable(r) {
    const list = r.indicators || [];
    if (!list.length) return empty('No indicator matches.');
    return table(['Type', 'Value', 'Source', { text: 'Confidence', class: 'num' }, 'Tags', 'Valid (UTC)'],
        list.map((i) => h('tr', null,
            h('td', null, i.type || ''),
            h('td', { class: 'mono summary' }, i.value || ''),
            h('td', null, i.source || ''),
            h('td', { class: 'num' }, i.confidence === undefined || i.confidence === null ? '' : fmtNum(i.confidence)),
            h('td', null, tagList(i.tags)),
            h('td', { class: 'time small' }, i.valid_from ? timeCell(i.valid_from) : '', i.valid_until ? [' → ', timeCell(i.valid_until)] : ''))),
        { class: 'iocs' });
}

function sightingsTable(r) {
    const list = r.sightings || [];
    if (!list.length) return empty('No indicator has been seen in events yet.');
    return table(['When (UTC)', 'Indicator', 'Value', 'Event'], list.map((s) => h('tr', null,
        h('td', { class: 'time' }, timeCell(s.at)),
        h('td', null, typeof s.indicator === 'object' ? JSON.stringify(s.indicator) : String(s.indicator ?? '')),
        h('td', { class: 'mono summary' }, s.value || ''),
        h('td', null, s.event_id ? h('a', { href: '#/events/' + encodeURIComponent(s.event_id) }, 'Open event') : ''))));
}

function importForm(onDone) {
    const file = h('input', { type: 'file', id: 'ioc-file' });
    const source = h('input', { id: 'ioc-source', placeholder: 'manual', value: 'manual' });
    const format = h('select', { id: 'ioc-format' }, ['auto', 'stix', 'misp', 'csv', 'list'].map((f) => h('option', { value: f }, f)));
    const msg = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'inline' },
        h('label', { for: 'ioc-file' }, 'Feed file', file),
        h('label', { for: 'ioc-format' }, 'Format', format),
        h('label', { for: 'ioc-source' }, 'Source name', source),
        h('button', { type: 'submit', id: 'ioc-import' }, 'Import'));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const f = file.files && file.files[0];
        if (!f) return file.focus();
        clear(msg, loading());
        try {
            const r = await request('POST', '/iocs?' + new URLSearchParams({ format: format.value, source: source.value || 'manual' }),
                await f.text(), { type: 'text/plain' });
            clear(msg, h('p', { class: 'notice' }, `Imported ${fmtNum(r.imported)}, rejected ${fmtNum(r.rejected)}.`,
                (r.errors || []).slice(0, 5).map((x) => h('div', { class: 'small' }, String(x)))));
            onDone();
        } catch (err) {
            clear(msg, errorBox(err, 'Import'));
        }
    });
    return h('div', { class: 'stack' }, form, msg);
}

export function render(root, route) {
    const feeds = h('div');
    const iocs = h('div', { 'aria-live': 'polite' });
    const sightings = h('div');
    const q = h('input', { type: 'search', id: 'ioc-q', value: route.params.get('q') || '', placeholder: '203.0.113.7, evil.example, hash…',
        'aria-label': 'Indicator value' });
    const type = h('select', { id: 'ioc-type', 'aria-label': 'Indicator type' }, h('option', { value: '' }, 'any type'),
        TYPES.map((t) => h('option', { value: t }, t)));
    const search = () => fill(iocs, 'Indicators', () => get('/iocs', { q: q.value.trim(), type: type.value, limit: 100 }), iocTable);
    const form = h('form', { class: 'row', role: 'search' }, q, type, h('button', { type: 'submit', class: 'primary', id: 'ioc-find' }, 'Find'));
    form.addEventListener('submit', (e) => {
        e.preventDefault();
        history.replaceState(null, '', '#/intel' + (q.value.trim() ? '?q=' + encodeURIComponent(q.value.trim()) : ''));
        search();
    });
    const loadFeeds = () => fill(feeds, 'Feeds', () => get('/feeds'), feedsTable);
    clear(root,
        h('div', { class: 'page-head' }, h('h1', null, 'Threat intel')),
        h('section', { class: 'panel' }, h('h2', null, 'Indicators'), form, h('div', { class: 'stack' }, iocs)),
        h('div', { class: 'grid two' },
            h('section', { class: 'panel' }, h('h2', null, 'Recent sightings'), sightings),
            h('section', { class: 'panel' }, h('h2', null, 'Feeds'), feeds,
                canChange() ? [h('h3', null, 'Import a feed file'), importForm(() => {
                    loadFeeds();
                    search();
                })] : null)));
    loadFeeds();
    fill(sightings, 'Sightings', () => get('/sightings', { limit: 50 }), sightingsTable);
    search();
}
