/*
 * stix_export: what this Trapline instance shares back as STIX 2.1: a bundle of sightings (the
 * threat-intelligence alerts of DATA/alerts.db, one sighting per indicator with its count and
 * first and last time seen) and of the indicators created locally (the sources the operator
 * names, by default those imported from plain lists), each created_by_ref the identity of this
 * instance.
 *
 * Ids are UUID version 5 over the content (type, value and source for an indicator; the indicator
 * and the identity for a sighting), so exporting again gives the same ids: a receiver sees a new
 * version (a later `modified`) of the same object, never a copy. Timestamps are RFC 3339 with
 * milliseconds and Z, as STIX 2.1 requires.
 *
 * Ownership: every json_t returned is one reference, the caller's. Threads: any; the export opens
 * its own database handles.
 */
#ifndef TRL_IOC_STIX_EXPORT_H
#define TRL_IOC_STIX_EXPORT_H

#include "ioc/indicator.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx": the UUID v5 of name in the STIX namespace. */
void trl_stix_uuid5(const char *name, char out[37]);
/* "2024-07-10T01:00:00.000Z". out must hold 25 bytes. */
void trl_stix_timestamp(int64_t ns, char out[25]);

/* The identity of this instance (an organisation-less "system" named name). */
json_t *trl_stix_identity(const char *name);
/* An indicator for one of ours: pattern from its type and value, validity, confidence, labels as
 * indicator_types, tags as labels. NULL for a type no STIX pattern expresses. */
json_t *trl_stix_indicator(const struct trl_ioc *ioc, const char *identity_id, int64_t created_ns,
                           int64_t modified_ns);
/* The STIX pattern of an indicator into out; false when the value cannot be written as one. */
bool trl_stix_pattern_of(enum trl_ioc_type type, const char *value, char *out, size_t cap);

struct trl_stix_sighting_info {
    const char *indicator_ref; /* indicator--<uuid> */
    int64_t count;
    int64_t first_seen_ns, last_seen_ns;
};
json_t *trl_stix_sighting(const struct trl_stix_sighting_info *s, const char *identity_id);

/* Checks the properties STIX 2.1 requires of the objects Trapline writes: type, spec_version
 * "2.1", an id "<type>--<uuid>", created and modified with milliseconds and Z (modified not before
 * created), and per type: identity name and identity_class; indicator pattern, pattern_type and
 * valid_from; sighting sighting_of_ref, count 0..999999999, first_seen not after last_seen; a
 * bundle's id and objects. Returns true, or false with the reason in err. */
bool trl_stix_check_object(const json_t *o, char *err, size_t errlen);

struct trl_stix_export_opts {
    const char *data_dir;
    const char *identity_name;        /* NULL: "Trapline on <hostname>" */
    int64_t since_ns;                 /* sightings last seen and indicators imported since */
    const char *const *local_sources; /* sources whose indicators are ours; NULL: format "list" */
    size_t nlocal;
};

struct trl_stix_export_stats {
    size_t indicators, sightings;
    size_t unreferable; /* sightings of indicators with no STIX id that are not ours: left out */
};

/* Builds the bundle. Returns 0 and *out, or a negative error with a sentence in err. */
int trl_stix_export(const struct trl_stix_export_opts *o, json_t **out,
                    struct trl_stix_export_stats *stats, char *err, size_t errlen);

#endif
