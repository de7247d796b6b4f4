/*
 * The SCL document of scl.h. The templates are written by hand next to
 * model.c's tree (tests/integration/test_mms.py checks that every data
 * attribute here is a name the server lists, and the other way round).
 */
#include "scl.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "model.h"
#include "store_provider.h"

static const char header[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<SCL xmlns=\"http://www.iec.ch/61850/2003/SCL\" version=\"2007\" revision=\"B\" "
    "release=\"4\">\n"
    "  <Header id=\"smartmeter\" version=\"1\" revision=\"1\" toolID=\"meter-server\" "
    "nameStructure=\"IEDName\"/>\n"
    "  <IED name=\"SMARTMETER\" manufacturer=\"" MMS_VENDOR "\" type=\"" MMS_MODEL "\" "
    "desc=\"read-only: each meter a logical device\">\n"
    "    <Services>\n"
    "      <GetDirectory/>\n"
    "      <GetDataObjectDefinition/>\n"
    "      <DataObjectDirectory/>\n"
    "      <ConfLNs fixPrefix=\"true\" fixLnInst=\"true\"/>\n"
    "    </Services>\n"
    "    <AccessPoint name=\"AP1\">\n"
    "      <Server>\n"
    "        <Authentication none=\"true\"/>\n";

static const char ldevice[] =
    "          <LN lnClass=\"LPHD\" inst=\"1\" prefix=\"\" lnType=\"SM_LPHD\"/>\n"
    "          <LN lnClass=\"MHAI\" inst=\"1\" prefix=\"\" lnType=\"SM_MHAI\"/>\n"
    "          <LN lnClass=\"MMTR\" inst=\"1\" prefix=\"\" lnType=\"SM_MMTR\"/>\n"
    "          <LN lnClass=\"MMXU\" inst=\"1\" prefix=\"\" lnType=\"SM_MMXU\"/>\n";

static const char templates[] =
    "      </Server>\n"
    "    </AccessPoint>\n"
    "  </IED>\n"
    "  <DataTypeTemplates>\n"
    "    <LNodeType id=\"SM_LLN0\" lnClass=\"LLN0\">\n"
    "      <DO name=\"Mod\" type=\"SM_ENC_Mod\"/>\n"
    "      <DO name=\"Beh\" type=\"SM_ENS_Beh\"/>\n"
    "      <DO name=\"Health\" type=\"SM_ENS_Health\"/>\n"
    "    </LNodeType>\n"
    "    <LNodeType id=\"SM_LPHD\" lnClass=\"LPHD\">\n"
    "      <DO name=\"PhyHealth\" type=\"SM_ENS_Health\"/>\n"
    "      <DO name=\"Proxy\" type=\"SM_SPS\"/>\n"
    "    </LNodeType>\n"
    "    <LNodeType id=\"SM_MHAI\" lnClass=\"MHAI\">\n"
    "      <DO name=\"ThdPhV\" type=\"SM_WYE\"/>\n"
    "      <DO name=\"ThdA\" type=\"SM_WYE\"/>\n"
    "    </LNodeType>\n"
    "    <LNodeType id=\"SM_MMTR\" lnClass=\"MMTR\">\n"
    "      <DO name=\"TotVArh\" type=\"SM_BCR\"/>\n"
    "      <DO name=\"TotWh\" type=\"SM_BCR\"/>\n"
    "    </LNodeType>\n"
    "    <LNodeType id=\"SM_MMXU\" lnClass=\"MMXU\">\n"
    "      <DO name=\"TotW\" type=\"SM_MV\"/>\n"
    "      <DO name=\"TotVAr\" type=\"SM_MV\"/>\n"
    "      <DO name=\"TotVA\" type=\"SM_MV\"/>\n"
    "      <DO name=\"TotPF\" type=\"SM_MV\"/>\n"
    "      <DO name=\"Hz\" type=\"SM_MV\"/>\n"
    "      <DO name=\"PhV\" type=\"SM_WYE\"/>\n"
    "      <DO name=\"A\" type=\"SM_WYE\"/>\n"
    "    </LNodeType>\n"
    "    <DOType id=\"SM_ENC_Mod\" cdc=\"ENC\">\n"
    "      <DA name=\"stVal\" bType=\"Enum\" type=\"SM_BehaviourModeKind\" fc=\"ST\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"ST\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"ST\"/>\n"
    "      <DA name=\"ctlModel\" bType=\"Enum\" type=\"SM_CtlModelKind\" fc=\"CF\">\n"
    "        <Val>status-only</Val>\n"
    "      </DA>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_ENS_Beh\" cdc=\"ENS\">\n"
    "      <DA name=\"stVal\" bType=\"Enum\" type=\"SM_BehaviourModeKind\" fc=\"ST\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"ST\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"ST\"/>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_ENS_Health\" cdc=\"ENS\">\n"
    "      <DA name=\"stVal\" bType=\"Enum\" type=\"SM_HealthKind\" fc=\"ST\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"ST\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"ST\"/>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_SPS\" cdc=\"SPS\">\n"
    "      <DA name=\"stVal\" bType=\"BOOLEAN\" fc=\"ST\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"ST\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"ST\"/>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_MV\" cdc=\"MV\">\n"
    "      <DA name=\"mag\" bType=\"Struct\" type=\"SM_AnalogueValue\" fc=\"MX\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"MX\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"MX\"/>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_CMV\" cdc=\"CMV\">\n"
    "      <DA name=\"cVal\" bType=\"Struct\" type=\"SM_Vector\" fc=\"MX\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"MX\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"MX\"/>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_WYE\" cdc=\"WYE\">\n"
    "      <SDO name=\"phsA\" type=\"SM_CMV\"/>\n"
    "      <SDO name=\"phsB\" type=\"SM_CMV\"/>\n"
    "      <SDO name=\"phsC\" type=\"SM_CMV\"/>\n"
    "    </DOType>\n"
    "    <DOType id=\"SM_BCR\" cdc=\"BCR\">\n"
    "      <DA name=\"actVal\" bType=\"INT64\" fc=\"ST\"/>\n"
    "      <DA name=\"q\" bType=\"Quality\" fc=\"ST\"/>\n"
    "      <DA name=\"t\" bType=\"Timestamp\" fc=\"ST\"/>\n"
    "    </DOType>\n"
    "    <DAType id=\"SM_AnalogueValue\">\n"
    "      <BDA name=\"f\" bType=\"FLOAT32\"/>\n"
    "    </DAType>\n"
    "    <DAType id=\"SM_Vector\">\n"
    "      <BDA name=\"mag\" bType=\"Struct\" type=\"SM_AnalogueValue\"/>\n"
    "    </DAType>\n"
    "    <EnumType id=\"SM_BehaviourModeKind\">\n"
    "      <EnumVal ord=\"1\">on</EnumVal>\n"
    "      <EnumVal ord=\"2\">on-blocked</EnumVal>\n"
    "      <EnumVal ord=\"3\">test</EnumVal>\n"
    "      <EnumVal ord=\"4\">test/blocked</EnumVal>\n"
    "      <EnumVal ord=\"5\">off</EnumVal>\n"
    "    </EnumType>\n"
    "    <EnumType id=\"SM_HealthKind\">\n"
    "      <EnumVal ord=\"1\">Ok</EnumVal>\n"
    "      <EnumVal ord=\"2\">Warning</EnumVal>\n"
    "      <EnumVal ord=\"3\">Alarm</EnumVal>\n"
    "    </EnumType>\n"
    "    <EnumType id=\"SM_CtlModelKind\">\n"
    "      <EnumVal ord=\"0\">status-only</EnumVal>\n"
    "      <EnumVal ord=\"1\">direct-with-normal-security</EnumVal>\n"
    "      <EnumVal ord=\"2\">sbo-with-normal-security</EnumVal>\n"
    "      <EnumVal ord=\"3\">direct-with-enhanced-security</EnumVal>\n"
    "      <EnumVal ord=\"4\">sbo-with-enhanced-security</EnumVal>\n"
    "    </EnumType>\n"
    "  </DataTypeTemplates>\n"
    "</SCL>\n";

/* An FCDA from a member's MMS name LN$FC$DO ("MMXU1$MX$TotW"): the LN's class is its
   letters, its instance the digits after them. */
static void write_fcda(FILE *f, size_t ld, const char *name)
{
    const char *fc = strchr(name, '$');
    const char *dobj = fc ? strchr(fc + 1, '$') : NULL;
    if (!dobj)
        return; /* not LN$FC$DO: not in this model */
    int ln_len = (int)(fc - name), cls_len = ln_len;
    while (cls_len > 0 && isdigit((unsigned char)name[cls_len - 1]))
        cls_len--;
    fprintf(f,
            "              <FCDA ldInst=\"D%zu\" prefix=\"\" lnClass=\"%.*s\" lnInst=\"%.*s\" "
            "doName=\"%s\" fc=\"%.*s\"/>\n",
            ld, cls_len, name, ln_len - cls_len, name + cls_len, dobj + 1, (int)(dobj - fc - 1),
            fc + 1);
}

int mms_scl_write(FILE *f, const struct mms_device *devs, size_t n)
{
    fputs(header, f);
    for (size_t i = 0; i < n; i++) {
        /* Domain names hold only letters, digits and '_': nothing to escape in XML. The
           inst is the device's place in the list; ldName is what MMS clients see. */
        fprintf(f, "        <LDevice inst=\"D%zu\" ldName=\"%s\" desc=\"meter %s\">\n", i + 1,
                devs[i].domain, devs[i].device_id);
        fputs("          <LN0 lnClass=\"LLN0\" inst=\"\" lnType=\"SM_LLN0\">\n"
              "            <DataSet name=\"Meas\" desc=\"the measurements (MMS: LLN0$Meas)\">\n",
              f);
        for (unsigned m = 0; m < mms_n_dataset_members; m++)
            write_fcda(f, i + 1, mms_dataset_members[m]);
        fputs("            </DataSet>\n"
              "            <ReportControl name=\"urcbMeas\" datSet=\"Meas\" confRev=\"1\" "
              "buffered=\"false\" intgPd=\"0\" indexed=\"true\">\n"
              "              <TrgOps dchg=\"true\" period=\"true\" gi=\"true\"/>\n"
              "              <OptFields seqNum=\"true\" dataSet=\"true\" reasonCode=\"true\" "
              "configRef=\"false\"/>\n"
              "              <RptEnabled max=\"1\"/>\n"
              "            </ReportControl>\n"
              "          </LN0>\n",
              f);
        fputs(ldevice, f);
        fputs("        </LDevice>\n", f);
    }
    fputs(templates, f);
    return fflush(f) || ferror(f) ? -EIO : 0;
}

/* Hands the caller's store to the provider once (it is taken back before the provider goes). */
static int hand_over(void *ctx, struct store **ret, char err[STORE_ERR_LEN])
{
    struct store **s = ctx;
    (void)err;
    if (!*s)
        return -ENOTCONN;
    *ret = *s;
    *s = NULL;
    return 0;
}

int mms_scl_export(struct store *s, FILE *f)
{
    struct store *give = s;
    struct store_source src = {.open = hand_over, .ctx = &give};
    struct mms_store_provider sp;
    int r = mms_store_provider_init(&sp, &src);
    if (r)
        return r;
    const struct mms_device *devs;
    size_t n;
    r = sp.p.devices(sp.p.ctx, &devs, &n);
    if (r == 0)
        r = mms_scl_write(f, devs, n);
    sp.s = NULL; /* the caller's */
    mms_store_provider_free(&sp);
    return r;
}
