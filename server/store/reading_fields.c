#include "reading_fields.h"

#include <string.h>

/* The phase a field name ends with ("_a"), or 0. */
static char name_phase(const char *name)
{
    size_t len = strlen(name);
    if (len < 3 || name[len - 2] != '_')
        return 0;
    char p = name[len - 1];
    return p == 'a' || p == 'b' || p == 'c' ? p : 0;
}

char reading_real_phase(enum reading_real f)
{
    return name_phase(reading_reals[f].json);
}

char reading_counter_phase(enum reading_counter c)
{
    /* "energy_a_wh": the phase stands before the unit */
    const char *name = reading_counters[c].json;
    size_t len = strlen(name);
    if (len > 5 && strcmp(name + len - 3, "_wh") == 0 && name[len - 5] == '_') {
        char p = name[len - 4];
        return p == 'a' || p == 'b' || p == 'c' ? p : 0;
    }
    return name_phase(name);
}

static bool in_group(enum reading_fields g, char phase, bool single)
{
    switch (g) {
    case READING_FIELDS_ALL:
        return true;
    case READING_FIELDS_SINGLE:
        return single;
    case READING_FIELDS_SYSTEM:
        return phase == 0;
    case READING_FIELDS_PHASE_A:
        return phase == 'a';
    case READING_FIELDS_PHASE_B:
        return phase == 'b';
    case READING_FIELDS_PHASE_C:
        return phase == 'c';
    default:
        return false;
    }
}

uint64_t reading_fields_reals(enum reading_fields g)
{
    uint64_t m = 0;
    for (int f = 0; f < RR__COUNT; f++)
        if (in_group(g, reading_real_phase((enum reading_real)f), f <= RR_PHASE_DEG))
            m |= UINT64_C(1) << f;
    return m;
}

uint64_t reading_fields_counters(enum reading_fields g)
{
    uint64_t m = 0;
    for (int c = 0; c < RC__COUNT; c++)
        if (in_group(g, reading_counter_phase((enum reading_counter)c), c <= RC_SAMPLES_DROPPED))
            m |= UINT64_C(1) << c;
    return m;
}

enum reading_fields reading_fields_phase(char phase)
{
    return phase == 'b'   ? READING_FIELDS_PHASE_B
           : phase == 'c' ? READING_FIELDS_PHASE_C
                          : READING_FIELDS_PHASE_A;
}
