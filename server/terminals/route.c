/*
 * What other threads send to terminals: the writer's acks after commit and
 * the command service's commands arrive here by MQTT topic, are checked and
 * put in the loop's inbox (under its lock, bounded), and the loop is woken
 * through its eventfd; the loop turns them into frames on the device's link.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ack.h"
#include "ingest.h"
#include "sign.h"
#include "terminals_internal.h"
#include "topic.h"

/* The command without its signature: the frame's MAC authenticates it instead. */
static size_t unsigned_len(const uint8_t *p, size_t len, bool *ret_signed)
{
    static const char head[] = ",\"sig\":\"";
    *ret_signed = len >= SIGN_TAIL_LEN + 2 &&
                  memcmp(p + len - SIGN_TAIL_LEN, head, sizeof(head) - 1) == 0 &&
                  p[len - 2] == '"' && p[len - 1] == '}';
    return *ret_signed ? len - SIGN_TAIL_LEN + 1 : len;
}

static struct term_msg *msg_new(enum term_msg_kind kind, const char *device_id, size_t extra)
{
    struct term_msg *m = calloc(1, sizeof(*m) + extra);
    if (m) {
        m->kind = kind;
        memcpy(m->device_id, device_id, strlen(device_id) + 1);
    }
    return m;
}

/* Queues m (taken) for the loop when the device has a link here. 0, -ENOENT or -ENOBUFS. */
static int enqueue(struct terminals *t, struct term_msg *m, size_t bytes, bool need_link)
{
    pthread_mutex_lock(&t->lock);
    int r = 0;
    if (need_link && !term_table_find(t, m->device_id))
        r = -ENOENT;
    else if (t->inbox_bytes + bytes > TERM_INBOX_MAX)
        r = -ENOBUFS;
    bool wake = false;
    if (!r) {
        wake = t->inbox_head == NULL;
        if (t->inbox_tail)
            t->inbox_tail->next = m;
        else
            t->inbox_head = m;
        t->inbox_tail = m;
        t->inbox_bytes += bytes;
    }
    pthread_mutex_unlock(&t->lock);
    if (r) {
        if (r == -ENOBUFS)
            atomic_fetch_add(&t->c.routed_dropped, 1);
        free(m);
        return r;
    }
    if (wake) {
        uint64_t one = 1;
        (void)!write(t->wake_fd, &one, sizeof(one));
    }
    return 0;
}

static bool has_link(struct terminals *t, const char *device_id)
{
    pthread_mutex_lock(&t->lock);
    bool yes = term_table_find(t, device_id) != NULL;
    pthread_mutex_unlock(&t->lock);
    return yes;
}

int terminals_route(struct terminals *t, const char *topic, const void *payload, size_t len)
{
    char id[DEVICE_ID_MAX + 1];
    enum topic_leaf leaf;
    if (!t || !topic || topic_split(topic, strlen(topic), id, &leaf) ||
        (leaf != TOPIC_ACK && leaf != TOPIC_CMD) || strlen(id) > LINK_DEVICE_ID_MAX)
        return -ENOENT;
    if (!has_link(t, id)) /* the common case of an MQTT meter: nothing parsed */
        return -ENOENT;
    struct term_msg *m;
    size_t bytes;
    if (leaf == TOPIC_CMD) {
        bool is_signed;
        size_t n = unsigned_len(payload, len, &is_signed);
        if (n < 2 || n > LINK_PAYLOAD_MAX)
            return -EINVAL;
        bytes = sizeof(*m) + n;
        m = msg_new(TERM_MSG_COMMAND, id, n);
        if (!m)
            return -ENOMEM;
        memcpy(m->data, payload, is_signed ? n - 1 : n);
        if (is_signed)
            m->data[n - 1] = '}';
        m->len = n;
    } else {
        struct ack_msg *a = malloc(sizeof(*a));
        char err[ACK_ERR_LEN];
        if (!a)
            return -ENOMEM;
        if (ack_parse(payload, len, a, err)) {
            free(a);
            return -EINVAL;
        }
        size_t n = (a->n_seqs + a->n_rejected) * sizeof(struct ack_range);
        bytes = sizeof(*m) + n;
        m = msg_new(TERM_MSG_ACK, id, n);
        if (m) {
            memcpy(m->data, a->seqs, a->n_seqs * sizeof(struct ack_range));
            memcpy(m->data + a->n_seqs * sizeof(struct ack_range), a->rejected,
                   a->n_rejected * sizeof(struct ack_range));
            m->n_acked = a->n_seqs;
            m->n_rejected = a->n_rejected;
        }
        free(a);
        if (!m)
            return -ENOMEM;
    }
    return enqueue(t, m, bytes, true);
}

void terminals_forget(struct terminals *t, const char *device_id)
{
    if (!t || !device_id || strlen(device_id) > DEVICE_ID_MAX)
        return;
    ingest_forget_device(t->ing, device_id); /* its next handshake reads the new secret */
    if (!has_link(t, device_id))
        return;
    struct term_msg *m = msg_new(TERM_MSG_FORGET, device_id, 0);
    if (m)
        (void)enqueue(t, m, sizeof(*m), false);
}

/* One message, on the device's link if it still has one. */
static void run_one(struct terminals *t, const struct term_msg *m)
{
    struct conn *c = term_table_find(t, m->device_id);
    if (!c || c->dead) {
        atomic_fetch_add(&t->c.routed_dropped, 1);
        return;
    }
    int r = 0;
    switch (m->kind) {
    case TERM_MSG_ACK: {
        const struct ack_range *ranges = (const void *)m->data;
        struct ack_cursor cur = {0};
        while ((r = link_send_ack_next(&c->link, ranges, m->n_acked, ranges + m->n_acked,
                                       m->n_rejected, &cur, &c->out)) == 1)
            atomic_fetch_add(&t->c.frames_out, 1);
        if (r == 0)
            atomic_fetch_add(&t->c.acks_sent, 1);
        break;
    }
    case TERM_MSG_COMMAND:
        r = link_send(&c->link, LINK_COMMAND, m->data, m->len, &c->out);
        if (r == 0) {
            atomic_fetch_add(&t->c.frames_out, 1);
            atomic_fetch_add(&t->c.commands_sent, 1);
        }
        break;
    case TERM_MSG_FORGET:
        term_close(t, c, LINK_R_AUTH, false, "the device was deleted or given a new secret");
        return;
    }
    if (r < 0) {
        term_close(t, c, r == LINK_E_EXHAUSTED ? LINK_R_EXHAUSTED : LINK_R_INTERNAL, false,
                   "cannot queue a frame (the terminal does not read)");
        return;
    }
    term_flush(t, c);
}

void term_inbox_run(struct terminals *t)
{
    pthread_mutex_lock(&t->lock);
    struct term_msg *m = t->inbox_head;
    t->inbox_head = t->inbox_tail = NULL;
    t->inbox_bytes = 0;
    pthread_mutex_unlock(&t->lock);
    while (m) {
        struct term_msg *next = m->next;
        run_one(t, m);
        free(m);
        m = next;
    }
}

void term_inbox_clear(struct terminals *t)
{
    pthread_mutex_lock(&t->lock);
    struct term_msg *m = t->inbox_head;
    t->inbox_head = t->inbox_tail = NULL;
    t->inbox_bytes = 0;
    pthread_mutex_unlock(&t->lock);
    while (m) {
        struct term_msg *next = m->next;
        free(m);
        m = next;
    }
}
