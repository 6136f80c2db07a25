// Trapline console: the shell (header, theme, sign-in) and the hash router that shows one page.
// Routes: #/login, #/overview, #/search, #/alerts, #/alerts/ID, #/events/ID, #/agents, #/rules,
// #/rules/ID, #/intel, #/admin. A page module exports render(root, route) and may return a
// function that stops its timers when the page is left.

import * as api from './api.js';
import { h, clear, errorBox, toast } from './ui.js';
import * as overview from './page-overview.js';
import * as search from './page-search.js';
import * as alerts from './page-alerts.js';
import * as agents from './page-agents.js';
import * as rules from './page-rules.js';
import * as intel from './page-intel.js';
import * as admin from './page-admin.js';

const PAGES = { overview, search, alerts, events: search, agents, rules, intel, admin };
const THEME_KEY = 'trapline.theme';

let cleanup = null;
let booted = false;

function applyTheme(theme) {
    const root = document.documentElement;
    if (theme === 'light' || theme === 'dark') root.dataset.theme = theme;
    else delete root.dataset.theme;
    const btn = document.getElementById('theme-toggle');
    if (btn) {
        const dark = effectiveTheme() === 'dark';
        btn.textContent = dark ? 'Light theme' : 'Dark theme';
        btn.setAttribute('aria-label', dark ? 'Switch to the light theme' : 'Switch to the dark theme');
    }
}

function effectiveTheme() {
    const t = document.documentElement.dataset.theme;
    if (t) return t;
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function savedTheme() {
    try {
        return localStorage.getItem(THEME_KEY);
    } catch {
        return null;
    }
}

function toggleTheme() {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    try {
        localStorage.setItem(THEME_KEY, next);
    } catch {
        /* Private windows may refuse storage: the theme then lasts for this page only. */
    }
    applyTheme(next);
}

export function parseRoute(hash) {
    const raw = (hash || '').replace(/^#\/?/, '');
    const qi = raw.indexOf('?');
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const params = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
    const parts = path.split('/').filter(Boolean).map((p) => {
        try {
            return decodeURIComponent(p);
        } catch {
            return p;
        }
    });
    return { page: parts[0] || 'overview', parts, params };
}

function setNav(page) {
    for (const a of document.querySelectorAll('#nav a')) {
        const on = a.dataset.page === (page === 'events' ? 'search' : page);
        if (on) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
    }
}

function showShell(on) {
    document.getElementById('top').hidden = !on;
    const user = api.currentUser();
    document.getElementById('who-name').textContent = user ? `${user.name} (${user.role})` : '';
    document.getElementById('nav-admin').hidden = !api.isAdmin();
}

function loginPage(root, route) {
    showShell(false);
    document.title = 'Sign in · Trapline';
    const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true,
        autocapitalize: 'off', spellcheck: 'false' });
    const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password',
        required: true });
    const msg = h('p', { class: 'notice error', role: 'alert', hidden: true });
    const btn = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
    const form = h('form', { class: 'panel', novalidate: true },
        h('h1', null, h('img', { src: '/assets/favicon.svg', alt: '', width: '28', height: '28' }), 'Trapline'),
        h('p', { class: 'muted' }, 'Sign in to the console.'),
        h('label', { for: 'login-user' }, 'User name'), user,
        h('label', { for: 'login-pass' }, 'Password'), pass,
        btn, msg);
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (!user.value || !pass.value) {
            msg.hidden = false;
            msg.textContent = 'Enter your user name and password.';
            return;
        }
        btn.disabled = true;
        msg.hidden = true;
        try {
            await api.login(user.value.trim(), pass.value);
            pass.value = '';
            const next = route.params.get('next');
            location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/overview';
        } catch (err) {
            msg.hidden = false;
            if (err.status === 401) msg.textContent = 'Wrong user name or password.';
            else if (err.status === 429) {
                const s = parseInt(err.retryAfter, 10);
                msg.textContent = 'Too many failed sign-ins. Try again in ' +
                    (s > 0 ? (s >= 120 ? Math.ceil(s / 60) + ' minutes' : s + ' seconds') : 'a while') + '.';
            } else msg.textContent = err.message;
            pass.select();
        } finally {
            btn.disabled = false;
        }
    });
    clear(root, h('div', { class: 'login' }, form));
    user.focus();
}

async function route() {
    const root = document.getElementById('main');
    if (cleanup) {
        try {
            cleanup();
        } catch {
            /* A page that failed to stop cleanly must not keep the next one from showing. */
        }
        cleanup = null;
    }
    const r = parseRoute(location.hash);
    if (r.page === 'login') return loginPage(root, r);
    if (!api.currentUser()) {
        let ok = false;
        try {
            ok = await api.restore();
        } catch (e) {
            showShell(false);
            clear(root, errorBox(e, 'Cannot reach the server'));
            return;
        }
        if (!ok) {
            location.replace('#/login?next=' + encodeURIComponent(location.hash || '#/overview'));
            return;
        }
    }
    showShell(true);
    const mod = PAGES[r.page];
    setNav(r.page);
    if (!mod) {
        clear(root, h('h1', null, 'Page not found'), h('p', null, h('a', { href: '#/overview' }, 'Go to the overview')));
        return;
    }
    const name = r.page === 'events' ? 'Event' : r.page === 'intel' ? 'Threat intel' :
        r.page === 'admin' ? 'Users & tokens' : r.page[0].toUpperCase() + r.page.slice(1);
    document.title = name + ' · Trapline';
    clear(root);
    try {
        cleanup = (await mod.render(root, r)) || null;
    } catch (e) {
        clear(root, errorBox(e));
    }
    if (booted && !root.contains(document.activeElement)) root.focus({ preventScroll: true });
    booted = true;
}

function start() {
    applyTheme(savedTheme());
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(savedTheme()));
    document.getElementById('theme-toggle').addEventListener('click', toggleTheme);
    document.getElementById('logout').addEventListener('click', async () => {
        try {
            await api.logout();
        } catch {
            /* The session is forgotten here whatever the server answered. */
        }
        toast('Signed out');
        location.hash = '#/login';
    });
    api.setUnauthorizedHandler(() => {
        if (!location.hash.startsWith('#/login')) {
            location.hash = '#/login?next=' + encodeURIComponent(location.hash || '#/overview');
        }
    });
    window.addEventListener('hashchange', route);
    route();
}

start();
