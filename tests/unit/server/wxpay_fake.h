/*
 * wxpay_fake: WeChat Pay's side of the signatures, for the unit tests and
 * the notification fuzzer, written straight on OpenSSL and apart from the
 * module it checks (server/wxpay/), so that a mistake there is not repeated
 * here: keys made at run time (a merchant key pair, a platform key pair, an
 * APIv3 key) written to a folder with the modes the server asks for,
 * WeChat Pay's signatures on answers and notifications, encrypted
 * resources, and the check of a merchant signature with the merchant's
 * public key.
 *
 * Strings returned are heap copies the caller frees.
 */
#ifndef SMARTMETER_TEST_WXPAY_FAKE_H
#define SMARTMETER_TEST_WXPAY_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_APPID  "wxd678efh567hg6787"
#define FAKE_MCHID  "1230000109"
#define FAKE_SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#define FAKE_KEY_ID "PUB_KEY_ID_0112340000000000000000000000000001"

struct wxpay_fake;

/*
 * Makes the keys and writes, in dir: merchant_key.pem (0600), apiv3.key
 * (0600), platform_pub.pem (0644), other_pub.pem (a key that signs
 * nothing) and ec_pub.pem (an EC key). Returns NULL on failure.
 */
struct wxpay_fake *wxpay_fake_new(const char *dir);
void wxpay_fake_free(struct wxpay_fake *f);

/* The APIv3 key made at run time: 32 characters of A-Z a-z 0-9. */
const char *wxpay_fake_apiv3_key(const struct wxpay_fake *f);

/* Full paths of the files written. */
const char *wxpay_fake_path(const struct wxpay_fake *f, const char *name);

/* base64(SHA256withRSA(platform key, msg)); with_other_key signs with a key WeChat Pay never had.
 */
char *wxpay_fake_platform_sign(const struct wxpay_fake *f, const void *msg, size_t len,
                               bool with_other_key);

/* Whether base64 sig is the merchant key's SHA256withRSA signature of msg. */
bool wxpay_fake_merchant_verifies(const struct wxpay_fake *f, const void *msg, size_t len,
                                  const char *sig);

/*
 * AES-256-GCM of plain under key (32 bytes), a 12-byte nonce and ad:
 * base64(ciphertext || tag).
 */
char *wxpay_fake_encrypt(const char *key, const char *nonce, const char *ad, const char *plain,
                         size_t len);

/* A notification as WeChat Pay sends it, and the headers that sign it. */
struct fake_notify {
    char *body;
    char timestamp[24];
    char nonce[40];
    char *signature;
    char serial[80];
};

/*
 * Wraps the transaction JSON plain in a notification (encrypted with the
 * APIv3 key apiv3_key, or the fake's own when NULL) dated ts_s, signed by the
 * platform key. Free with fake_notify_free().
 */
int wxpay_fake_notify(const struct wxpay_fake *f, const char *plain, int64_t ts_s,
                      const char *apiv3_key, struct fake_notify *ret);
void fake_notify_free(struct fake_notify *n);

/* A paid transaction's JSON for out_trade_no and total_fen, with appid and mchid. */
char *wxpay_fake_transaction(const char *appid, const char *mchid, const char *out_trade_no,
                             int64_t total_fen);

#endif
