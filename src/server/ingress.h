/*
 * ingress: the event loop's side of the pipeline hand-off. Messages from every receiver of one loop
 * (all UDP sockets, TCP and TLS connections) go into one current batch; the batch is submitted when
 * it is full and at the end of every loop iteration, so a quiet server still delivers each message
 * within one iteration and a busy one sends full batches.
 *
 * After each submission the ingress asks the pipeline whether it is congested; if so it calls
 * on_congested once (stream receivers stop reading) and stays congested until trl_ingress_recheck()
 * finds the pipeline drained. Datagram receivers may go on adding for TRL_INGRESS_UDP_SLACK more
 * batches past the watermark, then must drop (trl_ingress_must_drop()).
 *
 * Ownership: the ingress holds at most one batch of the pipeline's, given back by
 * trl_ingress_close(). Threads: the loop thread only.
 */
#ifndef TRL_INGRESS_H
#define TRL_INGRESS_H

#include "server/pipeline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Batches a datagram receiver may still submit once the pipeline reports congestion. */
#define TRL_INGRESS_UDP_SLACK 16

struct trl_ingress {
    struct trl_pipeline *p;
    struct trl_batch *b; /* the batch being filled, or NULL */
    bool congested;
    uint32_t batches_while_congested;
    uint64_t submitted; /* batches handed to the pipeline */
    void (*on_congested)(void *ud);
    void *ud;
};

void trl_ingress_init(struct trl_ingress *in, struct trl_pipeline *p,
                      void (*on_congested)(void *ud), void *ud);
/* Submits what is pending and gives the batch back to the pipeline. */
void trl_ingress_close(struct trl_ingress *in);

/* Copies one message into the current batch; submits the batch when it is full. */
void trl_ingress_add(struct trl_ingress *in, const char *data, size_t len, const char *peer,
                     int64_t received_ns, uint32_t flags);
/* Submits the current batch if it holds anything. */
void trl_ingress_flush(struct trl_ingress *in);
/* While congested: asks the pipeline again. Returns true when congestion has cleared. */
bool trl_ingress_recheck(struct trl_ingress *in);

/* True when a datagram should be dropped rather than queued. */
static inline bool trl_ingress_must_drop(const struct trl_ingress *in)
{
    return in->congested && in->batches_while_congested >= TRL_INGRESS_UDP_SLACK;
}

#endif
