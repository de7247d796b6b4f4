/*
 * mms: the server's IEC 61850 MMS port (mms_listen; docs/iec61850.md).
 * Read-only: a client associates, lists the logical devices (one per meter)
 * and their variables, asks their types and reads measurements from each
 * device's latest stored reading.
 *
 * One thread runs a poll loop over at most MMS_MAX_CONNECTIONS clients with
 * non-blocking sockets; each holds its input (one TPKT at most) and its
 * pending output (capped: a client that does not read is dropped). A client
 * that has not associated within MMS_ASSOCIATE_S or stays silent for
 * MMS_IDLE_S is disconnected. The thread keeps one store connection of its
 * own (store_source) for the device list, refreshed at most once a second,
 * and each Read's latest readings.
 *
 * Input that does not parse at any layer closes only that connection; each
 * end is counted by reason (mms_get_stats) and logged at most once a minute
 * per reason.
 *
 * Thread safety: mms_get_stats() from any thread; start and stop from one.
 */
#ifndef SMARTMETER_MMS_H
#define SMARTMETER_MMS_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "store.h"

#define MMS_MAX_CONNECTIONS 64
#define MMS_ASSOCIATE_S     10
#define MMS_IDLE_S          300

struct mms_options {
    const char *listen;     /* HOST:PORT (port 0: any free port, see mms_port()) */
    const char *allow;      /* NULL or "": any client; else a comma list of addresses and CIDRs */
    struct store_source db; /* copied */
};

struct mms_stats {
    uint64_t connections; /* open now */
    uint64_t accepted;
    uint64_t refused_allow, refused_busy;
    uint64_t associations; /* associated (Initiate answered) */
    uint64_t requests, rejects;
    uint64_t ended[MMS_END__COUNT]; /* by conn.h's reason; MMS_END_NONE: the TCP close, a timeout */
    uint64_t timeouts;
    uint64_t reports; /* InformationReports sent */
};

struct mms_server;

/*
 * Checks listen (HOST:PORT, the host resolvable) and allow (each item an
 * IPv4 or IPv6 address with an optional /prefix). 0, or -EINVAL with err
 * naming the option and the bad part.
 */
int mms_check(const char *listen, const char *allow, char *err, size_t errlen);

/* Binds, opens the store and starts the thread: 0 or -errno with err. */
int mms_start(const struct mms_options *o, struct mms_server **ret, char *err, size_t errlen);
int mms_port(const struct mms_server *m);
void mms_get_stats(struct mms_server *m, struct mms_stats *ret); /* zeros for NULL */
/* A word for an end reason of mms_stats.ended ("released", "malformed" ...). */
const char *mms_end_name(enum mms_end why);
/* Stops the thread, closes every connection and frees everything. NULL is fine. */
void mms_stop(struct mms_server *m);

/* --- the parts loop.c uses, apart for the tests --------------------------------------------- */

/* An allow-list: up to MMS_ALLOW_MAX entries. */
#define MMS_ALLOW_MAX 64
struct mms_allow {
    unsigned n;
    struct {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        unsigned prefix;
    } e[MMS_ALLOW_MAX];
};
/* Parses a comma list ("" or NULL: empty, which allows all). 0 or -EINVAL with err. */
int mms_allow_parse(const char *spec, struct mms_allow *ret, char *err, size_t errlen);
/* Whether a peer (a sockaddr) may connect: always with an empty list. */
struct sockaddr;
bool mms_allow_check(const struct mms_allow *a, const struct sockaddr *peer);

#endif
