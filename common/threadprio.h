/*
 * threadprio: background threads give way to interactive ones.
 *
 * A thread that does bulk work (storing telemetry, billing) lowers its own
 * scheduling priority (its nice value; Linux schedules threads one by one),
 * so that on a busy machine a request a person waits for runs first and the
 * bulk work takes the time left over. Raising a nice value needs no privilege.
 */
#ifndef SMARTMETER_THREADPRIO_H
#define SMARTMETER_THREADPRIO_H

/* Lowers the calling thread's priority to nice value nice (0..19; one already at or past it,
   and 0, leave it alone). 0, -EINVAL or -errno. */
int thread_set_nice(int nice);

#endif
