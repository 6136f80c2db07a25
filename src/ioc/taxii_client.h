/*
 * taxii_client: a TAXII 2.1 client that polls one collection for STIX objects.
 *
 * A feed is configured by one line of text (an item of the ioc.feeds configuration list):
 *   taxii name=partner url=https://taxii.example.org/taxii2/ collection=91a7b528-...
 *         token_file=/etc/trapline/partner.token interval=1h
 * A poll walks discovery (url), the API root (the discovery's default one unless api_root= names
 * it), the collections (collection= is an id, an alias or a title), and then GETs the collection's
 * objects added after a cursor, page by page (`more` and `next` of each envelope, `limit`), with
 * the TAXII media type in Accept, Basic or bearer authentication, TLS verification (optionally
 * against a CA file), timeouts and a cap on each response. Every page's objects are joined into one
 * list so that relationships and markings on one page apply to indicators on another.
 *
 * The envelope parser and the paging decision are pure functions, kept apart from the HTTP code
 * so that they can be tested and fuzzed alone.
 *
 * Ownership: a spec owns its strings (trl_taxii_spec_free); a poll result owns its objects and
 * cursor (trl_taxii_poll_clear). Threads: one client per thread; the pure functions from any.
 */
#ifndef TRL_IOC_TAXII_CLIENT_H
#define TRL_IOC_TAXII_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The media type of TAXII 2.1 responses, sent in Accept. */
#define TRL_TAXII_MEDIA_TYPE "application/taxii+json;version=2.1"
/* The longest `next` token and date accepted from a server. */
#define TRL_TAXII_TOKEN_MAX 1024

struct trl_taxii_spec {
    char *name;       /* feed name: the source of its indicators */
    char *url;        /* discovery URL, ".../taxii2/" */
    char *api_root;   /* API root URL (absolute, or relative to url); NULL: discovery's default */
    char *collection; /* id, alias or title */
    char *username;   /* Basic authentication with password or password_file */
    char *password;   /* NULL unless given inline */
    char *password_file; /* read at each poll, so that it can be rotated */
    char *token;         /* bearer token, inline */
    char *token_file;    /* bearer token in a file (first line) */
    char *ca;            /* CA bundle for TLS verification; NULL: the system's */
    bool verify_tls;     /* default true */
    int64_t interval_ms; /* between two polls (default 1h) */
    int64_t timeout_ms;  /* whole request (default 60s) */
    int64_t max_bytes;   /* one response at most (default 64 MiB) */
    unsigned limit;      /* objects per page asked for (default 1000; 0: server's choice) */
    int confidence;      /* for indicators stating none; -1: the default */
    int64_t hunt_ms;     /* retro-hunt new indicators over this window (default 30d; 0: off) */
};

/* Parses one feed line ("taxii key=value ..."). Returns 0, or TRL_EINVAL with a sentence in err.
 * Keys: name, url, api_root, collection, username, password, password_file, token, token_file,
 * ca, verify_tls, interval, timeout, max_size, limit, confidence, hunt. */
int trl_taxii_spec_parse(const char *text, struct trl_taxii_spec *out, char *err, size_t errlen);
void trl_taxii_spec_free(struct trl_taxii_spec *s);

/* One objects envelope. */
struct trl_taxii_envelope {
    json_t *objects; /* a JSON array (one reference, owned); empty when the envelope has none */
    bool more;
    char *next; /* NULL when absent */
};

/* Parses an envelope: a JSON object whose "objects" is absent or a list, "more" absent or a
 * boolean, "next" absent or a printable string of at most TRL_TAXII_TOKEN_MAX bytes. Returns 0, or
 * TRL_EINVAL with the reason in err (env is then empty). */
int trl_taxii_envelope_parse(const char *buf, size_t len, struct trl_taxii_envelope *env, char *err,
                             size_t errlen);
void trl_taxii_envelope_clear(struct trl_taxii_envelope *env);

/* Where a poll stands between two pages. */
struct trl_taxii_pager {
    char *added_after; /* the request's added_after (NULL: everything) */
    char *next;        /* the request's next (NULL: first page) */
    char *newest;      /* latest X-TAXII-Date-Added-Last seen: the cursor for the next poll */
    int64_t newest_ns;
    size_t pages;
    size_t max_pages; /* 0: 10000 */
};

/* Starts a poll at cursor added_after (NULL or "": from the beginning). */
void trl_taxii_pager_init(struct trl_taxii_pager *p, const char *added_after);
void trl_taxii_pager_clear(struct trl_taxii_pager *p);
/* Takes in one page: its envelope and its X-TAXII-Date-Added-Last header (NULL when absent).
 * Returns 1 when another page is to be fetched (with p->added_after and p->next), 0 when the poll
 * is complete, or TRL_EINVAL with the reason in err when the server's paging cannot be followed
 * (more without next nor a later date, the same next twice, too many pages). */
int trl_taxii_pager_advance(struct trl_taxii_pager *p, const struct trl_taxii_envelope *env,
                            const char *date_added_last, char *err, size_t errlen);

/* The result of one poll. */
struct trl_taxii_poll {
    json_t *objects;      /* every page's objects in order (owned) */
    char *cursor;         /* added_after for the next poll; NULL: keep the old one */
    char *collection_url; /* ".../collections/<id>/" */
    size_t pages;
    size_t bytes;
    bool partial; /* stopped early (a large collection): poll again soon for the rest */
};

/* Polls the collection for objects added after added_after (NULL: all). stop, when not NULL,
 * aborts a transfer in progress as soon as it becomes true. Returns 0, or a negative error
 * (-EACCES when the server refused the credentials) with a sentence in err. out is cleared with
 * trl_taxii_poll_clear() after a failure too. */
int trl_taxii_poll(const struct trl_taxii_spec *spec, const char *added_after,
                   const atomic_bool *stop, struct trl_taxii_poll *out, char *err, size_t errlen);
void trl_taxii_poll_clear(struct trl_taxii_poll *p);

#endif
