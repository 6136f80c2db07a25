#include "server/ingress.h"

void trl_ingress_init(struct trl_ingress *in, struct trl_pipeline *p,
                      void (*on_congested)(void *ud), void *ud)
{
    *in = (struct trl_ingress){.p = p, .on_congested = on_congested, .ud = ud};
}

static void submit(struct trl_ingress *in)
{
    trl_pipeline_submit(in->p, in->b);
    in->b = NULL;
    in->submitted++;
    if (in->congested) {
        in->batches_while_congested++;
        return;
    }
    if (trl_pipeline_congested(in->p)) {
        in->congested = true;
        in->batches_while_congested = 0;
        if (in->on_congested)
            in->on_congested(in->ud);
    }
}

void trl_ingress_add(struct trl_ingress *in, const char *data, size_t len, const char *peer,
                     int64_t received_ns, uint32_t flags)
{
    if (!in->b)
        in->b = trl_pipeline_batch_get(in->p);
    if (trl_batch_add(in->b, data, len, peer, received_ns, flags))
        submit(in);
}

void trl_ingress_flush(struct trl_ingress *in)
{
    if (in->b && in->b->count > 0)
        submit(in);
}

bool trl_ingress_recheck(struct trl_ingress *in)
{
    if (!in->congested)
        return true;
    if (trl_pipeline_congested(in->p))
        return false;
    in->congested = false;
    in->batches_while_congested = 0;
    return true;
}

void trl_ingress_close(struct trl_ingress *in)
{
    if (!in->b)
        return;
    /* An empty batch is recycled by the pipeline, a full one queued. */
    trl_pipeline_submit(in->p, in->b);
    in->b = NULL;
}
