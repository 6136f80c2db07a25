// Rules (GET /rules): level, ATT&CK tags, hits and an enabled switch (PATCH /rules/{id}); Sigma
// upload (POST /rules, application/yaml) with the error line shown; the ATT&CK coverage matrix of
// enabled rules; one rule (GET /rules/{id}) with its YAML and a test run (POST /rules/{id}/test).

import { get, patch, request, post, canChange } from './api.js';
import {
    h, clear, errorBox, empty, fmtNum, badge, table, tagList, loading, toast, TACTICS, tacticOf, techniqueOf,
} from './ui.js';
import { eventTable } from './events.js';
import { rangePicker, rangeParams } from './range.js';

export function render(root, route) {
    if (route.parts[1]) return renderRule(root, route.parts[1]);
    return renderList(root);
}

const LEVEL_ORDER = { critical: 0, high: 1, medium: 2, low: 3, informational: 4 };

// Columns are tactics; a technique sits under every tactic its rule is tagged with ("Other" when
// the rule names none). Counts are enabled rules per technique.
export function coverage(rules) {
    const cols = new Map(TACTICS.map((t) => [t[0], { name: t[2], techs: new Map() }]));
    cols.set('other', { name: 'No tactic tag', techs: new Map() });
    for (const r of rules) {
        if (!r.enabled) continue;
        const tags = r.tags || [];
        const techs = tags.map(techniqueOf).filter(Boolean);
        if (!techs.length) continue;
        let tactics = tags.map(tacticOf).filter(Boolean).map((t) => t.key);
        if (!tactics.length) tactics = ['other'];
        for (const tac of new Set(tactics)) {
            const m = cols.get(tac).techs;
            for (const t of techs) {
                const cell = m.get(t.id) || { ...t, rules: [] };
                cell.rules.push(r.title || r.id);
                m.set(t.id, cell);
            }
        }
    }
    return cols;
}

function matrix(rules) {
    const cols = coverage(rules);
    const any = [...cols.values()].some((c) => c.techs.size);
    if (!any) return empty('No enabled rule carries an ATT&CK technique tag.');
    return h('div', { class: 'matrix', id: 'coverage' }, [...cols.entries()]
        .filter(([k, c]) => k !== 'other' || c.techs.size)
        .map(([, c]) => h('div', { class: 'col' },
            h('h3', { title: `${c.name}: ${fmtNum(c.techs.size)} ${c.techs.size === 1 ? 'technique' : 'techniques'}` }, c.name,
                h('div', { class: 'muted small' }, fmtNum(c.techs.size))),
            c.techs.size ? [...c.techs.values()].sort((a, b) => a.id.localeCompare(b.id)).map((t) =>
                h('a', { class: 'cell' + (t.rules.length > 1 ? ' hot' : ''), href: t.url, target: '_blank',
                    rel: 'noopener noreferrer', title: t.rules.join('\n') },
                h('span', null, t.id), h('span', null, fmtNum(t.rules.length))))
                : h('span', { class: 'none' }, '—'))));
}

