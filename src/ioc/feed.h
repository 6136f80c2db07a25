/*
 * feed: parsers for threat-intelligence feeds and exports, each turning a buffer into indicators.
 *
 * Formats: STIX 2.1 bundles (and TAXII 2.1 object envelopes), MISP events (core format), MISP feed
 * manifests, MISP "simple CSV" and "freetext" feeds, abuse.ch Feodo Tracker (CSV and plain text),
 * URLhaus csv_recent, ThreatFox (JSON export and CSV), Spamhaus DROP (text and NDJSON), and plain
 * one-value-per-line lists. trl_ioc_detect_format() recognises each of them by content.
 *
 * Every parser is a pure function over a buffer: no I/O, no globals. It hands each indicator to the
 * sink's callback (strings valid during the call only) and reports every record it cannot use with
 * its item number and the reason, never dropping one silently. Item numbers are line numbers for
 * text formats and 1-based positions in the object or attribute list for JSON formats (item 0: the
 * input as a whole). A problem is "skipped" when the record yields no indicator, otherwise it is a
 * note (part of a record was not usable, e.g. a LIKE comparison next to an equality).
 *
 * Return value: 0 when the input was read as the format (problems with single records included),
 * TRL_EINVAL when the input as a whole is unusable (reported as item 0), or the first negative
 * value the indicator callback returned (parsing stops there). Safe from any thread on distinct
 * sinks.
 */
#ifndef TRL_IOC_FEED_H
#define TRL_IOC_FEED_H

#include "ioc/indicator.h"

#include <stdbool.h>
#include <stddef.h>

enum trl_ioc_format {
    TRL_IOC_FMT_AUTO = 0,
    TRL_IOC_FMT_STIX,      /* STIX 2.x bundle or TAXII 2.1 envelope */
    TRL_IOC_FMT_MISP,      /* MISP event JSON */
    TRL_IOC_FMT_MISP_FEED, /* MISP feed manifest.json (events are read by the caller) */
    TRL_IOC_FMT_MISP_CSV,  /* MISP simple CSV feed */
    TRL_IOC_FMT_FREETEXT,  /* MISP freetext feed: indicators anywhere in prose */
    TRL_IOC_FMT_FEODO,     /* abuse.ch Feodo Tracker IP blocklist, CSV or text */
    TRL_IOC_FMT_URLHAUS,   /* abuse.ch URLhaus csv_recent / csv_online */
    TRL_IOC_FMT_THREATFOX, /* abuse.ch ThreatFox JSON export or CSV */
    TRL_IOC_FMT_SPAMHAUS,  /* Spamhaus DROP / EDROP text, or the NDJSON variant */
    TRL_IOC_FMT_LIST,      /* one value per line, type detected per line */
    TRL_IOC_FMT__COUNT
};

/* "auto", "stix", "misp", "misp-feed", "misp-csv", "freetext", "feodo", "urlhaus", "threatfox",
 * "spamhaus", "list". */
const char *trl_ioc_format_name(enum trl_ioc_format f);
/* The format for a name above, or -1. */
int trl_ioc_format_from_name(const char *name);

struct trl_ioc_sink {
    /* Called for every indicator; a negative return stops the parser, which returns it. */
    int (*indicator)(void *ud, const struct trl_ioc *ioc);
    /* Called for every problem; reason is valid during the call only. May be NULL. */
    void (*problem)(void *ud, size_t item, const char *reason, bool skipped);
    void *ud;
    /* Counters the parsers add to (the caller zeroes them). */
    size_t indicators; /* handed to indicator() */
    size_t skipped;    /* records that yielded nothing, each reported */
    size_t notes;      /* records partly used, each reported */
    size_t context;    /* records that are context, not indicators (MISP to_ids=false, metadata) */
};

struct trl_ioc_parse_opts {
    const char *source;    /* feed name on every indicator; NULL: the format's name */
    int confidence;        /* for records stating none; < 0: TRL_IOC_DEFAULT_CONFIDENCE */
    unsigned value_column; /* MISP simple CSV: 1-based column of the value; 0: 1 */
};

/* Recognises the format of a buffer. Returns TRL_IOC_FMT_AUTO when it is none of them, with the
 * reason in *why (static text, or JSON error text copied into why_buf). */
enum trl_ioc_format trl_ioc_detect_format(const char *buf, size_t len, char *why_buf,
                                          size_t why_cap);

/* Parses buf as fmt (TRL_IOC_FMT_AUTO: detected first). opts may be NULL. TRL_IOC_FMT_MISP_FEED is
 * refused here: use trl_ioc_parse_misp_manifest() and parse each event file as TRL_IOC_FMT_MISP. */
int trl_ioc_parse(enum trl_ioc_format fmt, const char *buf, size_t len,
                  const struct trl_ioc_parse_opts *opts, struct trl_ioc_sink *sink);

/* The per-format parsers behind trl_ioc_parse(). */
int trl_ioc_parse_stix(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                       struct trl_ioc_sink *sink);
int trl_ioc_parse_misp(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                       struct trl_ioc_sink *sink);
int trl_ioc_parse_misp_csv(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                           struct trl_ioc_sink *sink);
int trl_ioc_parse_freetext(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                           struct trl_ioc_sink *sink);
int trl_ioc_parse_feodo(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                        struct trl_ioc_sink *sink);
int trl_ioc_parse_urlhaus(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                          struct trl_ioc_sink *sink);
int trl_ioc_parse_threatfox(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                            struct trl_ioc_sink *sink);
int trl_ioc_parse_spamhaus(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                           struct trl_ioc_sink *sink);
int trl_ioc_parse_list(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                       struct trl_ioc_sink *sink);

/* A MISP feed's manifest.json: calls each() with every event uuid it lists (in the manifest's
 * order); the events themselves are <uuid>.json beside it. Problems go to sink (its indicator
 * callback is not used). each() returning a negative value stops and is returned. */
int trl_ioc_parse_misp_manifest(const char *buf, size_t len,
                                int (*each)(void *ud, const char *uuid), void *ud,
                                struct trl_ioc_sink *sink);

#endif
