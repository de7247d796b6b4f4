/*
 * telemetry: the reading, and its wire format (SPEC.md "MQTT"), shared by
 * meterd (which encodes it) and meter-server (which decodes it from MQTT and
 * HTTP, stores it and serves it).
 *
 * A reading's measured quantities are described by two tables: real values
 * (voltage, current, power, ...) and integer counters (energy in milli-units,
 * boot). Parsing, validation, storage columns and API output all walk these
 * tables, so a new quantity is one line here plus a migration.
 *
 * Ownership: the decoders fill the caller's arrays and never keep the
 * payload; the encoder appends to the caller's jsonw. No allocation but
 * jansson's parse tree, released before a decoder returns.
 */
#ifndef SMARTMETER_WIRE_TELEMETRY_H
#define SMARTMETER_WIRE_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "topic.h"

enum reading_real {
    RR_VOLTAGE,
    RR_CURRENT,
    RR_POWER_W,
    RR_REACTIVE_VAR,
    RR_APPARENT_VA,
    RR_PF,
    RR_FREQ_HZ,
    RR_THD_V,
    RR_THD_I,
    /* per-interval extremes of the 10-cycle values, and the V-I angle */
    RR_VOLTAGE_MIN,
    RR_VOLTAGE_MAX,
    RR_CURRENT_MIN,
    RR_CURRENT_MAX,
    RR_POWER_W_MIN,
    RR_POWER_W_MAX,
    RR_FREQ_HZ_MIN,
    RR_FREQ_HZ_MAX,
    RR_PHASE_DEG,
    /* three-phase wiring (docs/protocol.md "Three-phase readings"): per phase a, b, c ... */
    RR_VOLTAGE_A,
    RR_VOLTAGE_B,
    RR_VOLTAGE_C,
    RR_CURRENT_A,
    RR_CURRENT_B,
    RR_CURRENT_C,
    RR_POWER_W_A,
    RR_POWER_W_B,
    RR_POWER_W_C,
    RR_REACTIVE_VAR_A,
    RR_REACTIVE_VAR_B,
    RR_REACTIVE_VAR_C,
    RR_APPARENT_VA_A,
    RR_APPARENT_VA_B,
    RR_APPARENT_VA_C,
    RR_PF_A,
    RR_PF_B,
    RR_PF_C,
    RR_THD_V_A,
    RR_THD_V_B,
    RR_THD_V_C,
    RR_THD_I_A,
    RR_THD_I_B,
    RR_THD_I_C,
    RR_PHASE_DEG_A,
    RR_PHASE_DEG_B,
    RR_PHASE_DEG_C,
    /* ... the fundamental voltages' angles to phase a's, line-to-line voltages, the neutral
       current, unbalance (negative and zero sequence over positive, %), maximum demand */
    RR_ANGLE_V_B,
    RR_ANGLE_V_C,
    RR_VOLTAGE_AB,
    RR_VOLTAGE_BC,
    RR_VOLTAGE_CA,
    RR_CURRENT_N,
    RR_UNBALANCE_U2,
    RR_UNBALANCE_U0,
    RR_UNBALANCE_I2,
    RR_DEMAND_W,
    RR_DEMAND_MAX_W,
    RR__COUNT
};

enum reading_counter {
    RC_ENERGY_IMPORT,   /* active energy imported, mWh; "energy_wh" on the wire */
    RC_ENERGY_EXPORT,   /* active energy exported, mWh; "energy_export_wh" */
    RC_BOOT,            /* boot counter of the meter; "boot" */
    RC_REACTIVE_IMPORT, /* reactive energy while current lags (Q > 0), mvarh; "reactive_energy_varh"
                           on the wire */
    RC_REACTIVE_EXPORT, /* reactive energy while current leads (Q < 0), mvarh */
    RC_SAMPLES_DROPPED, /* samples the meter missed since it started; "samples_dropped" */
    RC_ENERGY_IMPORT_A, /* three-phase: active energy imported per phase, mWh; "energy_a_wh" ... */
    RC_ENERGY_IMPORT_B,
    RC_ENERGY_IMPORT_C,
    RC_DEMAND_MAX_TS, /* when this month's maximum demand was reached, epoch ms */
    RC__COUNT
};

/* Text quantities, each one of a few fixed values (docs/protocol.md "Three-phase readings"). */
enum reading_label {
    RL_WIRING,   /* "wiring": "1p2w", "3p4w" or "3p3w" */
    RL_SEQUENCE, /* "sequence": the phase order the meter sees, "abc" or "acb" (wrong) */
    RL_RELAY,    /* "relay": the load relay, "on" or "off" (docs/protocol.md "Relay") */
    RL__COUNT
};

struct reading_label_desc {
    const char *json;
    const char *column;
    const char *const *values; /* NULL-terminated; a reading holds an index + 1 */
    const char *choices;       /* the values as an error message lists them */
};

struct reading_real_desc {
    const char *json;   /* key on the wire and in the API */
    const char *column; /* column in the readings table */
    double min, max;    /* accepted range, inclusive */
    bool required;
};

struct reading_counter_desc {
    const char *json;
    const char *column;
    int64_t scale; /* stored units per wire unit: 1000 for Wh -> mWh */
    int64_t max;   /* in wire units */
};

