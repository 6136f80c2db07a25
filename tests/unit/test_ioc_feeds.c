/* Feed parsers: the shared samples of every format, format detection, and malformed input. */
#include "ioc_test_util.h"

#define NS(sec) ((int64_t)(sec)*1000000000LL)

static void parse_shared(const char *rel, enum trl_ioc_format want_fmt, struct collected *c,
                         int want_rc)
{
    size_t len = 0;
    char *buf = ioc_read_shared(rel, &len);
    if (!buf)
        skip();
    char why[256];
    assert_int_equal(trl_ioc_detect_format(buf, len, why, sizeof(why)), want_fmt);
    collected_init(c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, buf, len, NULL, &c->sink), want_rc);
    free(buf);
}

static void test_stix_bundle_yields_matchable_indicators_with_context(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("stix/bundle-apt40-synthetic.json", TRL_IOC_FMT_STIX, &c, 0);
    assert_int_equal(c.n, 7);
    assert_collected(&c, "ipv4 203.0.113.45");
    assert_collected(&c, "cidr 198.51.100.0/24");
    assert_collected(&c, "domain update-cdn.example.net");
    assert_collected(&c, "url http://198.51.100.77/f");
    assert_collected(&c, "sha256 aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139");
    assert_collected(&c, "md5 7eb18cdb185800b899425be06ecc6e00");
    int i = collected_find(&c, "ipv4 203.0.113.45");
    assert_string_equal(c.ids[i], "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f601");
    /* kill chain phase, the intrusion set it indicates, and the TLP marking */
    assert_string_equal(c.tags[i],
                        "mitre-attack:command-and-control,tlp:white,intrusion-set:APT40");
    assert_int_equal(c.valid_from[i], NS(1720569600));
    assert_int_equal(c.valid_until[i], NS(1752105600));
    assert_string_equal(c.source[i], "stix");
    assert_string_equal(c.description[i], "SOHO last-hop redirector (synthetic)");
    /* The START/STOP indicator (item 10) keeps the intersection of its window and validity. */
    assert_string_equal(c.ids[6], "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f608");
    assert_int_equal(c.valid_from[6], NS(1720569600));
    assert_int_equal(c.valid_until[6], NS(1720656000));
    assert_int_equal(c.sink.skipped, 1);
    assert_int_equal(c.sink.notes, 1);
    assert_problem(&c, "item 9: correlated pattern: not matched per event");
    assert_problem(&c, "item 8: file:name not checked");
    assert_int_equal(c.sink.context, 4);
}

static void test_taxii_envelope_pages_parse_as_stix(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("taxii/04-objects-page1.json", TRL_IOC_FMT_STIX, &c, 0);
    assert_true(c.n >= 1);
    assert_collected(&c, "ipv4 203.0.113.45");
    parse_shared("taxii/05-objects-page2.json", TRL_IOC_FMT_STIX, &c, 0);
    assert_collected(&c, "url http://198.51.100.77/f");
}

static void test_misp_event_honours_to_ids(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("misp/event-apt40-synthetic.json", TRL_IOC_FMT_MISP, &c, 0);
    /* 10 attributes: 8 with to_ids (two are the same address, src and dst), filename and
     * comment without: context. */
    assert_int_equal(c.n, 8);
    assert_int_equal(c.sink.context, 2);
    assert_int_equal(c.sink.skipped, 0);
    assert_collected(&c, "ipv4 203.0.113.45");
    assert_collected(&c, "ipv4 198.51.100.77");
    assert_collected(&c, "domain update-cdn.example.net");
    assert_collected(&c, "url http://198.51.100.77/f");
    assert_collected(&c, "md5 7eb18cdb185800b899425be06ecc6e00");
    assert_true(collected_find(&c, "filename thumb.php") < 0);
    int i = collected_find(&c, "ipv4 198.51.100.77");
    assert_string_equal(c.ids[i], "07e57a77-0000-0000-0400-080000000002");
    assert_string_equal(c.tags[i], "tlp:clear,misp-galaxy:threat-actor=\"APT40\"");
    assert_string_equal(c.description[i], "tool download / C2");
    /* filename|sha256: the hash of the composite */
    assert_string_equal(c.values[7],
                        "sha256 aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139");
    assert_string_equal(c.ids[7], "07e57a77-0000-0000-0400-080000000008");
}

