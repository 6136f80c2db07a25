/*
 * indicator: the threat-intelligence indicator model shared by the feed parsers, the indicator
 * database and the matcher.
 *
 * An indicator is one atomic observable (an address, a network, a domain, a URL, a hash, an e-mail
 * address, a file name or a user agent) with where it came from (the source feed), how sure that
 * source is (confidence 0-100), when it is valid, and context (tags, labels, description).
 *
 * Values are always stored normalised so that the matcher can compare bytes: see
 * trl_ioc_normalize() for the exact rules per type. struct trl_ioc only borrows its strings: a
 * parser hands one to a callback and the strings are valid during that call only.
 *
 * All functions here are pure and safe from any thread.
 */
#ifndef TRL_IOC_INDICATOR_H
#define TRL_IOC_INDICATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_ioc_type {
    TRL_IOC_NONE = 0,
    TRL_IOC_IPV4,       /* one IPv4 address */
    TRL_IOC_IPV6,       /* one IPv6 address */
    TRL_IOC_CIDR,       /* an IPv4 or IPv6 network, "203.0.113.0/24" */
    TRL_IOC_DOMAIN,     /* a domain name; also matches every name below it */
    TRL_IOC_URL,        /* an absolute URL */
    TRL_IOC_MD5,        /* file hashes, lower-case hex */
    TRL_IOC_SHA1,       /*   "   */
    TRL_IOC_SHA256,     /*   "   */
    TRL_IOC_EMAIL,      /* an e-mail address */
    TRL_IOC_FILENAME,   /* a file name, or a full path when it holds a '/' or '\' */
    TRL_IOC_USER_AGENT, /* an HTTP User-Agent string, compared exactly */
    TRL_IOC_TYPE__COUNT
};

/* Longest normalised value accepted, in bytes (URLs are the long ones). */
#define TRL_IOC_VALUE_MAX 4096
/* Length of a derived id ("ioc--" and 32 hex digits) plus its NUL. */
#define TRL_IOC_DERIVED_ID_SIZE 38
/* Confidence given to indicators whose source states none. */
#define TRL_IOC_DEFAULT_CONFIDENCE 50

struct trl_ioc {
    enum trl_ioc_type type;
    const char *value;     /* normalised, NUL-terminated */
    const char *id;        /* the source's id (STIX id, MISP uuid, feed record id); NULL: derived */
    const char *source;    /* feed name: "feodo", "misp", a --source given on import ... */
    int confidence;        /* 0..100 */
    int64_t valid_from_ns; /* 0: valid since always */
    int64_t valid_until_ns; /* 0: never expires; otherwise the first instant it no longer matches */
    const char *const *tags; /* ATT&CK phases, malware families, TLP markings, threat actors */
    size_t ntags;
    const char *const
        *labels; /* the source's classification (STIX indicator_types, MISP category) */
    size_t nlabels;
    const char *description; /* a name or comment from the source; may be NULL */
};

/* "ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "filename",
 * "user-agent"; "none" for TRL_IOC_NONE. */
const char *trl_ioc_type_name(enum trl_ioc_type t);
/* The type for one of the names above, or TRL_IOC_NONE. */
enum trl_ioc_type trl_ioc_type_from_name(const char *name, size_t len);

/*
 * Checks and normalises a value of the given type into out (cap bytes, NUL-terminated, at most
 * TRL_IOC_VALUE_MAX + 1 needed). Surrounding white space is always removed. Rules:
 *   ipv4, ipv6  canonical text (inet_ntop): "2001:db8::1", no leading zeros
 *   cidr        network address with the host bits cleared and the prefix length:
 * "198.51.100.0/24"; a /0 is refused (it would match every address) domain      lower-case, without
 * a trailing dot or a leading "*."; letters, digits, '-', '_' url         scheme and host
 * lower-case, "/" added when there is no path; the rest as given md5/sha1/sha256  lower-case hex of
 * the exact length email       lower-case, one '@', a valid domain after it; "mailto:" and <>
 * removed filename    lower-case (file names are matched without regard to case) user-agent  as
 * given Returns 0, or TRL_EINVAL with *why set to a static English reason.
 */
int trl_ioc_normalize(enum trl_ioc_type type, const char *in, size_t len, char *out, size_t cap,
                      size_t *out_len, const char **why);

enum trl_ioc_detect_flags {
    /* Free text: a word such as "thumb.php" or "index.html" must not be taken for a domain, so
     * domains whose last label is a common file extension are not recognised. */
    TRL_IOC_DETECT_FREETEXT = 1 << 0,
};
/* Guesses the type of a bare value: URL (scheme://), CIDR, IPv4, IPv6, hash by length, e-mail,
 * domain. Returns TRL_IOC_NONE when it is none of them. */
enum trl_ioc_type trl_ioc_detect_type(const char *v, size_t len, unsigned flags);

/* Undoes the usual defanging of shared indicators ("hxxp://", "[.]", "(.)", "[:]", "[@]") into
 * out (cap bytes, NUL-terminated). Returns the new length; values that do not fit are cut. */
size_t trl_ioc_refang(const char *in, size_t len, char *out, size_t cap);

/* A stable id for an indicator whose source gives none: "ioc--" and the first 128 bits of
 * SHA-256(source "\n" type "\n" value) in hex. */
void trl_ioc_derive_id(enum trl_ioc_type type, const char *source, const char *value,
                       char out[TRL_IOC_DERIVED_ID_SIZE]);

/* True when the indicator may match something observed at time t (ns). */
static inline bool trl_ioc_valid_at(int64_t valid_from_ns, int64_t valid_until_ns, int64_t t)
{
    return (valid_from_ns == 0 || t >= valid_from_ns) &&
           (valid_until_ns == 0 || t < valid_until_ns);
}

#endif
