/* libmicrohttpd loaded on first use (see mhd_lib.h), through the generic loader (core/dynlib.h). */
#include "core/mhd_lib.h"
#include "core/dynlib.h"
#include "core/util.h"

#define SYM(member, name) TRL_DYNLIB_SYM(struct trl_mhd, member, name)
static const struct trl_dynlib_sym syms[] = {
    SYM(start_daemon, "MHD_start_daemon"),
    SYM(stop_daemon, "MHD_stop_daemon"),
    SYM(get_daemon_info, "MHD_get_daemon_info"),
    SYM(get_connection_info, "MHD_get_connection_info"),
    SYM(lookup_connection_value, "MHD_lookup_connection_value"),
    SYM(create_response_from_buffer, "MHD_create_response_from_buffer"),
    SYM(add_response_header, "MHD_add_response_header"),
    SYM(queue_response, "MHD_queue_response"),
    SYM(destroy_response, "MHD_destroy_response"),
};
#undef SYM

static struct trl_mhd table;
static struct trl_dynlib lib = {
    .soname = TRL_MHD_SONAME,
    .package = "libmicrohttpd12",
    .syms = syms,
    .nsyms = TRL_ARRAY_LEN(syms),
    .table = &table,
    TRL_DYNLIB_STATE,
};

const struct trl_mhd *trl_mhd_get(char *err, size_t errlen)
{
    return trl_dynlib_load(&lib, err, errlen) == 0 ? &table : NULL;
}

const struct trl_mhd *trl_mhd(void)
{
    return &table;
}