static void test_misp_object_attributes_and_composites(void **state)
{
    (void)state;
    const char *ev =
        "{\"Event\":{\"info\":\"x\",\"Attribute\":[],\"Object\":[{\"name\":\"file\","
        "\"Attribute\":["
        "{\"type\":\"filename|md5\",\"value\":\"a.exe|D41D8CD98F00B204E9800998ECF8427E\","
        "\"to_ids\":\"1\",\"uuid\":\"u1\"},"
        "{\"type\":\"ip-dst|port\",\"value\":\"192.0.2.9|8443\",\"to_ids\":1},"
        "{\"type\":\"domain|ip\",\"value\":\"evil.example|192.0.2.10\",\"to_ids\":true},"
        "{\"type\":\"hostname\",\"value\":\"C2.Evil.Example\",\"to_ids\":true},"
        "{\"type\":\"email-src\",\"value\":\"Phish@Evil.Example\",\"to_ids\":true},"
        "{\"type\":\"user-agent\",\"value\":\"BadBot/1.0\",\"to_ids\":true},"
        "{\"type\":\"mutex\",\"value\":\"Global\\\\x\",\"to_ids\":true},"
        "{\"type\":\"ip-src\",\"value\":\"not-an-ip\",\"to_ids\":true},"
        "{\"type\":\"url\",\"value\":\"http://a.example/x\",\"to_ids\":true,"
        "\"deleted\":true}"
        "]}]}}";
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, ev, strlen(ev), NULL, &c.sink), 0);
    assert_collected(&c, "md5 d41d8cd98f00b204e9800998ecf8427e");
    assert_collected(&c, "ipv4 192.0.2.9");
    assert_collected(&c, "domain evil.example");
    assert_collected(&c, "ipv4 192.0.2.10");
    assert_collected(&c, "domain c2.evil.example");
    assert_collected(&c, "email phish@evil.example");
    assert_collected(&c, "user-agent BadBot/1.0");
    assert_int_equal(c.n, 7);
    assert_problem(&c, "item 7: MISP type 'mutex' is not matched");
    assert_problem(&c, "item 8: ipv4 'not-an-ip': not an IPv4 address");
    assert_problem(&c, "item 9: url attribute deleted in MISP");
}

static int copy_uuid(void *ud, const char *uuid)
{
    snprintf(ud, 64, "%s", uuid);
    return 0;
}

static void test_misp_feed_manifest_lists_event_uuids(void **state)
{
    (void)state;
    size_t len = 0;
    READ_SHARED_OR_SKIP(buf, "misp/feed/manifest.json", &len);
    char why[128];
    assert_int_equal(trl_ioc_detect_format(buf, len, why, sizeof(why)), TRL_IOC_FMT_MISP_FEED);
    struct collected c;
    collected_init(&c);
    char uuid[64] = "";
    int rc = trl_ioc_parse_misp_manifest(buf, len, copy_uuid, uuid, &c.sink);
    assert_true(rc >= 0);
    assert_string_equal(uuid, "5f2a1c3e-8d4b-4e6f-9a7b-1c2d3e4f5a6b");
    free(buf);
}

static int count_uuid(void *ud, const char *uuid)
{
    (void)uuid;
    (*(int *)ud)++;
    return 0;
}

static void test_misp_manifest_refuses_keys_that_are_not_uuids(void **state)
{
    (void)state;
    const char *m = "{\"../../etc/passwd\":{\"info\":\"x\"},"
                    "\"5f2a1c3e-8d4b-4e6f-9a7b-1c2d3e4f5a6b\":{\"info\":\"y\"}}";
    struct collected c;
    collected_init(&c);
    int n = 0;
    assert_int_equal(trl_ioc_parse_misp_manifest(m, strlen(m), count_uuid, &n, &c.sink), 0);
    assert_int_equal(n, 1);
    assert_problem(&c, "item 1: manifest key '../../etc/passwd' is not an event uuid");
}

static void test_misp_simple_csv_and_freetext(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("misp/simple-csv-feed.csv", TRL_IOC_FMT_MISP_CSV, &c, 0);
    assert_int_equal(c.n, 2);
    assert_collected(&c, "ipv4 203.0.113.45");
    assert_collected(&c, "ipv4 198.51.100.77");
    assert_int_equal(c.sink.context, 1); /* the header */

    parse_shared("misp/freetext-feed.txt", TRL_IOC_FMT_FREETEXT, &c, 0);
    assert_int_equal(c.n, 4);
    assert_collected(&c, "ipv4 203.0.113.45");
    assert_collected(&c, "url http://198.51.100.77/f");
    assert_collected(&c, "domain update-cdn.example.net");
    assert_collected(&c, "sha256 aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139");
}

