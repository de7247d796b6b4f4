/*
 * model: the IEC 61850 data model the MMS server shows, and how its values
 * come from a device's latest reading (docs/iec61850.md).
 *
 * Each device is one logical device, the MMS domain "SMARTMETER_<id>", with
 * the logical nodes LLN0, LPHD1, MHAI1, MMTR1 and MMXU1. Each logical node is
 * one MMS named variable whose components are its functional constraints
 * (MX, ST) holding the data objects, as IEC 61850-8-1 maps them; names below
 * a logical node join components with '$' (MMXU1$MX$TotW$mag$f).
 *
 * The tree is static and its children are kept in name order, so walking it
 * depth-first lists every name in the collating order GetNameList's
 * continueAfter relies on. Nothing here allocates, locks or does I/O.
 */
#ifndef SMARTMETER_MMS_MODEL_H
#define SMARTMETER_MMS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ber.h"
#include "telemetry.h"

/* MMS identifiers (and so domain names) are at most 64 characters. */
#define MMS_ID_MAX        64
#define MMS_DOMAIN_PREFIX "SMARTMETER_"
/* The longest name under a domain (MMXU1$MX$PhV$phsA$cVal$mag$f is 28). */
#define MMS_ITEM_MAX MMS_ID_MAX

enum mms_kind {
    MK_STRUCT,
    MK_FLOAT,
    MK_QUALITY,
    MK_TIME,
    MK_ENUM,
    MK_INT64,
    MK_BOOL,
    MK_VSTRING,  /* visible string of at most size characters */
    MK_UNSIGNED, /* unsigned integer of size bits */
    MK_BITS      /* bit string of size bits */
};

/* Where a data object's value comes from. */
enum mms_src {
    S_NONE = 0,
    S_TOTW,
    S_TOTVAR,
    S_TOTVA,
    S_TOTPF,
    S_HZ,
    S_PHV_A,
    S_PHV_B,
    S_PHV_C,
    S_A_A,
    S_A_B,
    S_A_C,
    S_THDV_A,
    S_THDV_B,
    S_THDV_C,
    S_THDA_A,
    S_THDA_B,
    S_THDA_C,
    S_TOTWH,
    S_TOTVARH,
    S_MODE_ON,   /* Mod, Beh: on */
    S_HEALTH,    /* Health, PhyHealth: ok when online, warning when not */
    S_PROXY,     /* Proxy: false (the device is itself, not a proxy) */
    S_CTL_MODEL, /* Mod's ctlModel: 0, status-only */
    /* The report control block's attributes (report.h): this association's values. */
    S_RCB_RPTID,
    S_RCB_RPTENA,
    S_RCB_RESV,
    S_RCB_DATSET,
    S_RCB_CONFREV,
    S_RCB_OPTFLDS,
    S_RCB_BUFTM,
    S_RCB_SQNUM,
    S_RCB_TRGOPS,
    S_RCB_INTGPD,
    S_RCB_GI,
    S__COUNT
};

struct mms_node {
    const char *name;
    enum mms_kind kind;
    const struct mms_node *kids; /* MK_STRUCT: its components, in name order */
    unsigned n_kids;
    enum mms_src src; /* set on a data object: its leaves take their value from here */
    unsigned size;    /* MK_VSTRING: characters; MK_UNSIGNED, MK_BITS: bits */
};

struct mms_rcb;

/* What a data object shows: the device's latest reading and whether it is online. */
struct mms_values {
    const struct reading *reading; /* NULL when the device has none yet */
    bool online;
    const char *domain;        /* the logical device's MMS domain */
    const struct mms_rcb *rcb; /* this association's report control block there, or NULL */
};

/*
 * The one data set of every logical device (an MMS named variable list of its
 * domain): the measurements of SPEC.md, as names under the domain.
 */
#define MMS_DATASET "LLN0$Meas"
extern const char *const mms_dataset_members[];
extern const unsigned mms_n_dataset_members;

/* The logical nodes of every logical device, in name order. */
extern const struct mms_node mms_lns[];
extern const unsigned mms_n_lns;

/*
 * The node a name under a domain designates ("MMXU1", "MMXU1$MX$TotW$mag"),
 * with the data object source in force there (S_NONE above data objects).
 * NULL when there is no such name.
 */
const struct mms_node *mms_model_find(const char *item, enum mms_src *ret_src);

/* The report control block (report.h) under LLN0. */
#define MMS_RCB_ITEM "LLN0$RP$urcbMeas01"

/*
 * Every name under a domain, depth-first, in collating order (a structure's
 * components are listed sorted, whatever their order in the structure): calls cb with
 * each until it returns non-zero (which is returned). Names longer than
 * MMS_ITEM_MAX do not occur.
 */
int mms_model_walk(int (*cb)(const char *name, void *ctx), void *ctx);

/* Writes the MMS TypeDescription of a node (IEC 61850-8-1's mapping of its type). */
void mms_model_type(struct ber_writer *w, const struct mms_node *n);

/* Writes the MMS Data of a node from v; src is what mms_model_find() gave. */
void mms_model_data(struct ber_writer *w, const struct mms_node *n, enum mms_src src,
                    const struct mms_values *v);

/*
 * The domain name of a device id: MMS_DOMAIN_PREFIX + the id, with '-', '.'
 * and ':' (allowed in device ids, not in MMS identifiers) as '_'. -ENAMETOOLONG
 * when it would pass MMS_ID_MAX (such a device is not shown).
 */
int mms_domain_name(const char *device_id, char ret[MMS_ID_MAX + 1]);

/* The value of a source as a float, and whether the reading holds it (tests, the model). */
bool mms_src_value(enum mms_src src, const struct reading *r, double *ret);

#endif
