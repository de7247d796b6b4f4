/*
 * regmap: a meter's Modbus register map, read from a small text format, and
 * the two directions between a reading and register values: a reading to
 * registers (the Modbus TCP server answers with them) and registers to a
 * reading (a poller of standard meters stores what it reads).
 *
 * The text format (docs/modbus.md, "Register map files"), one statement a
 * line, '#' to the end of a line is a comment:
 *
 *     map sdm630            the map's name: 1..32 of a-z 0-9 _ -  (first statement)
 *     function 4            the Modbus function that reads it: 4 (input) or 3 (holding)
 *     0x0000 float32 1 V voltage_a|voltage
 *     ADDR   TYPE    SCALE UNIT FIELD[|FIELD...]
 *     extra                 the entries after it are this server's own: it
 *                           serves them, a meter of that make does not have them
 *
 * ADDR is the 0-based register address (decimal or 0x hex, 0..65535);
 * TYPE one of uint16 int16 uint32 int32 float32, the 32-bit ones high word
 * first, or with the suffix _swap low word first (bytes within a word are
 * always big-endian, as Modbus sends them); SCALE a finite non-zero number:
 * register value = field value x SCALE (a map in kWh of a field in Wh says
 * 0.001); UNIT the register's unit as a manual prints it (1..8 of A-Z a-z
 * 0-9 % _ -; "-" for none), for people and docs; FIELD a reading field by
 * its wire name (telemetry.h: "voltage_a", "energy_wh", ...), or one of the
 * server's pseudo-fields ("$age_s", "$online", "$ts_s", "$unit",
 * "$energy_total_wh", "$reactive_total_varh": enum regmap_pseudo), which
 * only the encoder fills. Alternatives joined by '|' are tried in order when
 * encoding (a single-phase reading has "voltage", not "voltage_a"); decoding
 * sets the first. Registers of two entries never overlap.
 *
 * Encoding writes what a field does not hold as "not available": NaN for
 * float32, and the SunSpec sentinels for integers (0xFFFF, 0x8000,
 * 0xFFFFFFFF, 0x80000000); registers no entry covers read 0. Decoding reads
 * those sentinels (and NaN, infinities, values out of the field's range) as
 * absent, never invents a value.
 *
 * Pure: no I/O, no logging, no allocation; the caller owns every struct.
 */
#ifndef SMARTMETER_REGMAP_H
#define SMARTMETER_REGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"

#define REGMAP_NAME_MAX    32    /* characters of a map's name */
#define REGMAP_ENTRIES_MAX 256   /* entries of one map */
#define REGMAP_ALTS_MAX    3     /* fields one entry may name */
#define REGMAP_UNIT_MAX    8     /* characters of a unit */
#define REGMAP_TEXT_MAX    65536 /* bytes of a map file */
#define REGMAP_LINE_MAX    200   /* characters of a line */
#define REGMAP_ERR_LEN     160

enum regmap_type { REGMAP_UINT16, REGMAP_INT16, REGMAP_UINT32, REGMAP_INT32, REGMAP_FLOAT32 };

/* Where an entry's value comes from. */
enum regmap_kind {
    REGMAP_REAL,    /* reading_reals[field] */
    REGMAP_COUNTER, /* reading_counters[field], in its wire unit (Wh for energy) */
    REGMAP_PSEUDO   /* enum regmap_pseudo */
};

/* What the server knows about a device besides its reading. */
enum regmap_pseudo {
    REGMAP_AGE_S,               /* seconds since the reading's ts */
    REGMAP_ONLINE,              /* 1 online, 0 offline, -1 unknown */
    REGMAP_TS_S,                /* the reading's ts, epoch seconds */
    REGMAP_UNIT,                /* the device's Modbus unit */
    REGMAP_ENERGY_TOTAL_WH,     /* energy_wh + energy_export_wh (Eastron's "total kWh") */
    REGMAP_REACTIVE_TOTAL_VARH, /* the same for reactive energy */
    REGMAP__PSEUDO_COUNT
};

struct regmap_field {
    enum regmap_kind kind;
    int index; /* enum reading_real, enum reading_counter or enum regmap_pseudo */
};

struct regmap_entry {
    uint16_t addr;
    enum regmap_type type;
    bool low_word_first;
    double scale;
    char unit[REGMAP_UNIT_MAX + 1];
    unsigned n_fields; /* 1..REGMAP_ALTS_MAX */
    struct regmap_field fields[REGMAP_ALTS_MAX];
    unsigned line;     /* in its file, for messages */
    bool server_extra; /* after 'extra': served here, never read from a meter */
};

struct regmap {
    char name[REGMAP_NAME_MAX + 1];
    int function;       /* 3 or 4 */
    uint32_t end;       /* one past the highest register an entry covers */
    uint32_t meter_end; /* the same for the entries a meter has (those before 'extra') */
    size_t n;           /* entries, ascending by addr */
    struct regmap_entry e[REGMAP_ENTRIES_MAX];
};

/* Registers one entry of type t covers: 1 or 2. */
unsigned regmap_type_words(enum regmap_type t);

/*
 * Parses text[0..len) (need not be NUL-terminated; at most REGMAP_TEXT_MAX
 * bytes) into *ret. Returns 0, or -EINVAL with err naming the line and what
 * is wrong ("line 7: unknown field 'voltag'"); *ret is then unspecified.
 */
int regmap_parse(const char *text, size_t len, struct regmap *ret, char err[REGMAP_ERR_LEN]);

/*
 * The maps compiled into the binary (server/regmap/maps/NAME.map), parsed
 * once on first use: "sdm630", "generic", "dtsu666". NULL when there is no
 * map of that name. Thread-safe; the map lives as long as the process.
 */
const struct regmap *regmap_builtin(const char *name);
/* The built-in maps' names, NULL-terminated. */
extern const char *const regmap_builtin_names[];

/* What the encoder takes besides the reading (pseudo-fields). */
struct regmap_context {
    int64_t now_ms;
    int online; /* 1, 0, -1 unknown */
    int unit;   /* the device's Modbus unit, 0 when none */
};

/*
 * Writes the registers start..start+n-1 (start + n <= 65536) from r (NULL:
 * no reading, every field absent) into regs[0..n): each entry's words that
 * fall into the window, gaps 0. Never fails.
 */
void regmap_encode(const struct regmap *m, const struct reading *r, const struct regmap_context *c,
                   uint16_t start, uint16_t *regs, size_t n);

/*
 * Sets in *r (whose other fields it keeps) every field of an entry whose
 * registers lie entirely in regs[0..n), the values of start..start+n-1:
 * the first of its fields, value / scale, a counter rounded to its stored
 * unit. Sentinels, NaN, infinities and values outside the field's accepted
 * range (telemetry.h tables) are skipped. Pseudo-fields are ignored. A
 * poller of meters reads only the entries before 'extra' (below meter_end).
 * Returns how many fields it set.
 */
size_t regmap_decode(const struct regmap *m, uint16_t start, const uint16_t *regs, size_t n,
                     struct reading *r);

#endif
