/*
 * The webhook output: each alert is POSTed as JSON with libcurl; a 2xx answer means delivered.
 * With a secret, X-Trapline-Signature carries the HMAC-SHA256 of the exact body so that the
 * receiver can tell the alert came from this Trapline and was not altered.
 */
#include "core/http_lib.h"
#include "core/log.h"
#include "core/util.h"
#include "detect/outputs.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct webhook {
    struct trl_output base;
    const struct trl_curl *cu;
    CURL *curl;
    char *url;
    char *secret; /* NULL: no signature header */
};

void trl_webhook_signature(const char *secret, const void *body, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    static const char hex[] = "0123456789abcdef";
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &maclen);
    memcpy(out, "sha256=", 7);
    size_t n = 7;
    for (unsigned int i = 0; i < maclen && n + 2 < TRL_SIGNATURE_MAX; i++) {
        out[n++] = hex[mac[i] >> 4];
        out[n++] = hex[mac[i] & 15];
    }
    out[n] = '\0';
}

/* The answer's body is of no interest; reading it keeps the connection reusable. */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int deliver(struct trl_output *base, const struct trl_outbox_item *it, char *err,
                   size_t errlen)
{
    struct webhook *w = (struct webhook *)base;
    struct curl_slist *headers = NULL;
    char sig[TRL_SIGNATURE_MAX + 32];
    char id[64];
    headers = w->cu->slist_append(headers, "Content-Type: application/json");
    snprintf(id, sizeof(id), "X-Trapline-Alert-Id: %lld", (long long)it->alert_id);
    headers = w->cu->slist_append(headers, id);
    if (w->secret) {
        char mac[TRL_SIGNATURE_MAX];
        trl_webhook_signature(w->secret, it->body, it->len, mac);
        snprintf(sig, sizeof(sig), "X-Trapline-Signature: %s", mac);
        headers = w->cu->slist_append(headers, sig);
    }
    w->cu->easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
    w->cu->easy_setopt(w->curl, CURLOPT_POSTFIELDS, it->body);
    w->cu->easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
    CURLcode cc = w->cu->easy_perform(w->curl);
    long status = 0;
    int rc = 0;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", w->cu->easy_strerror(cc));
        rc = TRL_EINVAL;
    } else {
        w->cu->easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) {
            snprintf(err, errlen, "HTTP status %ld", status);
            rc = TRL_EINVAL;
        }
    }
    w->cu->easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
    w->cu->slist_free_all(headers);
    return rc;
}

static void destroy(struct trl_output *base)
{
    struct webhook *w = (struct webhook *)base;
    if (w->curl)
        w->cu->easy_cleanup(w->curl);
    free(w->url);
    free(w->secret);
    free(w);
}

struct trl_output *trl_output_webhook_create(const struct trl_outputs_config *c)
{
    if (strncmp(c->webhook_url, "http://", 7) != 0 && strncmp(c->webhook_url, "https://", 8) != 0) {
        trl_error("outputs", "alerts.webhook.url must start with http:// or https:// url=%s",
                  c->webhook_url);
        return NULL;
    }
    char why[256];
    const struct trl_curl *cu = trl_curl_get(why, sizeof(why));
    if (!cu) {
        trl_error("outputs", "the webhook output needs libcurl: %s", why);
        return NULL;
    }
    struct webhook *w = trl_xcalloc(1, sizeof(*w));
    w->cu = cu;
    w->base.name = "webhook";
    w->base.deliver = deliver;
    w->base.destroy = destroy;
    w->url = trl_xstrdup(c->webhook_url);
    w->secret = c->webhook_secret && c->webhook_secret[0] ? trl_xstrdup(c->webhook_secret) : NULL;
    w->curl = cu->easy_init();
    if (!w->curl) {
        trl_error("outputs", "cannot create a libcurl handle");
        destroy(&w->base);
        return NULL;
    }
    long timeout = (long)(c->webhook_timeout_ms > 0 ? c->webhook_timeout_ms : 10000);
    CURL *h = w->curl;
    cu->easy_setopt(h, CURLOPT_URL, w->url);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    cu->easy_setopt(h, CURLOPT_USERAGENT, "trapline/" TRL_VERSION);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->webhook_verify_tls ? 1L : 0L);
    cu->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->webhook_verify_tls ? 2L : 0L);
    if (c->webhook_ca && c->webhook_ca[0])
        cu->easy_setopt(h, CURLOPT_CAINFO, c->webhook_ca);
    if (!c->webhook_verify_tls)
        trl_warn("outputs", "webhook TLS certificates are not checked url=%s", w->url);
    return &w->base;
}
