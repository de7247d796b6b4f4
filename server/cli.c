#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "fileutil.h"
#include "options.h"
#include "provision.h"
#include "scl.h"
#include "store.h"
#include "timeutil.h"
#include "url.h"

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("meter-server: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/*
 * Removes "--name VALUE" (or --name=VALUE) from argv, returning VALUE or NULL.
 * Lets a command take its own flags before the shared option table sees the rest.
 */
static const char *take_flag(int *argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        int used = 0;
        if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, n) == 0) {
            if (a[2 + n] == '=') {
                value = a + 3 + n;
                used = 1;
            } else if (a[2 + n] == '\0' && i + 1 < *argc) {
                value = argv[i + 1];
                used = 2;
            }
        }
        if (used) {
            memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used) * sizeof(char *));
            *argc -= used;
            return value;
        }
    }
    return NULL;
}

/* Removes a bare "--name" from argv; whether it was there. */
static bool take_switch(int *argc, char **argv, const char *name)
{
    for (int i = 0; i < *argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, name) == 0) {
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i - 1) * sizeof(char *));
            (*argc)--;
            return true;
        }
    }
    return false;
}

int cli_db_url(struct server_options *opt)
{
    if (!opt->db_password_file)
        return 0;
    if (strncmp(opt->db, "mysql://", 8) != 0 && strncmp(opt->db, "mariadb://", 10) != 0)
        return cli_fail(2, "db_password_file is for a mysql:// database URL");
    char *password = NULL, err[512];
    size_t len = 0;
    if (file_read_secret("db_password_file", opt->db_password_file, 1024, &password, &len, err,
                         sizeof(err)))
        return cli_fail(2, "%s", err);
    while (len > 0 && (password[len - 1] == '\n' || password[len - 1] == '\r'))
        password[--len] = '\0';
    char *url = NULL;
    int r = len ? url_with_password(opt->db, password, &url, err, sizeof(err)) : -EINVAL;
    if (!len)
        snprintf(err, sizeof(err), "db_password_file %s is empty", opt->db_password_file);
    auth_wipe(password, len);
    free(password);
    if (r == -ENOMEM)
        return cli_fail(1, "out of memory");
    if (r)
        return cli_fail(2, "--db: %s", err);
    free(opt->db);
    opt->db = url;
    return 0;
}

/* Parses the shared options from argv[first..) and opens the database. */
static int open_db(int argc, char **argv, int first, struct server_options *opt, struct store **ret)
{
    char err[CONFIG_ERR_LEN];
    memset(opt, 0, sizeof(*opt));
    if (config_defaults(server_option_table, opt, err) ||
        config_parse_args(server_option_table, opt, argc, argv, first, err))
        return cli_fail(2, "%s", err);
    int code = cli_db_url(opt);
    if (code)
        return code;
    char serr[STORE_ERR_LEN];
    int r = store_open(opt->db, ret, serr);
    if (r)
        return cli_fail(r == -EINVAL ? 2 : 1, "%s", serr);
    return 0;
}

/* Refuses to work on a database whose schema is not this build's. */
static int check_schema(struct store *st)
{
    int version;
    int r = store_schema_version(st, &version);
    if (r)
        return cli_fail(1, "cannot read the schema version: %s", store_errmsg(st));
    if (version < store_schema_latest(st))
        return cli_fail(1,
                        "the database schema is at version %d, this build needs %d: run "
                        "'meter-server migrate' first",
                        version, store_schema_latest(st));
    if (version > store_schema_latest(st))
        return cli_fail(1, "the database schema (version %d) is newer than this build (%d)",
                        version, store_schema_latest(st));
    return 0;
}

