/*
 * scl: the SCL (IEC 61850-6) description of what the MMS port serves, for
 * `meter-server scl export`: one IED "SMARTMETER" whose logical devices are
 * the devices the port shows (each LDevice's ldName is its MMS domain), and
 * the data type templates of model.h's logical nodes. An engineering tool or
 * a client configured from it sees the same names as GetNameList.
 */
#ifndef SMARTMETER_MMS_SCL_H
#define SMARTMETER_MMS_SCL_H

#include <stddef.h>
#include <stdio.h>

#include "services.h"
#include "store.h"

/* Writes the SCL document for devs (as a provider lists them). 0, or -EIO when f fails. */
int mms_scl_write(FILE *f, const struct mms_device *devs, size_t n);

/*
 * Lists the devices of s as the port shows them (store_provider.h's rules)
 * and writes their document to f. s stays the caller's. 0, a store error
 * (store_errmsg(s) says which), -ENOMEM or -EIO.
 */
int mms_scl_export(struct store *s, FILE *f);

#endif
