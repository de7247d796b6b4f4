/*
 * device_meta: what an operator tells the server about a device's
 * installation (migration 015): its name, site and place, the nominal
 * voltage and frequency of the network it measures, the rated current and
 * kVA of what it protects, the instrument transformers' ratios, and where it
 * sits on a Modbus bus (a unit address, and behind which 4G DTU, polled how
 * often, with which register map).
 *
 * Readers (the alarm rules, the API, the grid ports) call
 *
 *     struct device_meta m;
 *     int r = store_device_meta_get(st, device_pk, &m);   // store.h
 *     if (!r && (m.present & DM_BIT(DM_NOMINAL_VOLTAGE)))
 *         use(m.nominal_voltage);
 *
 * Every field is optional: a field is set only when its bit is in
 * m.present; unset fields read as 0 / "" and mean "not told" (a rule then
 * takes its site default). A device nobody described has present == 0.
 *
 * Numbers are kept to 6 decimal places. Units are in the names and fixed: volts (the primary side:
 * a 10 kV line measured through a PT is 10000), hertz, amperes, kVA, degrees (WGS 84), ratios as
 * primary/secondary (CT 200/5 is 40), seconds.
 *
 * Fields are a table (device_meta.c): the API parses and writes them, the
 * store binds and reads them, all from it, so a new field is one row. The
 * bounds below are checked by device_meta_check() and again by the store.
 *
 * Pure: no I/O, no allocation; the caller owns every struct.
 */
#ifndef SMARTMETER_DEVICE_META_H
#define SMARTMETER_DEVICE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Text fields' limits in characters (UTF-8, printable); buffers hold 4 bytes a character. */
#define DEVICE_META_NAME_MAX    64
#define DEVICE_META_SITE_MAX    64
#define DEVICE_META_ADDRESS_MAX 200
#define DEVICE_META_DTU_ID_MAX  64 /* printable ASCII: the DTU's registration string */
#define DEVICE_META_REGMAP_MAX  32 /* a map's name: a-z 0-9 _ - */
#define DEVICE_META_ERR_LEN     160
#define DEVICE_META_BY_MAX      64 /* a user name (USERNAME_MAX) */

enum device_meta_field {
    DM_NAME = 0,        /* text */
    DM_SITE,            /* text: groups devices (a substation, a park) */
    DM_ADDRESS,         /* text */
    DM_LATITUDE,        /* degrees, -90..90 */
    DM_LONGITUDE,       /* degrees, -180..180 */
    DM_NOMINAL_VOLTAGE, /* V, 1..1,000,000 (phase-to-neutral for 1p2w/3p4w) */
    DM_NOMINAL_HZ,      /* 50 or 60 */
    DM_RATED_CURRENT,   /* A, 0.001..1,000,000 */
    DM_RATED_KVA,       /* kVA, 0.001..10,000,000 */
    DM_CT_RATIO,        /* 1..100,000 */
    DM_PT_RATIO,        /* 1..100,000 */
    DM_MODBUS_UNIT,     /* 1..247 */
    DM_DTU_ID,          /* text, printable ASCII */
    DM_POLL_INTERVAL_S, /* s, 1..86,400 */
    DM_REGISTER_MAP,    /* a map's name */
    DM__COUNT
};
#define DM_BIT(f) (UINT32_C(1) << (f))
#define DM_ALL    (DM_BIT(DM__COUNT) - 1)

struct device_meta {
    uint32_t present; /* DM_BIT(f): field f is set */
    char name[4 * DEVICE_META_NAME_MAX + 1];
    char site[4 * DEVICE_META_SITE_MAX + 1];
    char address[4 * DEVICE_META_ADDRESS_MAX + 1];
    double latitude, longitude;
    double nominal_voltage;
    int32_t nominal_hz;
    double rated_current, rated_kva;
    double ct_ratio, pt_ratio;
    int32_t modbus_unit;
    char dtu_id[DEVICE_META_DTU_ID_MAX + 1];
    int32_t poll_interval_s;
    char register_map[DEVICE_META_REGMAP_MAX + 1];
    /* Who last changed it and when (0 / "" before any change). */
    int64_t updated_ms;
    char updated_by[DEVICE_META_BY_MAX + 1];
};

enum device_meta_type { DMT_TEXT, DMT_REAL, DMT_INT };

/* One field: its name in JSON and SQL, its type, and bounds (numbers) or length (text). */
struct device_meta_desc {
    const char *name;
    enum device_meta_type type;
    double min, max;  /* numbers, inclusive */
    size_t max_chars; /* text */
};
/* The row of field f (f < DM__COUNT). */
const struct device_meta_desc *device_meta_desc(enum device_meta_field f);
/* The field named name; -1 when none is. */
int device_meta_field_named(const char *name);

/* Field f of m as a number (DMT_REAL, DMT_INT) or text (DMT_TEXT). */
double device_meta_number(const struct device_meta *m, enum device_meta_field f);
const char *device_meta_text(const struct device_meta *m, enum device_meta_field f);
/*
 * Sets field f of m (and its bit): a number for DMT_REAL/DMT_INT (an
 * integer field takes only whole numbers), text for DMT_TEXT. Returns 0, or
 * -EINVAL with err saying what is allowed ("nominal_hz must be 50 or 60").
 */
int device_meta_set_number(struct device_meta *m, enum device_meta_field f, double v,
                           char err[DEVICE_META_ERR_LEN]);
int device_meta_set_text(struct device_meta *m, enum device_meta_field f, const char *v,
                         char err[DEVICE_META_ERR_LEN]);
/* Clears field f (its bit and value). */
void device_meta_clear(struct device_meta *m, enum device_meta_field f);
/* Every present field of m within its bounds: 0, or -EINVAL with err naming the first that is not.
 */
int device_meta_check(const struct device_meta *m, char err[DEVICE_META_ERR_LEN]);

#endif