function uploadPanel(onDone) {
    const text = h('textarea', { id: 'rule-yaml', class: 'mono', rows: '12', spellcheck: 'false',
        'aria-label': 'Sigma rule (YAML)', placeholder: 'title: ...\nid: ...\nlogsource:\n  product: linux\ndetection:\n  ...' });
    const file = h('input', { type: 'file', id: 'rule-file', accept: '.yml,.yaml,text/yaml,application/yaml' });
    const msg = h('div', { 'aria-live': 'polite', id: 'rule-upload-result' });
    const btn = h('button', { type: 'submit', class: 'primary', id: 'rule-upload' }, 'Upload rule');
    file.addEventListener('change', async () => {
        const f = file.files && file.files[0];
        if (!f) return;
        if (f.size > 8 * 1024 * 1024) return toast('The file is larger than the 8 MiB upload limit');
        text.value = await f.text();
    });
    const form = h('form', { class: 'stack' },
        h('div', { class: 'row' }, h('label', { for: 'rule-file' }, 'Load a .yml file '), file), text,
        h('div', { class: 'row' }, btn), msg);
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clear(msg);
        if (!text.value.trim()) return text.focus();
        btn.disabled = true;
        try {
            const r = await request('POST', '/rules', text.value, { type: 'application/yaml' });
            const notLoaded = r && r.loaded === false;
            clear(msg, h('p', { class: 'notice' }, notLoaded ? 'Rule saved but not loaded yet: ' : 'Rule added: ',
                r && r.id ? h('a', { href: '#/rules/' + encodeURIComponent(r.id) }, r.title || r.id) : 'done',
                r && r.file ? [' (', h('code', null, r.file), ')'] : null,
                notLoaded ? '. It takes effect when the server reloads its rules.' : null));
            text.value = '';
            file.value = '';
            onDone();
        } catch (err) {
            const line = Number.isInteger(err.line) && err.line > 0 ? err.line : null;
            const lines = text.value.split('\n');
            clear(msg, h('div', { class: 'qerror', role: 'alert' },
                h('strong', null, err.message + (line && !new RegExp(`\\bline ${line}\\b`).test(err.message) ? ` (line ${line})` : '')),
                line && lines[line - 1] !== undefined
                    ? h('pre', { class: 'mono' }, `${line} | ${lines[line - 1]}`) : null));
            if (line) {
                const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
                text.focus();
                text.setSelectionRange(start, start + (lines[line - 1] || '').length);
            }
        } finally {
            btn.disabled = false;
        }
    });
    return form;
}

function renderList(root) {
    const body = h('div', null, loading());
    const cov = h('div', null, loading());
    const filter = h('input', { type: 'search', id: 'rule-filter', placeholder: 'Filter rules…', 'aria-label': 'Filter rules' });
    let rules = [];

    const toggle = async (r, btn) => {
        btn.disabled = true;
        try {
            const u = await patch('/rules/' + encodeURIComponent(r.id), { enabled: !r.enabled });
            r.enabled = u && typeof u.enabled === 'boolean' ? u.enabled : !r.enabled;
            btn.setAttribute('aria-checked', String(r.enabled));
            clear(cov, matrix(rules));
            toast(`${r.title || r.id} ${r.enabled ? 'enabled' : 'disabled'}`);
        } catch (e) {
            toast('Change failed: ' + e.message);
        } finally {
            btn.disabled = !canChange();
        }
    };

    const draw = () => {
        const f = filter.value.trim().toLowerCase();
        const list = rules.filter((r) => !f || [r.title, r.id, r.level, ...(r.tags || [])].join(' ').toLowerCase().includes(f));
        clear(body, list.length ? table(['Rule', 'Level', 'ATT&CK', { text: 'Hits', class: 'num' }, 'Enabled'],
            list.map((r) => {
                const sw = h('button', { type: 'button', class: 'switch', role: 'switch', 'aria-checked': String(!!r.enabled),
                    'aria-label': `Enabled: ${r.title || r.id}`, disabled: !canChange() });
                sw.addEventListener('click', () => toggle(r, sw));
                return h('tr', null,
                    h('td', null, h('a', { href: '#/rules/' + encodeURIComponent(r.id) }, r.title || r.id),
                        r.kind === 'correlation' ? [' ', h('span', { class: 'tag' }, 'correlation')] : null,
                        h('div', { class: 'muted small' }, r.file || r.id)),
                    h('td', null, badge('lvl', r.level)),
                    h('td', null, tagList((r.tags || []).filter((t) => techniqueOf(t) || tacticOf(t)))),
                    h('td', { class: 'num' }, fmtNum(r.hits || 0)),
                    h('td', null, sw));
            }), { class: 'rules' }) : empty(rules.length ? 'No rule matches the filter.' : 'No rules are loaded.'));
    };
    filter.addEventListener('input', draw);

    const load = async () => {
        try {
            const r = await get('/rules');
            rules = (r.rules || []).slice().sort((a, b) =>
                (LEVEL_ORDER[a.level] ?? 9) - (LEVEL_ORDER[b.level] ?? 9) || String(a.title).localeCompare(String(b.title)));
            draw();
            clear(cov, matrix(rules));
        } catch (e) {
            clear(body, errorBox(e, 'Rules'));
            clear(cov, errorBox(e, 'Coverage'));
        }
    };

    const upload = canChange() ? uploadPanel(load) : h('p', { class: 'muted' }, 'Your role can read rules only.');
    const covPanel = h('section', { class: 'panel' }, h('h2', null, 'ATT&CK coverage of enabled rules'), cov);
    const upPanel = h('section', { class: 'panel' }, h('h2', null, 'Upload a Sigma rule'), upload);
    const jump = (el) => () => {
        el.scrollIntoView({ block: 'start' });
        const f = el.querySelector('textarea, a, button');
        if (f) f.focus({ preventScroll: true });
    };
    clear(root,
        h('div', { class: 'page-head' }, h('h1', null, 'Rules'),
            h('button', { type: 'button', onclick: jump(covPanel) }, 'ATT&CK coverage'),
            h('button', { type: 'button', onclick: jump(upPanel) }, 'Upload a rule'),
            h('div', { class: 'spacer' }, filter)),
        h('section', { class: 'panel' }, body), covPanel, upPanel);
    load();
}

