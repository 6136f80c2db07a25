// Talks to the Trapline REST API (/api/v1). The CSRF token of the session lives only in memory:
// after a reload it is fetched again from GET /me. Every failure becomes an ApiError carrying the
// status and the fields of the server's error body (error, field, position, line).

const BASE = '/api/v1';

const session = { csrf: null, user: null };
let onUnauthorized = () => {};

export class ApiError extends Error {
    constructor(status, body, retryAfter) {
        super((body && body.error) || statusText(status));
        this.status = status;
        this.body = body || {};
        this.position = this.body.position;
        this.line = this.body.line;
        this.field = this.body.field;
        this.retryAfter = retryAfter;
    }
    get notAvailable() {
        return this.status === 404 || this.status === 405 || this.status === 501;
    }
}

function statusText(status) {
    if (status === 0) return 'The server cannot be reached';
    if (status === 401) return 'Your session has ended: sign in again';
    if (status === 403) return 'Your role does not allow this';
    if (status === 404) return 'Not available on this server';
    if (status === 413) return 'Too large for the server';
    if (status === 429) return 'Too many requests: wait a moment';
    return 'The server answered ' + status;
}

export function setUnauthorizedHandler(fn) {
    onUnauthorized = fn;
}

export function currentUser() {
    return session.user;
}

export function isAdmin() {
    return !!session.user && session.user.role === 'admin';
}

export function canChange() {
    return !!session.user && session.user.role !== 'viewer';
}

// Builds a query string from an object, leaving out empty values.
export function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
        if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
    }
    const s = p.toString();
    return s ? '?' + s : '';
}

// request('GET', '/alerts', null) -> parsed JSON (or null for 204). body: an object is sent as
// JSON; a string is sent as is with opts.type as its Content-Type.
export async function request(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    let payload;
    if (body !== undefined && body !== null) {
        if (typeof body === 'string') {
            payload = body;
            headers['Content-Type'] = opts.type || 'text/plain';
        } else {
            payload = JSON.stringify(body);
            headers['Content-Type'] = 'application/json';
        }
    }
    if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
    let res;
    try {
        res = await fetch(BASE + path, {
            method,
            headers,
            body: payload,
            credentials: 'same-origin',
            cache: 'no-store',
            signal: opts.signal,
        });
    } catch (e) {
        if (e.name === 'AbortError') throw e;
        throw new ApiError(0, null);
    }
    let data = null;
    const text = res.status === 204 ? '' : await res.text();
    if (text) {
        try {
            data = JSON.parse(text);
        } catch {
            data = res.ok ? null : { error: text.slice(0, 300) };
        }
    }
    if (!res.ok) {
        const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
        if (res.status === 401 && !opts.noRedirect) {
            session.csrf = null;
            session.user = null;
            onUnauthorized();
        }
        throw err;
    }
    return data;
}

export const get = (path, params, opts) => request('GET', path + qs(params), null, opts);
export const post = (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path, null);

export async function login(username, password) {
    const r = await request('POST', '/login', { username, password }, { noRedirect: true });
    session.csrf = r.csrf;
    session.user = r.user;
    return r.user;
}

// Restores the session after a reload from its cookie; false when there is none.
export async function restore() {
    try {
        const me = await request('GET', '/me', null, { noRedirect: true });
        session.csrf = me.csrf;
        session.user = { name: me.name, role: me.role };
        return true;
    } catch (e) {
        if (e.status === 401 || e.status === 403 || e.status === 404) return false;
        throw e;
    }
}

export async function logout() {
    try {
        await request('POST', '/logout', {}, { noRedirect: true });
    } finally {
        session.csrf = null;
        session.user = null;
    }
}
