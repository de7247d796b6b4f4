/*
 * ring: the meter's sample ring, between the sampling thread (one producer)
 * and the measuring thread (one consumer), and the store behind waveform
 * captures: it always holds the newest `capacity` sample frames, a frame
 * being one sample of each of its channels taken at the same instant (two
 * for a single-phase meter: voltage and current; up to six for three
 * phases). The pair functions are the two-channel case: channel 0 is v,
 * channel 1 is i.
 *
 * Lock-free for the producer (push never blocks and never allocates); the
 * consumer may wait for data with a timeout. Every sample has an index in the
 * stream; a gap (samples the sampler missed) is recorded so the consumer can
 * restart its analysis window, and the wall-clock time of the newest sample is
 * kept so captures can be time-stamped.
 */
#ifndef SMARTMETER_RING_H
#define SMARTMETER_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sample_ring;

#define RING_CHANNELS_MAX 8

/* capacity: sample pairs kept (at least rate * 10 s for captures). Returns 0 or -ENOMEM. */
int ring_new(size_t capacity, double rate_hz, struct sample_ring **ret);
/* The same with 1..RING_CHANNELS_MAX channels. Returns 0, -EINVAL or -ENOMEM. */
int ring_new_channels(size_t capacity, double rate_hz, unsigned channels,
                      struct sample_ring **ret);
unsigned ring_channels(const struct sample_ring *r);
void ring_free(struct sample_ring *r);
size_t ring_capacity(const struct sample_ring *r);
double ring_rate_hz(const struct sample_ring *r);

/* Producer: appends n pairs taken ending at wall-clock end_ms. */
void ring_push(struct sample_ring *r, const float *v, const float *i, size_t n, int64_t end_ms);
/* Producer: appends n frames, ch[c][0..n) for each channel c. */
void ring_push_frames(struct sample_ring *r, const float *const *ch, size_t n, int64_t end_ms);
/* Producer: records that `missed` samples were lost before the next push. */
void ring_mark_gap(struct sample_ring *r, uint64_t missed);

/*
 * Consumer: copies up to max pairs from where it left off, waiting up to
 * timeout_ms for at least one. Returns the count (0 on timeout). *ret_gap is
 * set when samples were lost (or overwritten because the consumer fell
 * behind) before the returned ones.
 */
size_t ring_pop(struct sample_ring *r, float *v, float *i, size_t max, int timeout_ms,
                bool *ret_gap);

/*
 * Any thread: copies the newest n pairs (n <= capacity - rate, so the
 * producer cannot overwrite them while they are copied). Returns 0 with the
 * wall-clock time of the first copied sample, or -ERANGE/-ENODATA.
 */
int ring_snapshot(struct sample_ring *r, size_t n, float *v, float *i, int64_t *ret_first_ms);

/* ring_pop() and ring_snapshot() of every channel: ch[c] receives channel c's samples. */
size_t ring_pop_frames(struct sample_ring *r, float *const *ch, size_t max, int timeout_ms,
                       bool *ret_gap);
int ring_snapshot_frames(struct sample_ring *r, size_t n, float *const *ch,
                         int64_t *ret_first_ms);

/* Samples pushed and samples missed since creation. */
uint64_t ring_total(const struct sample_ring *r);
uint64_t ring_missed(const struct sample_ring *r);

#endif
