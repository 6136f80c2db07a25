// Agents (GET /agents): what each enrolled agent reports, enrolment tokens (POST /agents/tokens,
// admins) shown with the command to run on the new host, and revocation (POST /agents/{id}/revoke).

import { get, post, isAdmin } from './api.js';
import { h, clear, errorBox, empty, fmtNum, fmtAgo, timeCell, badge, table, loading, copyText, toast, confirmDo } from './ui.js';

export function render(root) {
    const body = h('div', null, loading());
    const enrollBox = h('div', { 'aria-live': 'polite' });
    const enroll = h('button', { type: 'button', class: 'primary', id: 'enroll', disabled: !isAdmin(),
        title: isAdmin() ? 'Create a one-time enrolment token' : 'Only admins can enrol agents' }, 'Enroll an agent');
    let seq = 0;

    enroll.addEventListener('click', async () => {
        enroll.disabled = true;
        try {
            const r = await post('/agents/tokens', {});
            const cmd = r.command || `trapline agent enroll --token ${r.token}`;
            clear(enrollBox, h('div', { class: 'once panel', id: 'enroll-result' },
                h('p', null, 'Run this on the host to enrol. The token is shown only now' +
                    (r.expires ? ` and expires ${r.expires.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}` : '') + '.'),
                h('pre', { class: 'code mono', id: 'enroll-command' }, cmd),
                h('div', { class: 'row' },
                    h('button', { type: 'button', onclick: () => copyText(cmd) }, 'Copy command'),
                    h('button', { type: 'button', class: 'ghost', onclick: () => clear(enrollBox) }, 'Done'))));
        } catch (e) {
            clear(enrollBox, errorBox(e, 'Enrolment token'));
        } finally {
            enroll.disabled = !isAdmin();
        }
    });

    const revoke = async (a) => {
        if (!confirmDo(`Revoke agent ${a.name || a.id}? It will no longer be able to send events.`)) return;
        try {
            await post('/agents/' + encodeURIComponent(a.id) + '/revoke', {});
            toast('Agent revoked');
            load();
        } catch (e) {
            toast('Revoke failed: ' + e.message);
        }
    };

    const load = async () => {
        const mine = ++seq;
        try {
            const r = await get('/agents');
            if (mine !== seq) return;
            const list = r.agents || [];
            clear(body, list.length ? table(['Name', 'Version', { text: 'Last seen (UTC)' },
                { text: 'Events/s', class: 'num' }, { text: 'Spool depth', class: 'num' }, 'Status', ''],
            list.map((a) => h('tr', null,
                h('td', null, h('strong', null, a.name || ''), h('div', { class: 'muted small mono' }, a.id || '')),
                h('td', null, a.version || ''),
                h('td', { class: 'time' }, a.last_seen ? timeCell(a.last_seen) : 'never',
                    h('div', { class: 'muted small' }, fmtAgo(a.last_seen))),
                h('td', { class: 'num' }, fmtNum(a.events_per_sec)),
                h('td', { class: 'num' }, fmtNum(a.spool_depth)),
                h('td', null, badge('st', a.status)),
                h('td', null, isAdmin() && a.status !== 'revoked'
                    ? h('button', { type: 'button', class: 'danger', onclick: () => revoke(a) }, 'Revoke') : null))),
            { class: 'agents' })
                : empty('No agent has enrolled yet. Use "Enroll an agent" to add one.'));
        } catch (e) {
            if (mine === seq) clear(body, errorBox(e, 'Agents'));
        }
    };

    clear(root, h('div', { class: 'page-head' }, h('h1', null, 'Agents'), h('div', { class: 'spacer' }, enroll)),
        enrollBox, h('section', { class: 'panel' }, body));
    load();
    const timer = setInterval(() => {
        if (!document.hidden && !body.contains(document.activeElement)) load();
    }, 15000);
    return () => {
        clearInterval(timer);
        seq++;
    };
}
