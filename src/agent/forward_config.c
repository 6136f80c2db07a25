/*
 * forward_config: the `forwarders` list of the agent's YAML file (see forward.h).
 *
 *   forwarders:
 *     - name: siem                # optional; default: the address
 *       address: 10.0.0.5:6514    # HOST:PORT, [IPv6]:PORT
 *       transport: tls            # udp (default), tcp, tls
 *       format: rfc5424           # rfc5424 (default), rfc3164, snare, cef, json
 *       framing: octet-counting   # tcp/tls: octet-counting (default; lf for json), lf
 *       queue_size: 10000         # messages waiting at most
 *       tls: {ca: FILE, cert: FILE, key: FILE}
 *
 * The key is a list of mappings, which the agent's table of settings (core/config.h) cannot
 * describe: it is read here with libyaml's document API and then blanked out of the text (every
 * byte but line breaks becomes a space), so that the table reads the rest with its line numbers
 * intact.
 */
#include "agent/forward.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *const transports[] = {"udp", "tcp", "tls", NULL};
static const char *const framings[] = {"octet-counting", "lf", NULL};

static int fail(char *err, size_t errlen, const char *name, const yaml_node_t *n, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *name, const yaml_node_t *n, const char *fmt,
                ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "config %s:%lu: forwarders: %s", name,
             n ? (unsigned long)n->start_mark.line + 1 : 0ul, why);
    return TRL_ECONFIG;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int pick(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], v))
            return i;
    return -1;
}

static void join_names(const char *const *names, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; names[i] && used < outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", names[i]);
}

/* "HOST:PORT" with a host name or IPv4 address, or "[IPv6]:PORT". */
static int parse_address(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return TRL_EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        unsigned char bin[16];
        char tmp[64];
        if (hlen == 0 || hlen >= sizeof(tmp))
            return TRL_EINVAL;
        memcpy(tmp, h, hlen);
        tmp[hlen] = '\0';
        if (inet_pton(AF_INET6, tmp, bin) != 1)
            return TRL_EINVAL;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return TRL_EINVAL;
        hlen = (size_t)(colon - s);
        for (size_t i = 0; i < hlen; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_'))
                return TRL_EINVAL;
        }
    }
    uint64_t p;
    if (hlen == 0 || hlen >= hostlen || !trl_parse_u64(colon + 1, strlen(colon + 1), &p) ||
        p == 0 || p > 65535)
        return TRL_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static int parse_tls(yaml_document_t *doc, yaml_node_t *n, struct trl_forward_config *f,
                     const char *name, char *err, size_t errlen)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(err, errlen, name, n, "tls: expected a mapping of ca, cert and key");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        const char *k = scalar(kn), *v = scalar(vn);
        if (!k || !v || !v[0])
            return fail(err, errlen, name, kn, "tls: expected KEY: FILE");
        char **slot = !strcmp(k, "ca")     ? &f->tls_ca
                      : !strcmp(k, "cert") ? &f->tls_cert
                      : !strcmp(k, "key")  ? &f->tls_key
                                           : NULL;
        if (!slot)
            return fail(err, errlen, name, kn, "tls: unknown key \"%s\" (known: ca, cert, key)", k);
        free(*slot);
        *slot = trl_xstrdup(v);
    }
    return 0;
}