static void test_freetext_refangs_and_ignores_file_names(void **state)
{
    (void)state;
    const char *t = "Dropper thumb.php fetched hxxp://evil[.]example/a.sh from 192.0.2[.]7; "
                    "see report.pdf. Contact: bad[@]evil.example.";
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse_freetext(t, strlen(t), NULL, &c.sink), 0);
    assert_collected(&c, "url http://evil.example/a.sh");
    assert_collected(&c, "ipv4 192.0.2.7");
    assert_collected(&c, "email bad@evil.example");
    assert_int_equal(c.n, 3);
}

static void test_feodo_csv_and_text(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("feeds/feodo-ipblocklist.csv", TRL_IOC_FMT_FEODO, &c, 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.values[0], "ipv4 198.51.100.77");
    assert_string_equal(c.tags[0], "QakBot");
    assert_string_equal(c.description[0], "botnet C2 on port 443 (online)");
    assert_string_equal(c.values[2], "ipv4 192.0.2.10");
    assert_string_equal(c.tags[2], "Emotet");
    assert_string_equal(c.source[2], "feodo");
    assert_int_equal(c.nproblems, 0);

    parse_shared("feeds/feodo-ipblocklist.txt", TRL_IOC_FMT_FEODO, &c, 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.values[1], "ipv4 192.0.2.10");
}

static void test_urlhaus_csv_recent(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("feeds/urlhaus-csv_recent.csv", TRL_IOC_FMT_URLHAUS, &c, 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.values[1], "url http://203.0.113.45:8088/i");
    assert_string_equal(c.ids[1], "urlhaus:3000002");
    assert_string_equal(c.tags[1], "32-bit,elf,mips,Mozi");
    assert_string_equal(c.description[1], "https://urlhaus.abuse.ch/url/3000002/");
    assert_string_equal(c.values[2], "url https://update-cdn.example.net/u/a.sh");
}

static void test_threatfox_json_and_csv(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("feeds/threatfox-export-recent.json", TRL_IOC_FMT_THREATFOX, &c, 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.values[0], "ipv4 203.0.113.45"); /* ip:port */
    assert_string_equal(c.ids[0], "threatfox:1300001");
    assert_int_equal(c.confidence[0], 100);
    assert_string_equal(c.tags[0], "Cobalt Strike,c2,synthetic");
    assert_string_equal(c.values[1], "domain update-cdn.example.net");
    assert_int_equal(c.confidence[1], 75);
    assert_string_equal(c.tags[1], "synthetic"); /* "Unknown malware" is no family */
    assert_int_equal(c.confidence[2], 50);

    parse_shared("feeds/threatfox-recent.csv", TRL_IOC_FMT_THREATFOX, &c, 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.values[0], "ipv4 203.0.113.45");
    assert_string_equal(c.ids[2], "threatfox:1300003");
    assert_string_equal(c.values[2],
                        "sha256 aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139");
    assert_string_equal(c.tags[2], "PHP webshell,webshell");
    assert_int_equal(c.confidence[1], 75);
    assert_int_equal(c.nproblems, 0);
}

static void test_spamhaus_drop_text_and_ndjson(void **state)
{
    (void)state;
    struct collected c;
    parse_shared("feeds/spamhaus-drop.txt", TRL_IOC_FMT_SPAMHAUS, &c, 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.values[0], "cidr 203.0.113.0/24");
    assert_string_equal(c.ids[0], "SBL100001");
    assert_string_equal(c.values[2], "cidr 192.0.2.128/25");

    parse_shared("feeds/spamhaus-drop_v4.json", TRL_IOC_FMT_SPAMHAUS, &c, 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.values[1], "cidr 198.51.100.0/25");
    assert_string_equal(c.ids[1], "SBL100002");
    assert_int_equal(c.sink.context, 1); /* the metadata line */
}

static void test_list_detects_the_type_per_line(void **state)
{
    (void)state;
    const char *l = "# my list\n"
                    "203.0.113.9\n"
                    "2001:DB8::7\n"
                    "198.51.100.0/24   # a comment\n"
                    "D41D8CD98F00B204E9800998ECF8427E\n"
                    "da39a3ee5e6b4b0d3255bfef95601890afd80709\n"
                    "https://Evil.Example/Path\n"
                    "Bad.Example.\n"
                    "x@evil.example\n"
                    "\n"
                    "not a value\n"
                    "10.0.0.0/33\n"
                    "1.2.3.4/0\n";
    struct collected c;
    collected_init(&c);
    char why[64];
    assert_int_equal(trl_ioc_detect_format(l, strlen(l), why, sizeof(why)), TRL_IOC_FMT_LIST);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, l, strlen(l), NULL, &c.sink), 0);
    assert_collected(&c, "ipv4 203.0.113.9");
    assert_collected(&c, "ipv6 2001:db8::7");
    assert_collected(&c, "cidr 198.51.100.0/24");
    assert_collected(&c, "md5 d41d8cd98f00b204e9800998ecf8427e");
    assert_collected(&c, "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_collected(&c, "url https://evil.example/Path");
    assert_collected(&c, "domain bad.example");
    assert_collected(&c, "email x@evil.example");
    assert_int_equal(c.n, 8);
    assert_problem(&c, "item 11: 'not' is no IP");
    assert_problem(&c, "item 12: '10.0.0.0/33' is no IP");
    assert_problem(&c, "item 13: '1.2.3.4/0' is no IP");
}