int cli_migrate(int argc, char **argv)
{
    struct server_options opt;
    struct store *st = NULL;
    int code = open_db(argc, argv, 2, &opt, &st);
    if (code)
        goto out;
    int applied = 0;
    if (store_migrate(st, &applied)) {
        code = cli_fail(1, "migration failed: %s", store_errmsg(st));
        goto out;
    }
    fprintf(stderr, "meter-server: schema at version %d (%d migration%s applied)\n",
            store_schema_latest(st), applied, applied == 1 ? "" : "s");
out:
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

/* Reads one line from stdin without echo when it is a terminal. */
static int read_password(char *buf, size_t len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("Password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *line = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!line)
        return -EIO;
    size_t n = strlen(buf);
    if (n == len - 1 && buf[n - 1] != '\n')
        return -E2BIG;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return n > 0 ? 0 : -EINVAL;
}

/* A password from stdin (warned about when short) and its hash: 0, or the exit code. */
static int read_and_hash_password(char *password, size_t len, char hash[PASSWORD_HASH_MAX + 1])
{
    int r = read_password(password, len);
    if (r)
        return cli_fail(2, "%s",
                        r == -E2BIG ? "password longer than 1024 bytes"
                                    : "no password on standard input (one line)");
    if (strlen(password) < 8)
        fprintf(stderr, "meter-server: warning: a password of fewer than 8 characters is weak\n");
    if (auth_init() || auth_password_hash(password, hash))
        return cli_fail(1, "cannot hash the password");
    return 0;
}

int cli_user_add(int argc, char **argv)
{
    /* meter-server user add NAME --role ROLE [options] */
    const char *role_s = take_flag(&argc, argv, "role");
    if (argc < 4 || strncmp(argv[3], "--", 2) == 0)
        return cli_fail(2,
                        "usage: meter-server user add NAME --role admin|operator|user [--db URL]");
    const char *name = argv[3];
    enum role role;
    if (!role_s)
        return cli_fail(2, "user add needs --role admin|operator|user");
    if (role_parse(role_s, &role))
        return cli_fail(2, "--role must be admin, operator or user, not '%s'", role_s);
    if (!username_valid(name))
        return cli_fail(2, "user name must be 1 to %d of A-Z a-z 0-9 _ - . @", USERNAME_MAX);

    struct server_options opt;
    struct store *st = NULL;
    char password[AUTH_PASSWORD_MAX + 2];
    char hash[PASSWORD_HASH_MAX + 1];
    int code = open_db(argc, argv, 4, &opt, &st);
    if (code)
        goto out;
    if ((code = check_schema(st)))
        goto out;
    if ((code = read_and_hash_password(password, sizeof(password), hash)))
        goto out;
    int64_t id;
    if (store_user_add(st, name, hash, role, &id)) {
        code = cli_fail(1, "%s", store_errmsg(st));
        goto out;
    }
    fprintf(stderr, "meter-server: added %s %s\n", role_name(role), name);
out:
    auth_wipe(password, sizeof(password));
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

/* Records a command-line action in the audit log (actor "(cli)", address "local"). */
static void cli_audit(struct store *st, const char *action, const char *target, const char *detail)
{
    struct audit_rec e = {.at_ms = time_now_ms()};
    snprintf(e.actor, sizeof(e.actor), "(cli)");
    snprintf(e.action, sizeof(e.action), "%s", action);
    snprintf(e.target, sizeof(e.target), "%s", target);
    snprintf(e.address, sizeof(e.address), "local");
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    if (store_audit_add(st, &e))
        fprintf(stderr, "meter-server: warning: audit entry not written: %s\n", store_errmsg(st));
}

/*
 * Opens the database of argv[first..) for a command on the account name (checked): 0 with
 * *st and *ret, or the exit code after printing why (the caller still closes *st).
 */
static int open_for_user(int argc, char **argv, struct server_options *opt, const char *name,
                         struct store **st, struct user_rec *ret)
{
    if (!username_valid(name))
        return cli_fail(2, "user name must be 1 to %d of A-Z a-z 0-9 _ - . @", USERNAME_MAX);
    int code = open_db(argc, argv, 4, opt, st);
    if (!code)
        code = check_schema(*st);
    if (code)
        return code;
    int r = store_user_by_name(*st, name, ret);
    if (r == -ENOENT)
        return cli_fail(1, "no user '%s'", name);
    return r ? cli_fail(1, "%s", store_errmsg(*st)) : 0;
}

/* The exit code of a change to the account name the store answered r to. */
static int user_change_result(struct store *st, int r, const char *name)
{
    if (r == -EPERM)
        return cli_fail(1, "%s is the last enabled admin: make another admin first", name);
    return r ? cli_fail(1, "%s", store_errmsg(st)) : 0;
}

int cli_user_delete(int argc, char **argv)
{
    /* meter-server user delete NAME [options] */
    if (argc < 4 || strncmp(argv[3], "--", 2) == 0)
        return cli_fail(2, "usage: meter-server user delete NAME [--db URL]");
    const char *name = argv[3];
    struct server_options opt = {0};
    struct store *st = NULL;
    struct user_rec u;
    int code = open_for_user(argc, argv, &opt, name, &st, &u);
    if (!code)
        code = user_change_result(st, store_user_delete(st, u.id), name);
    if (code)
        goto out;
    cli_audit(st, "user.delete", name, "");
    fprintf(stderr, "meter-server: deleted user %s; their tokens no longer work\n", name);
out:
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

int cli_user_set(int argc, char **argv)
{
    /* meter-server user set NAME [--role ROLE] [--disabled true|false] [--password] [options] */
    const char *role_s = take_flag(&argc, argv, "role");
    const char *disabled_s = take_flag(&argc, argv, "disabled");
    bool new_password = take_switch(&argc, argv, "password");
    if (argc < 4 || strncmp(argv[3], "--", 2) == 0)
        return cli_fail(2, "usage: meter-server user set NAME [--role admin|operator|user] "
                           "[--disabled true|false] [--password] [--db URL]");
    const char *name = argv[3];
    struct user_change ch = {.revoke_tokens_ms = time_now_ms()};
    if (role_s && role_parse(role_s, &ch.role))
        return cli_fail(2, "--role must be admin, operator or user, not '%s'", role_s);
    ch.set_role = role_s != NULL;
    if (disabled_s && strcmp(disabled_s, "true") && strcmp(disabled_s, "false"))
        return cli_fail(2, "--disabled must be true or false, not '%s'", disabled_s);
    ch.set_disabled = disabled_s != NULL;
    ch.disabled = disabled_s && strcmp(disabled_s, "true") == 0;
    if (!ch.set_role && !ch.set_disabled && !new_password)
        return cli_fail(2, "user set needs --role, --disabled or --password");

    struct server_options opt = {0};
    struct store *st = NULL;
    struct user_rec u;
    char password[AUTH_PASSWORD_MAX + 2] = "";
    char hash[PASSWORD_HASH_MAX + 1];
    int code = open_for_user(argc, argv, &opt, name, &st, &u);
    if (code)
        goto out;
    if (new_password && (code = read_and_hash_password(password, sizeof(password), hash)))
        goto out;
    if (new_password)
        ch.password_hash = hash;
    code = user_change_result(st, store_user_update(st, u.id, &ch, &u), name);
    if (code)
        goto out;
    char detail[AUDIT_DETAIL_MAX + 1];
    snprintf(detail, sizeof(detail), "%s%s%s%s", ch.set_role ? "role=" : "",
             ch.set_role ? role_name(ch.role) : "",
             !ch.set_disabled ? ""
             : ch.disabled    ? " disabled=true"
                              : " disabled=false",
             new_password ? " password=changed" : "");
    cli_audit(st, "user.update", name, detail);
    fprintf(stderr, "meter-server: changed user %s (%s%s); their tokens no longer work\n", name,
            role_name(u.role), u.disabled ? ", disabled" : "");
out:
    auth_wipe(password, sizeof(password));
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

int cli_device_add(int argc, char **argv)
{
    /* meter-server device add DEVICE_ID --owner NAME [options] */
    const char *owner = take_flag(&argc, argv, "owner");
    if (argc < 4 || strncmp(argv[3], "--", 2) == 0)
        return cli_fail(2, "usage: meter-server device add DEVICE_ID --owner NAME [--db URL]");
    const char *device_id = argv[3];
    if (!device_id_valid(device_id))
        return cli_fail(2, "device id must be 1 to %d of A-Z a-z 0-9 _ - . :", DEVICE_ID_MAX);
    if (!owner)
        return cli_fail(2, "device add needs --owner NAME");

    struct server_options opt;
    struct store *st = NULL;
    char secret[AUTH_DEVICE_SECRET_LEN + 1] = "", hash[SECRET_HASH_LEN + 1];
    int code = open_db(argc, argv, 4, &opt, &st);
    if (code)
        goto out;
    if ((code = check_schema(st)))
        goto out;
    struct user_rec u;
    int r = store_user_by_name(st, owner, &u);
    if (r == -ENOENT) {
        code = cli_fail(1, "owner '%s' is not a user (add it with 'meter-server user add')", owner);
        goto out;
    }
    if (r || auth_init()) {
        code = cli_fail(1, "%s", r ? store_errmsg(st) : "cannot initialise libsodium");
        goto out;
    }
    auth_device_secret_new(secret, hash);
    int64_t pk;
    r = store_device_add(st, device_id, hash, u.id, &pk);
    if (r) {
        code = cli_fail(1, "%s", store_errmsg(st));
        goto out;
    }
    /* The secret, alone on stdout: shown once, stored only as a hash. */
    printf("%s\n", secret);
    fflush(stdout);
    fprintf(stderr, "meter-server: added device %s owned by %s\n", device_id, owner);
out:
    auth_wipe(secret, sizeof(secret));
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

int cli_device_delete(int argc, char **argv)
{
    /* meter-server device delete DEVICE_ID [options] */
    if (argc < 4 || strncmp(argv[3], "--", 2) == 0)
        return cli_fail(2, "usage: meter-server device delete DEVICE_ID [--db URL]");
    const char *device_id = argv[3];
    if (!device_id_valid(device_id))
        return cli_fail(2, "device id must be 1 to %d of A-Z a-z 0-9 _ - . :", DEVICE_ID_MAX);
    struct server_options opt;
    struct store *st = NULL;
    int code = open_db(argc, argv, 4, &opt, &st);
    if (code)
        goto out;
    if ((code = check_schema(st)))
        goto out;
    int r = store_device_delete(st, device_id);
    if (r) {
        code = cli_fail(1, "%s", r == -ENOENT ? "no such device" : store_errmsg(st));
        goto out;
    }
    /* A running server sees the change in its log and removes the broker account. */
    fprintf(stderr, "meter-server: deleted device %s and everything stored for it\n", device_id);
out:
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

/* The import's input: a file, or stdin for "-"; at most 64 MB. */
static int read_input(const char *path, char **ret, size_t *ret_len)
{
    const size_t max = (size_t)64 << 20;
    if (strcmp(path, "-") != 0)
        return file_read_all(path, max, ret, ret_len);
    size_t len = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (cap - len < 65536) {
            if (cap >= max) {
                free(buf);
                return -E2BIG;
            }
            cap = cap ? cap * 2 : 1 << 20;
            char *p = realloc(buf, cap + 1);
            if (!p) {
                free(buf);
                return -ENOMEM;
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len, stdin);
        len += n;
        if (n == 0) {
            if (ferror(stdin)) {
                free(buf);
                return -EIO;
            }
            break;
        }
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    return 0;
}

static int print_secret(const char *device_id, const char *secret, void *ctx)
{
    (void)ctx;
    return printf("%s,%s\n", device_id, secret) < 0 ? -EIO : 0;
}

int cli_device_import(int argc, char **argv)
{
    /* meter-server device import FILE.csv|- [options] */
    if (argc < 4 || (strncmp(argv[3], "--", 2) == 0))
        return cli_fail(2, "usage: meter-server device import FILE.csv|- [--db URL]");
    const char *path = argv[3];
    char *text = NULL;
    size_t len = 0;
    int r = read_input(path, &text, &len);
    if (r)
        return cli_fail(2, "cannot read %s: %s", strcmp(path, "-") == 0 ? "stdin" : path,
                        r == -E2BIG ? "larger than 64 MB" : strerror(-r));
    struct server_options opt;
    struct store *st = NULL;
    int code = open_db(argc, argv, 4, &opt, &st);
    if (code)
        goto out;
    if ((code = check_schema(st)))
        goto out;
    if (auth_init()) {
        code = cli_fail(1, "cannot initialise libsodium");
        goto out;
    }
    size_t n = 0;
    unsigned line = 0;
    char err[PROVISION_ERR_LEN];
    int64_t t0 = time_now_ms();
    /* The secrets, "device_id,secret" a line, alone on stdout: shown once, stored as hashes. */
    r = provision_import(st, text, len, "(cli)", print_secret, NULL, &n, &line, err);
    if (r == -EINVAL || r == -E2BIG) {
        code = cli_fail(2, "%s; nothing was imported", err);
        goto out;
    }
    if (r && n == 0) {
        code = cli_fail(1, "%s; nothing was imported", err);
        goto out;
    }
    if (fflush(stdout) || r) {
        code = cli_fail(1, "imported %zu devices but could not write their secrets", n);
        goto out;
    }
    char detail[64];
    snprintf(detail, sizeof(detail), "devices=%zu", n);
    cli_audit(st, "device.import", "", detail);
    fprintf(stderr, "meter-server: imported %zu devices in %lld ms\n", n,
            (long long)(time_now_ms() - t0));
out:
    if (text)
        auth_wipe(text, len);
    free(text);
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}

int cli_scl_export(int argc, char **argv)
{
    /* meter-server scl export [options]: the MMS port's SCL on stdout (docs/iec61850.md) */
    struct server_options opt;
    struct store *st = NULL;
    int code = open_db(argc, argv, 3, &opt, &st);
    if (code)
        goto out;
    if ((code = check_schema(st)))
        goto out;
    int r = mms_scl_export(st, stdout);
    if (r)
        code =
            cli_fail(1, "scl export: %s", r == -EIO ? "cannot write the output" : store_errmsg(st));
out:
    store_close(st);
    config_free(server_option_table, &opt);
    return code;
}