static int parse_one(yaml_document_t *doc, yaml_node_t *n, size_t idx, struct trl_forward_config *f,
                     const char *name, char *err, size_t errlen)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(err, errlen, name, n, "item %zu: expected a mapping (address: HOST:PORT ...)",
                    idx + 1);
    f->format = TRL_ENCODE_RFC5424;
    f->transport = TRL_FWD_UDP;
    int framing = -1;
    char names[128];
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        const char *k = scalar(kn), *v = scalar(vn);
        if (!k)
            return fail(err, errlen, name, kn, "item %zu: a key must be a plain name", idx + 1);
        if (!strcmp(k, "tls")) {
            if (parse_tls(doc, vn, f, name, err, errlen))
                return TRL_ECONFIG;
            continue;
        }
        if (!v)
            return fail(err, errlen, name, vn, "%s: expected a single value", k);
        if (!strcmp(k, "name")) {
            free(f->name);
            f->name = trl_xstrdup(v);
        } else if (!strcmp(k, "address")) {
            char host[256];
            uint16_t port;
            if (parse_address(v, host, sizeof(host), &port) != 0)
                return fail(err, errlen, name, vn,
                            "address: expected HOST:PORT or [IPv6]:PORT, got \"%s\"", v);
            free(f->host);
            f->host = trl_xstrdup(host);
            f->port = port;
        } else if (!strcmp(k, "transport")) {
            int t = pick(transports, v);
            join_names(transports, names, sizeof(names));
            if (t < 0)
                return fail(err, errlen, name, vn, "transport: expected one of %s, got \"%s\"",
                            names, v);
            f->transport = (enum trl_forward_transport)t;
        } else if (!strcmp(k, "format")) {
            int t = pick(trl_syslog_encoding_names, v);
            join_names(trl_syslog_encoding_names, names, sizeof(names));
            if (t < 0)
                return fail(err, errlen, name, vn, "format: expected one of %s, got \"%s\"", names,
                            v);
            f->format = (enum trl_syslog_encoding)t;
        } else if (!strcmp(k, "framing")) {
            framing = pick(framings, v);
            join_names(framings, names, sizeof(names));
            if (framing < 0)
                return fail(err, errlen, name, vn, "framing: expected one of %s, got \"%s\"", names,
                            v);
        } else if (!strcmp(k, "queue_size")) {
            uint64_t q;
            if (!trl_parse_u64(v, strlen(v), &q) || q < 1 || q > 1000000)
                return fail(err, errlen, name, vn,
                            "queue_size: expected a number of messages from 1 to 1000000, got "
                            "\"%s\"",
                            v);
            f->queue_size = (uint32_t)q;
        } else {
            return fail(err, errlen, name, kn,
                        "item %zu: unknown key \"%s\" (known: name, address, transport, format, "
                        "framing, queue_size, tls)",
                        idx + 1, k);
        }
    }
    if (!f->host)
        return fail(err, errlen, name, n, "item %zu: address is required", idx + 1);
    if (!f->name) {
        char def[300];
        snprintf(def, sizeof(def), "%s:%u", f->host, (unsigned)f->port);
        f->name = trl_xstrdup(def);
    }
    f->framing = framing >= 0                   ? (enum trl_forward_framing)framing
                 : f->format == TRL_ENCODE_JSON ? TRL_FWD_LF
                                                : TRL_FWD_OCTET_COUNTING;
    if (f->transport != TRL_FWD_TLS && (f->tls_ca || f->tls_cert || f->tls_key))
        return fail(err, errlen, name, n, "forwarder %s: tls settings need transport: tls",
                    f->name);
    if (f->tls_key && !f->tls_cert)
        return fail(err, errlen, name, n, "forwarder %s: tls.key needs tls.cert", f->name);
    return 0;
}

/* Blanks [from, to) but its line breaks, and a comma that follows in a flow mapping. */
static void blank(char *data, size_t len, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < len; i++)
        if (data[i] != '\n' && data[i] != '\r')
            data[i] = ' ';
    size_t i = to;
    while (i < len && (data[i] == ' ' || data[i] == '\t'))
        i++;
    if (i < len && data[i] == ',')
        data[i] = ' ';
}

int trl_forward_config_extract(const char *name, char *data, size_t len,
                               struct trl_forward_config **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return fail(err, errlen, name, NULL, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        /* Malformed YAML: the settings' loader reports it with its own words. */
        yaml_parser_delete(&parser);
        return 0;
    }
    int rc = 0;
    struct trl_forward_config *list = NULL;
    size_t count = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        goto done;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        const char *k = scalar(kn);
        if (!k || strcmp(k, "forwarders"))
            continue;
        yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        if (count || list) {
            rc = fail(err, errlen, name, kn, "duplicate key");
            goto done;
        }
        if (vn->type == YAML_SCALAR_NODE && (!vn->data.scalar.length || !strcmp(scalar(vn), "off")))
            ; /* "forwarders:" or "forwarders: off": none */
        else if (vn->type != YAML_SEQUENCE_NODE) {
            rc = fail(err, errlen, name, vn, "expected a list of forwarders");
            goto done;
        } else {
            size_t items = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
            if (items > TRL_FWD_MAX) {
                rc = fail(err, errlen, name, vn, "at most %d forwarders", TRL_FWD_MAX);
                goto done;
            }
            list = trl_xcalloc(items ? items : 1, sizeof(*list));
            for (size_t i = 0; i < items; i++) {
                count = i + 1;
                yaml_node_t *it = yaml_document_get_node(&doc, vn->data.sequence.items.start[i]);
                if ((rc = parse_one(&doc, it, i, &list[i], name, err, errlen)) != 0)
                    goto done;
            }
            count = items;
        }
        blank(data, len, kn->start_mark.index, vn->end_mark.index);
    }
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0) {
        trl_forward_config_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}
