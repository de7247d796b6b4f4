#include "device_meta.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

static const struct device_meta_desc fields[DM__COUNT] = {
    [DM_NAME] = {"name", DMT_TEXT, 0, 0, DEVICE_META_NAME_MAX},
    [DM_SITE] = {"site", DMT_TEXT, 0, 0, DEVICE_META_SITE_MAX},
    [DM_ADDRESS] = {"address", DMT_TEXT, 0, 0, DEVICE_META_ADDRESS_MAX},
    [DM_LATITUDE] = {"latitude", DMT_REAL, -90, 90, 0},
    [DM_LONGITUDE] = {"longitude", DMT_REAL, -180, 180, 0},
    [DM_NOMINAL_VOLTAGE] = {"nominal_voltage", DMT_REAL, 1, 1e6, 0},
    [DM_NOMINAL_HZ] = {"nominal_hz", DMT_INT, 50, 60, 0},
    [DM_RATED_CURRENT] = {"rated_current", DMT_REAL, 0.001, 1e6, 0},
    [DM_RATED_KVA] = {"rated_kva", DMT_REAL, 0.001, 1e7, 0},
    [DM_CT_RATIO] = {"ct_ratio", DMT_REAL, 1, 1e5, 0},
    [DM_PT_RATIO] = {"pt_ratio", DMT_REAL, 1, 1e5, 0},
    [DM_MODBUS_UNIT] = {"modbus_unit", DMT_INT, 1, 247, 0},
    [DM_DTU_ID] = {"dtu_id", DMT_TEXT, 0, 0, DEVICE_META_DTU_ID_MAX},
    [DM_POLL_INTERVAL_S] = {"poll_interval_s", DMT_INT, 1, 86400, 0},
    [DM_REGISTER_MAP] = {"register_map", DMT_TEXT, 0, 0, DEVICE_META_REGMAP_MAX},
};

const struct device_meta_desc *device_meta_desc(enum device_meta_field f)
{
    return (unsigned)f < DM__COUNT ? &fields[f] : NULL;
}

int device_meta_field_named(const char *name)
{
    for (int f = 0; f < DM__COUNT; f++)
        if (strcmp(fields[f].name, name) == 0)
            return f;
    return -1;
}

/* The storage of a text field, and its size. */
static char *text_slot(struct device_meta *m, enum device_meta_field f, size_t *ret_size)
{
    switch (f) {
    case DM_NAME:
        *ret_size = sizeof(m->name);
        return m->name;
    case DM_SITE:
        *ret_size = sizeof(m->site);
        return m->site;
    case DM_ADDRESS:
        *ret_size = sizeof(m->address);
        return m->address;
    case DM_DTU_ID:
        *ret_size = sizeof(m->dtu_id);
        return m->dtu_id;
    case DM_REGISTER_MAP:
        *ret_size = sizeof(m->register_map);
        return m->register_map;
    default:
        *ret_size = 0;
        return NULL;
    }
}

static double *real_slot(struct device_meta *m, enum device_meta_field f)
{
    switch (f) {
    case DM_LATITUDE:
        return &m->latitude;
    case DM_LONGITUDE:
        return &m->longitude;
    case DM_NOMINAL_VOLTAGE:
        return &m->nominal_voltage;
    case DM_RATED_CURRENT:
        return &m->rated_current;
    case DM_RATED_KVA:
        return &m->rated_kva;
    case DM_CT_RATIO:
        return &m->ct_ratio;
    case DM_PT_RATIO:
        return &m->pt_ratio;
    default:
        return NULL;
    }
}

static int32_t *int_slot(struct device_meta *m, enum device_meta_field f)
{
    switch (f) {
    case DM_NOMINAL_HZ:
        return &m->nominal_hz;
    case DM_MODBUS_UNIT:
        return &m->modbus_unit;
    case DM_POLL_INTERVAL_S:
        return &m->poll_interval_s;
    default:
        return NULL;
    }
}

double device_meta_number(const struct device_meta *m, enum device_meta_field f)
{
    struct device_meta *mm = (struct device_meta *)m; /* the slots are only read here */
    const double *d = real_slot(mm, f);
    const int32_t *i = int_slot(mm, f);
    return d ? *d : i ? (double)*i : 0;
}

const char *device_meta_text(const struct device_meta *m, enum device_meta_field f)
{
    size_t size;
    const char *t = text_slot((struct device_meta *)m, f, &size);
    return t ? t : "";
}

