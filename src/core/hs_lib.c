/* Vectorscan loaded on first use (see hs_lib.h), through the generic loader (core/dynlib.h). */
#include "core/hs_lib.h"
#include "core/dynlib.h"
#include "core/util.h"

#define SYM(member, name) TRL_DYNLIB_SYM(struct trl_hs, member, name)
static const struct trl_dynlib_sym syms[] = {
    SYM(compile_lit_multi, "hs_compile_lit_multi"),
    SYM(free_compile_error, "hs_free_compile_error"),
    SYM(free_database, "hs_free_database"),
    SYM(alloc_scratch, "hs_alloc_scratch"),
    SYM(free_scratch, "hs_free_scratch"),
    SYM(scan, "hs_scan"),
};
#undef SYM

static struct trl_hs table;
static struct trl_dynlib lib = {
    .soname = TRL_HS_SONAME,
    .package = "libvectorscan5",
    .syms = syms,
    .nsyms = TRL_ARRAY_LEN(syms),
    .table = &table,
    TRL_DYNLIB_STATE,
};

const struct trl_hs *trl_hs_get(char *err, size_t errlen)
{
    return trl_dynlib_load(&lib, err, errlen) == 0 ? &table : NULL;
}

const struct trl_hs *trl_hs(void)
{
    return &table;
}
