// Users and API tokens (admins): GET/POST /users, PATCH/DELETE /users/{name}, GET/POST /tokens,
// DELETE /tokens/{id}. A new token is shown once, right after it is created.

import { get, post, patch, del, isAdmin, currentUser } from './api.js';
import { h, clear, errorBox, empty, fmtAgo, timeCell, table, loading, toast, copyText, confirmDo } from './ui.js';

const ROLES = ['admin', 'analyst', 'viewer'];

function roleSelect(id, value, label) {
    return h('select', { id, 'aria-label': label }, ROLES.map((r) => h('option', { value: r, selected: r === value }, r)));
}

function usersPanel() {
    const body = h('div', null, loading());
    const msg = h('div', { 'aria-live': 'polite' });
    const load = async () => {
        try {
            const r = await get('/users');
            const list = r.users || [];
            clear(body, list.length ? table(['User', 'Role', 'Created (UTC)', ''], list.map((u) => {
                const me = currentUser() && u.name === currentUser().name;
                const sel = roleSelect('role-' + u.name, u.role, 'Role of ' + u.name);
                sel.disabled = me;
                sel.addEventListener('change', async () => {
                    try {
                        await patch('/users/' + encodeURIComponent(u.name), { role: sel.value });
                        toast(`${u.name} is now ${sel.value}`);
                    } catch (e) {
                        sel.value = u.role;
                        clear(msg, errorBox(e, 'Role change'));
                    }
                });
                return h('tr', null,
                    h('td', null, h('strong', null, u.name), me ? h('span', { class: 'muted' }, ' (you)') : null),
                    h('td', null, sel),
                    h('td', { class: 'time' }, u.created ? timeCell(u.created) : ''),
                    h('td', null, me ? null : h('button', { type: 'button', class: 'danger', onclick: async () => {
                        if (!confirmDo(`Remove user ${u.name}?`)) return;
                        try {
                            await del('/users/' + encodeURIComponent(u.name));
                            toast('User removed');
                            load();
                        } catch (e) {
                            clear(msg, errorBox(e, 'Remove'));
                        }
                    } }, 'Remove')));
            }), { class: 'users' }) : empty('No users.'));
        } catch (e) {
            clear(body, errorBox(e, 'Users'));
        }
    };
    const name = h('input', { id: 'new-user', required: true, autocomplete: 'off', autocapitalize: 'off' });
    const pw = h('input', { id: 'new-pass', type: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
    const role = roleSelect('new-role', 'analyst', 'Role');
    const form = h('form', { class: 'inline' },
        h('label', { for: 'new-user' }, 'Name', name),
        h('label', { for: 'new-role' }, 'Role', role),
        h('label', { for: 'new-pass' }, 'Password (8 or more characters)', pw),
        h('button', { type: 'submit', class: 'primary' }, 'Add user'));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clear(msg);
        if (!name.value.trim() || pw.value.length < 8) {
            clear(msg, h('p', { class: 'notice error' }, 'A name and a password of 8 or more characters are needed.'));
            return;
        }
        try {
            await post('/users', { name: name.value.trim(), role: role.value, password: pw.value });
            toast('User added');
            name.value = pw.value = '';
            load();
        } catch (err) {
            clear(msg, errorBox(err, 'Add user'));
        }
    });
    load();
    return h('section', { class: 'panel stack' }, h('h2', null, 'Users'), body, h('h3', null, 'Add a user'), form, msg);
}

function tokensPanel() {
    const body = h('div', null, loading());
    const msg = h('div', { 'aria-live': 'polite' });
    const load = async () => {
        try {
            const r = await get('/tokens');
            const list = r.tokens || [];
            clear(body, list.length ? table(['Name', 'Role', 'Created by', 'Created (UTC)', 'Last used', ''], list.map((t) => h('tr', null,
                h('td', null, h('strong', null, t.name || ''), h('div', { class: 'muted small' }, '#' + t.id)),
                h('td', null, t.role || ''),
                h('td', null, t.created_by || ''),
                h('td', { class: 'time' }, t.created ? timeCell(t.created) : ''),
                h('td', null, t.last_used ? fmtAgo(t.last_used) : 'never'),
                h('td', null, h('button', { type: 'button', class: 'danger', onclick: async () => {
                    if (!confirmDo(`Revoke token ${t.name}? Programs using it will be refused.`)) return;
                    try {
                        await del('/tokens/' + encodeURIComponent(t.id));
                        toast('Token revoked');
                        load();
                    } catch (e) {
                        clear(msg, errorBox(e, 'Revoke'));
                    }
                } }, 'Revoke')))), { class: 'tokens' }) : empty('No API tokens.'));
        } catch (e) {
            clear(body, errorBox(e, 'Tokens'));
        }
    };
    const name = h('input', { id: 'new-token', required: true, autocomplete: 'off', placeholder: 'siem-export' });
    const role = roleSelect('new-token-role', 'viewer', 'Role');
    const form = h('form', { class: 'inline' },
        h('label', { for: 'new-token' }, 'Name', name),
        h('label', { for: 'new-token-role' }, 'Role', role),
        h('button', { type: 'submit', class: 'primary' }, 'Create token'));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clear(msg);
        if (!name.value.trim()) return name.focus();
        try {
            const r = await post('/tokens', { name: name.value.trim(), role: role.value });
            clear(msg, h('div', { class: 'once', id: 'token-once' },
                h('p', null, 'Copy this token now: it is not shown again.'),
                h('pre', { class: 'code mono' }, r.token),
                h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => copyText(r.token) }, 'Copy token'),
                    h('span', { class: 'muted small' }, 'Send it as: Authorization: Bearer <token>'))));
            name.value = '';
            load();
        } catch (err) {
            clear(msg, errorBox(err, 'Create token'));
        }
    });
    load();
    return h('section', { class: 'panel stack' }, h('h2', null, 'API tokens'), body, h('h3', null, 'Create a token'), form, msg);
}

export function render(root) {
    if (!isAdmin()) {
        clear(root, h('h1', null, 'Users & tokens'), h('p', { class: 'notice' }, 'Only admins can manage users and tokens.'));
        return;
    }
    clear(root, h('div', { class: 'page-head' }, h('h1', null, 'Users & tokens')), h('div', { class: 'grid two' }, usersPanel(), tokensPanel()));
}