static int number_ok(enum device_meta_field f, double v, char err[DEVICE_META_ERR_LEN])
{
    const struct device_meta_desc *d = &fields[f];
    if (f == DM_NOMINAL_HZ) {
        if (v == 50 || v == 60)
            return 0;
        snprintf(err, DEVICE_META_ERR_LEN, "nominal_hz must be 50 or 60");
        return -EINVAL;
    }
    if (!isfinite(v) || v < d->min || v > d->max || (d->type == DMT_INT && v != floor(v))) {
        snprintf(err, DEVICE_META_ERR_LEN, "%s must be %s from %.10g to %.10g", d->name,
                 d->type == DMT_INT ? "an integer" : "a number", d->min, d->max);
        return -EINVAL;
    }
    return 0;
}

/* Well-formed printable UTF-8 (ASCII for a DTU id, a-z 0-9 _ - for a map) of 1..max_chars. */
static int text_ok(enum device_meta_field f, const char *v, char err[DEVICE_META_ERR_LEN])
{
    const struct device_meta_desc *d = &fields[f];
    size_t len = strlen(v), chars = 0;
    bool ok = len > 0 && len <= 4 * d->max_chars;
    for (size_t k = 0; ok && k < len; k++) {
        unsigned char c = (unsigned char)v[k];
        chars += (c & 0xC0) != 0x80;
        if (f == DM_DTU_ID)
            ok = c > 0x20 && c < 0x7F;
        else if (f == DM_REGISTER_MAP)
            ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }
    ok = ok && chars <= d->max_chars;
    if (ok && f != DM_DTU_ID && f != DM_REGISTER_MAP) {
        char clean[4 * DEVICE_META_ADDRESS_MAX + 1];
        utf8_clean(v, clean, sizeof(clean));
        ok = strcmp(clean, v) == 0; /* no control characters, nothing malformed */
    }
    if (ok)
        return 0;
    snprintf(err, DEVICE_META_ERR_LEN, "%s must be 1 to %zu %s", d->name, d->max_chars,
             f == DM_DTU_ID         ? "printable ASCII characters (no spaces)"
             : f == DM_REGISTER_MAP ? "of a-z 0-9 _ -"
                                    : "printable UTF-8 characters");
    return -EINVAL;
}

int device_meta_set_number(struct device_meta *m, enum device_meta_field f, double v,
                           char err[DEVICE_META_ERR_LEN])
{
    if ((unsigned)f >= DM__COUNT || fields[f].type == DMT_TEXT) {
        snprintf(err, DEVICE_META_ERR_LEN, "%s is text",
                 (unsigned)f < DM__COUNT ? fields[f].name : "?");
        return -EINVAL;
    }
    int r = number_ok(f, v, err);
    if (r)
        return r;
    double *d = real_slot(m, f);
    /* Kept to 6 decimals (a microvolt, 0.1 m of latitude): what the API writes back
       (jsonw_double) is then exactly what is stored. */
    if (d)
        *d = (double)llround(v * 1e6) / 1e6;
    else
        *int_slot(m, f) = (int32_t)v;
    m->present |= DM_BIT(f);
    return 0;
}

int device_meta_set_text(struct device_meta *m, enum device_meta_field f, const char *v,
                         char err[DEVICE_META_ERR_LEN])
{
    if ((unsigned)f >= DM__COUNT || fields[f].type != DMT_TEXT) {
        snprintf(err, DEVICE_META_ERR_LEN, "%s is a number",
                 (unsigned)f < DM__COUNT ? fields[f].name : "?");
        return -EINVAL;
    }
    int r = text_ok(f, v, err);
    if (r)
        return r;
    size_t size;
    char *t = text_slot(m, f, &size);
    snprintf(t, size, "%s", v);
    m->present |= DM_BIT(f);
    return 0;
}

void device_meta_clear(struct device_meta *m, enum device_meta_field f)
{
    if ((unsigned)f >= DM__COUNT)
        return;
    size_t size;
    char *t = text_slot(m, f, &size);
    double *d = real_slot(m, f);
    int32_t *i = int_slot(m, f);
    if (t)
        t[0] = '\0';
    if (d)
        *d = 0;
    if (i)
        *i = 0;
    m->present &= ~DM_BIT(f);
}

int device_meta_check(const struct device_meta *m, char err[DEVICE_META_ERR_LEN])
{
    if (m->present & ~DM_ALL) {
        snprintf(err, DEVICE_META_ERR_LEN, "unknown metadata fields");
        return -EINVAL;
    }
    for (int f = 0; f < DM__COUNT; f++) {
        if (!(m->present & DM_BIT(f)))
            continue;
        int r = fields[f].type == DMT_TEXT
                    ? text_ok((enum device_meta_field)f,
                              device_meta_text(m, (enum device_meta_field)f), err)
                    : number_ok((enum device_meta_field)f,
                                device_meta_number(m, (enum device_meta_field)f), err);
        if (r)
            return r;
    }
    return 0;
}
