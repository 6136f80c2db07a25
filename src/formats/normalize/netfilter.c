#include "formats/parse.h"
#include "formats/normalize.h"
#include "core/util.h"

int trl_norm_netfilter(struct trl_event *ev, const char *p, size_t len) { (void)ev; (void)p; (void)len; return TRL_ENOMATCH; }