async function renderRule(root, id) {
    const box = h('div', null, loading());
    clear(root, h('p', null, h('a', { href: '#/rules' }, '← All rules')), box);
    let r;
    try {
        r = await get('/rules/' + encodeURIComponent(id));
    } catch (e) {
        clear(box, e.status === 404 ? h('p', { class: 'notice' }, 'No such rule, or rules are not available on this server.')
            : errorBox(e, 'Rule'));
        return;
    }
    const state = { range: '24h' };
    const results = h('div', { 'aria-live': 'polite' });
    const runBtn = h('button', { type: 'button', class: 'primary' }, 'Test against stored events');
    runBtn.addEventListener('click', async () => {
        runBtn.disabled = true;
        clear(results, loading());
        try {
            const t = await post('/rules/' + encodeURIComponent(r.id) + '/test', { ...rangeParams(state), limit: 100 });
            const m = t.matches || [];
            clear(results, h('p', { class: 'muted' }, `${fmtNum(m.length)} matches in ${fmtNum(t.scanned)} events scanned.`),
                m.length ? eventTable(m) : null);
        } catch (e) {
            clear(results, errorBox(e, 'Test'));
        } finally {
            runBtn.disabled = false;
        }
    });
    clear(box,
        h('div', { class: 'alert-head' }, badge('lvl', r.level), h('h1', null, r.title || r.id),
            r.enabled ? h('span', { class: 'badge st-online' }, 'enabled') : h('span', { class: 'badge st-closed' }, 'disabled')),
        h('div', { class: 'grid two' },
            h('section', { class: 'panel' }, h('h2', null, 'Details'), h('dl', { class: 'facts' },
                h('dt', null, 'Id'), h('dd', { class: 'mono' }, r.id),
                h('dt', null, 'Kind'), h('dd', null, r.kind || 'rule'),
                h('dt', null, 'File'), h('dd', { class: 'mono' }, r.file || ''),
                h('dt', null, 'Hits'), h('dd', null, fmtNum(r.hits || 0)),
                h('dt', null, 'Log source'), h('dd', { class: 'mono' }, r.logsource ? JSON.stringify(r.logsource) : ''),
                h('dt', null, 'Tags'), h('dd', null, tagList(r.tags)),
                h('dt', null, 'Alerts'), h('dd', null, h('a', { href: '#/alerts?status=&q=' + encodeURIComponent(r.id) },
                    'Alerts from this rule')))),
            h('section', { class: 'panel stack' }, h('h2', null, 'Test'),
                h('div', { class: 'row' }, rangePicker(state, () => {}), runBtn), results)),
        h('section', { class: 'panel' }, h('h2', null, 'Sigma YAML'),
            r.yaml ? h('pre', { class: 'code mono' }, r.yaml) : empty('The server did not return the YAML.')));
}