extern const struct reading_real_desc reading_reals[RR__COUNT];
extern const struct reading_counter_desc reading_counters[RC__COUNT];
extern const struct reading_label_desc reading_labels[RL__COUNT];

_Static_assert(RR__COUNT <= 64 && RC__COUNT <= 64, "the presence masks hold 64 fields");

#define READING_SEQ_MAX INT64_MAX

struct reading {
    uint64_t seq;
    int64_t ts_ms;
    bool has_seq;             /* false only for HTTP uploads without one: the server assigns it */
    uint64_t real_present;    /* bit i set: real[i] holds a value */
    uint64_t counter_present; /* bit i set: counter[i] holds a value */
    double real[RR__COUNT];
    int64_t counter[RC__COUNT]; /* in stored units (mWh for energy) */
    uint8_t label[RL__COUNT];   /* 0: absent; k: reading_labels[l].values[k - 1] */
};

static inline bool reading_has_real(const struct reading *r, enum reading_real f)
{
    return r->real_present & (UINT64_C(1) << f);
}
static inline bool reading_has_counter(const struct reading *r, enum reading_counter c)
{
    return r->counter_present & (UINT64_C(1) << c);
}
static inline void reading_set_real(struct reading *r, enum reading_real f, double v)
{
    r->real[f] = v;
    r->real_present |= UINT64_C(1) << f;
}
static inline void reading_set_counter(struct reading *r, enum reading_counter c, int64_t v)
{
    r->counter[c] = v;
    r->counter_present |= UINT64_C(1) << c;
}
/* The label's text, or NULL when the reading has none. */
static inline const char *reading_label_text(const struct reading *r, enum reading_label l)
{
    return r->label[l] ? reading_labels[l].values[r->label[l] - 1] : NULL;
}
/* Sets a label by its text; returns 0, or -EINVAL when text is not one of its values. */
int reading_set_label(struct reading *r, enum reading_label l, const char *text);

#define TELEMETRY_ERR_LEN 160
/* Nesting a telemetry payload may have: an array of flat objects. */
#define TELEMETRY_MAX_DEPTH 4

struct telemetry_opts {
    const char *device_id; /* the device the payload must belong to */
    int64_t now_ms;        /* for the "not in the future" check and a missing ts */
    int64_t max_future_ms; /* how far ahead of now_ms a ts may be */
    bool require_seq_ts;   /* MQTT: both required; HTTP: optional */
    bool require_device_id;
    size_t max_items; /* cap on an array payload */
};

struct telemetry_result {
    size_t n_valid;
    size_t n_invalid;
    char first_error[TELEMETRY_ERR_LEN]; /* names the item and field */
};

/*
 * Decodes a payload (one object or an array of them) into out[0..max).
 * Valid items are written in order; invalid items are counted and the first
 * problem is described. Returns 0 when the document itself was usable
 * (even if some items were invalid), or -EINVAL when it was not JSON, too
 * deep, not an object/array, or larger than max_items (first_error says why).
 * Without require_seq_ts a missing seq leaves has_seq false, and a missing
 * ts becomes now_ms.
 */
int telemetry_decode(const char *payload, size_t len, const struct telemetry_opts *opts,
                     struct reading *out, size_t max, struct telemetry_result *ret);

struct json_t;
/* The same for an already parsed document (jansson's json_t). */
int telemetry_decode_json(const struct json_t *root, const struct telemetry_opts *opts,
                          struct reading *out, size_t max, struct telemetry_result *ret);

/*
 * The payloads meters send, without a JSON tree (telemetry_fast.c): returns 1 with out[]
 * and *ret exactly as telemetry_decode() would give them when the payload is one object
 * or an array of objects whose members are all fields of a reading with plain values and
 * every reading is valid; 0, touching nothing the caller reads, for anything else
 * (unknown members, escapes, errors of any kind), which telemetry_decode() must then
 * decode and describe.
 */
int telemetry_decode_fast(const char *payload, size_t len, const struct telemetry_opts *opts,
                          struct reading *out, size_t max, struct telemetry_result *ret);

/*
 * The "seq" of one reading of a parsed payload (an element of the array, or
 * the object) when it is usable, a non-negative integer, even if the reading
 * is otherwise invalid: such readings can be acknowledged as rejected.
 */
bool telemetry_item_seq(const struct json_t *item, uint64_t *ret_seq);

/*
 * Writes the measured quantities a reading holds as "key":value members of
 * the object w is in (energy in Wh with up to three decimals); the API's
 * readings carry them too.
 */
void telemetry_encode_fields(struct jsonw *w, const struct reading *r);

/* Writes one reading as a wire object (ts as RFC 3339 with ms). device_id may be NULL. */
void telemetry_encode(struct jsonw *w, const struct reading *r, const char *device_id);

/*
 * Appends the payload of one meters/<id>/telemetry message to out: r[0] as
 * one object (as_array false, n 1: a live reading) or r[0..n) as one array
 * (a backlog). Returns 0, -EINVAL for n 0 or several readings without
 * as_array, or the writer's error (-E2BIG past out's cap, -ENOMEM).
 */
int telemetry_encode_payload(const struct reading *r, size_t n, bool as_array, struct dynbuf *out);

#endif
