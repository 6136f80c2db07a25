#include "norm_test.h"

static void test_netfilter_ufw_block_tcp(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("kernel", "[12345.678901] [UFW BLOCK] IN=eth0 OUT= "
                             "MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=203.0.113.45 "
                             "DST=10.20.1.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=TCP "
                             "SPT=44512 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0");
    assert_class(ev, "network", "connection,denied", "firewall-packet", NULL);
    assert_field(ev, TRL_F_RULE_NAME, "UFW BLOCK");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "44512");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.20.1.10");
    assert_field(ev, TRL_F_DESTINATION_PORT, "22");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "tcp");
    assert_field(ev, TRL_F_NETWORK_TYPE, "ipv4");
    assert_field(ev, TRL_F_NETWORK_DIRECTION, "ingress");
    assert_field(ev, TRL_F_OBSERVER_INGRESS_INTERFACE_NAME, "eth0");
    assert_field(ev, TRL_F_OBSERVER_EGRESS_INTERFACE_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_MAC, "52-54-00-AB-CD-EF");
    assert_named(ev, "destination.mac", "52-54-00-12-34-56");
    assert_named(ev, "iptables.tcp.flags", "SYN");
    assert_values(ev, TRL_F_RELATED_IP, "203.0.113.45,10.20.1.10");
    assert_field(ev, TRL_F_PROCESS_NAME, "kernel");
}

static void test_netfilter_prefix_without_brackets(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("kernel", "[  812.004512] UFW BLOCK IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 "
                             "PROTO=TCP SPT=1 DPT=2 WINDOW=1 RES=0x00 ACK FIN URGP=0");
    assert_field(ev, TRL_F_RULE_NAME, "UFW BLOCK");
    assert_values(ev, TRL_F_EVENT_TYPE, "connection,denied");
    assert_named(ev, "iptables.tcp.flags", "ACK FIN");
    assert_field(ev, TRL_F_SOURCE_MAC, NULL);
}

static void test_netfilter_iptables_log_prefix_and_accept(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("kernel", "IPTABLES-DROP: IN=ens3 OUT= SRC=198.51.100.9 DST=10.0.0.1 LEN=52 "
                             "PROTO=UDP SPT=5353 DPT=161 LEN=32");
    assert_class(ev, "network", "connection,denied", "firewall-packet", NULL);
    assert_field(ev, TRL_F_RULE_NAME, "IPTABLES-DROP");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "udp");
    assert_field(ev, TRL_F_DESTINATION_PORT, "161");

    ev = normalized("kernel", "fw-accept-9998 IN=eth0 OUT= SRC=10.20.1.15 DST=10.20.1.20 LEN=60 "
                              "PROTO=TCP SPT=40000 DPT=9998 SYN");
    assert_class(ev, "network", "connection,allowed", "firewall-packet", NULL);
    assert_field(ev, TRL_F_RULE_NAME, "fw-accept-9998");
}

static void test_netfilter_nftables_and_no_verdict_word(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("kernel", "nft-drop IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=84 PROTO=ICMP "
                             "TYPE=8 CODE=0 ID=1 SEQ=1");
    assert_class(ev, "network", "connection,denied", "firewall-packet", NULL);
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "icmp");
    assert_named(ev, "iptables.icmp.type", "8");
    assert_named(ev, "iptables.icmp.code", "0");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);

    ev = normalized("kernel", "[UFW AUDIT] IN= OUT=eth0 SRC=10.0.0.1 DST=9.9.9.9 LEN=60 PROTO=TCP "
                              "SPT=5000 DPT=443");
    assert_class(ev, "network", "connection", "firewall-packet", NULL);
    assert_field(ev, TRL_F_NETWORK_DIRECTION, "egress");
    assert_field(ev, TRL_F_OBSERVER_EGRESS_INTERFACE_NAME, "eth0");
    assert_field(ev, TRL_F_OBSERVER_INGRESS_INTERFACE_NAME, NULL);
}