static void test_malformed_json_is_reported_not_crashed(void **state)
{
    (void)state;
    size_t len = 0;
    READ_SHARED_OR_SKIP(buf, "stix/bundle-apt40-synthetic.json", &len);
    /* Truncated at every length: never a crash, a whole-input error or a clean parse. */
    for (size_t cut = 0; cut < len; cut += 7) {
        struct collected c;
        collected_init(&c);
        trl_ioc_parse(TRL_IOC_FMT_STIX, buf, cut, NULL, &c.sink);
        if (cut < len - 2)
            assert_true(c.sink.skipped >= 1);
    }
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_STIX, buf, len / 2, NULL, &c.sink), TRL_EINVAL);
    assert_problem(&c, "item 0: not valid JSON");
    free(buf);

    collected_init(&c);
    const char *notstix = "{\"hello\":1}";
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_STIX, notstix, strlen(notstix), NULL, &c.sink),
                     TRL_EINVAL);
    assert_problem(&c, "no STIX objects");
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, notstix, strlen(notstix), NULL, &c.sink),
                     TRL_EINVAL);
    assert_problem(&c, "format not recognised");
}

static void test_stix_indicator_problems_are_reported(void **state)
{
    (void)state;
    const char *b =
        "{\"type\":\"bundle\",\"objects\":["
        "{\"type\":\"indicator\",\"id\":\"indicator--1\",\"pattern_type\":\"sigma\","
        "\"pattern\":\"x\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--2\",\"pattern\":\"[ipv4-addr:value = "
        "203.0.113.45]\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--3\",\"revoked\":true,"
        "\"pattern\":\"[ipv4-addr:value = '192.0.2.1']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--4\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--5\",\"pattern\":\"[ipv4-addr:value = "
        "'192.0.2.5']\",\"valid_from\":\"2024-01-02T00:00:00Z\","
        "\"valid_until\":\"2024-01-01T00:00:00Z\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--6\",\"confidence\":85,"
        "\"pattern\":\"[ipv4-addr:value = '192.0.2.6' OR file:name LIKE 'x%']\"},"
        "42]}";
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, b, strlen(b), NULL, &c.sink), 0);
    assert_problem(&c, "item 1: pattern_type 'sigma' is not a STIX pattern");
    assert_problem(&c, "item 2: pattern: column 20: malformed number");
    assert_problem(&c, "item 3: indicator indicator--3 is revoked");
    assert_problem(&c, "item 4: indicator without a pattern");
    assert_problem(&c, "item 5: valid_until is not after valid_from");
    assert_problem(&c, "item 6: file:name LIKE: unsupported for matching");
    assert_problem(&c, "item 7: not a STIX object");
    assert_int_equal(c.n, 1);
    assert_string_equal(c.values[0], "ipv4 192.0.2.6");
    assert_int_equal(c.confidence[0], 85);
    assert_int_equal(c.sink.skipped, 6);
    assert_int_equal(c.sink.notes, 1);
}

static void test_bad_csv_quoting_and_bad_cidr_are_reported(void **state)
{
    (void)state;
    const char *u = "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
                    "\"1\",\"2024-07-09 22:20:11\",\"http://a.example/x\",\"online\",\"\",\"m\","
                    "\"t\",\"l\",\"r\"\n"
                    "\"2\",\"2024-07-09 22:20:11\",\"http://b.example/x,\"online\"\n"
                    "\"3\",\"2024\",\"no url here\",\"online\"\n";
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, u, strlen(u), NULL, &c.sink), 0);
    assert_int_equal(c.n, 1);
    assert_problem(&c, "item 3: bad CSV quoting");
    assert_problem(&c, "item 4: url 'no url here': not an absolute URL");

    const char *d = "; Spamhaus DROP\n203.0.113.0/24 ; SBL1\n203.0.113.0/99 ; SBL2\n"
                    "300.0.113.0/24 ; SBL3\n2001:db8::/32 ; SBL4\n";
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, d, strlen(d), NULL, &c.sink), 0);
    assert_int_equal(c.n, 2);
    assert_collected(&c, "cidr 2001:db8::/32");
    assert_problem(&c, "item 3: cidr '203.0.113.0/99': bad prefix length (0-32)");
    assert_problem(&c, "item 4: cidr '300.0.113.0/24': bad network address");
}

