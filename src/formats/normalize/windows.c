#include "formats/parse.h"
#include "formats/normalize.h"
#include "core/util.h"

int trl_norm_windows(struct trl_event *ev) { (void)ev; return TRL_ENOMATCH; }