static void test_netfilter_prefix_glued_to_in(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("kernel", "DROPIN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2");
    assert_field(ev, TRL_F_RULE_NAME, "DROP");
    assert_values(ev, TRL_F_EVENT_TYPE, "connection,denied");
}

static void test_netfilter_ipv6_icmp_error_reads_outer_header_only(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "kernel", "[UFW BLOCK] IN=eth0 OUT= MAC=33:33:00:00:00:01:52:54:00:ab:cd:ef:86:dd "
                  "SRC=fe80:0000:0000:0000:0000:0000:0000:0001 DST=ff02:0000:0000:0000:0000:0000:"
                  "0000:0001 LEN=72 TC=0 HOPLIMIT=255 FLOWLBL=0 PROTO=ICMPv6 TYPE=1 CODE=3 "
                  "[SRC=2001:db8::1 DST=2001:db8::2 LEN=52 PROTO=TCP SPT=5 DPT=6 ]");
    assert_field(ev, TRL_F_SOURCE_IP, "fe80:0000:0000:0000:0000:0000:0000:0001");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "ipv6-icmp");
    assert_field(ev, TRL_F_NETWORK_TYPE, "ipv6");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
    assert_field(ev, TRL_F_DESTINATION_PORT, NULL);
    assert_named(ev, "iptables.icmp.type", "1");
}

static void test_netfilter_other_kernel_lines_are_not_touched(void **state)
{
    (void)state;
    assert_no_match(trl_norm_netfilter, "kernel", "");
    assert_no_match(trl_norm_netfilter, "kernel",
                    "[    0.000000] Linux version 6.1.0-21-amd64 (debian-kernel@lists.debian.org)");
    assert_no_match(trl_norm_netfilter, "kernel", "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8");
    assert_no_match(trl_norm_netfilter, "kernel", "IN=eth0 SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP");
    assert_no_match(trl_norm_netfilter, "kernel", "X IN=eth0 OUT= SRC=bogus DST=5.6.7.8 PROTO=TCP");
    assert_no_match(trl_norm_netfilter, "kernel", "[UFW BLOCK] IN=");
    /* Dispatch leaves the event as it was, too. */
    struct trl_event *ev = normalized("kernel", "usb 1-1: new high-speed USB device number 2");
    assert_field(ev, TRL_F_EVENT_KIND, NULL);
    assert_field(ev, TRL_F_EVENT_ACTION, NULL);
}

static void test_netfilter_survives_every_truncation(void **state)
{
    (void)state;
    norm_survive_prefixes(trl_norm_netfilter, "kernel",
                          "[12345.678901] [UFW BLOCK] IN=eth0 OUT= "
                          "MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=203.0.113.45 "
                          "DST=10.20.1.10 LEN=60 TOS=0x00 TTL=52 ID=0 DF PROTO=TCP SPT=44512 "
                          "DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0");
    norm_survive_prefixes(trl_norm_netfilter, "kernel",
                          "nft-drop IN=eth0 OUT= SRC=::1 DST=::2 PROTO=ICMPv6 TYPE=1 CODE=3 "
                          "[SRC=::3 DST=::4 PROTO=TCP SPT=5 DPT=6 ]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netfilter_ufw_block_tcp),
        cmocka_unit_test(test_netfilter_prefix_without_brackets),
        cmocka_unit_test(test_netfilter_iptables_log_prefix_and_accept),
        cmocka_unit_test(test_netfilter_nftables_and_no_verdict_word),
        cmocka_unit_test(test_netfilter_prefix_glued_to_in),
        cmocka_unit_test(test_netfilter_ipv6_icmp_error_reads_outer_header_only),
        cmocka_unit_test(test_netfilter_other_kernel_lines_are_not_touched),
        cmocka_unit_test(test_netfilter_survives_every_truncation),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