static void test_empty_and_binary_input(void **state)
{
    (void)state;
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, "", 0, NULL, &c.sink), TRL_EINVAL);
    assert_problem(&c, "empty input");
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, "  \n\n", 4, NULL, &c.sink), TRL_EINVAL);
    static const char bin[] = "\x7f"
                              "ELF\x02\x01\x01\x00\x00\x00\xff\xfe\n\x00\x01";
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, bin, sizeof(bin) - 1, NULL, &c.sink),
                     TRL_EINVAL);
    assert_problem(&c, "binary data");
    /* Forced formats over binary: every line is a problem, nothing is produced. */
    for (int f = TRL_IOC_FMT_STIX; f < TRL_IOC_FMT__COUNT; f++) {
        collected_init(&c);
        trl_ioc_parse((enum trl_ioc_format)f, bin, sizeof(bin) - 1, NULL, &c.sink);
        assert_int_equal(c.n, 0);
    }
    /* Empty JSON containers. */
    static const char *const empties[] = {"{}", "[]", "{\"objects\":[]}", "{\"Event\":{}}",
                                          "{\"data\":[]}"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        for (int f = TRL_IOC_FMT_AUTO; f < TRL_IOC_FMT__COUNT; f++) {
            collected_init(&c);
            trl_ioc_parse((enum trl_ioc_format)f, empties[i], strlen(empties[i]), NULL, &c.sink);
            assert_int_equal(c.n, 0);
        }
    }
}

static void test_source_and_confidence_options(void **state)
{
    (void)state;
    const char *l = "192.0.2.1\n";
    struct trl_ioc_parse_opts o = {.source = "my-feed", .confidence = 90};
    struct collected c;
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_LIST, l, strlen(l), &o, &c.sink), 0);
    assert_string_equal(c.source[0], "my-feed");
    assert_int_equal(c.confidence[0], 90);
    collected_init(&c);
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_LIST, l, strlen(l), NULL, &c.sink), 0);
    assert_string_equal(c.source[0], "list");
    assert_int_equal(c.confidence[0], TRL_IOC_DEFAULT_CONFIDENCE);
}

static int stop_at_second(void *ud, const struct trl_ioc *ioc)
{
    (void)ioc;
    return ++*(int *)ud == 2 ? -5 : 0;
}

static void test_sink_error_stops_the_parser(void **state)
{
    (void)state;
    const char *l = "192.0.2.1\n192.0.2.2\n192.0.2.3\n";
    int n = 0;
    struct trl_ioc_sink s = {.indicator = stop_at_second, .ud = &n};
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_LIST, l, strlen(l), NULL, &s), -5);
    assert_int_equal(n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stix_bundle_yields_matchable_indicators_with_context),
        cmocka_unit_test(test_taxii_envelope_pages_parse_as_stix),
        cmocka_unit_test(test_misp_event_honours_to_ids),
        cmocka_unit_test(test_misp_object_attributes_and_composites),
        cmocka_unit_test(test_misp_feed_manifest_lists_event_uuids),
        cmocka_unit_test(test_misp_manifest_refuses_keys_that_are_not_uuids),
        cmocka_unit_test(test_misp_simple_csv_and_freetext),
        cmocka_unit_test(test_freetext_refangs_and_ignores_file_names),
        cmocka_unit_test(test_feodo_csv_and_text),
        cmocka_unit_test(test_urlhaus_csv_recent),
        cmocka_unit_test(test_threatfox_json_and_csv),
        cmocka_unit_test(test_spamhaus_drop_text_and_ndjson),
        cmocka_unit_test(test_list_detects_the_type_per_line),
        cmocka_unit_test(test_malformed_json_is_reported_not_crashed),
        cmocka_unit_test(test_stix_indicator_problems_are_reported),
        cmocka_unit_test(test_bad_csv_quoting_and_bad_cidr_are_reported),
        cmocka_unit_test(test_empty_and_binary_input),
        cmocka_unit_test(test_source_and_confidence_options),
        cmocka_unit_test(test_sink_error_stops_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
