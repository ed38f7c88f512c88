/*
 * A share-group (KIP-932) consumer on librdkafka's own C API, for
 * tests/python/test_librdkafka_share.py, which compiles it with `cc` and links
 * it against the librdkafka shared object bundled in the confluent-kafka wheel.
 *
 *   share_consumer BOOTSTRAP GROUP TOPIC MODE MAX_RECORDS TIMEOUT_MS
 *                  [MAX_POLL_RECORDS [BATCH_DELAY_MS]]
 *
 * MODE is accept | release | reject | hold. With accept / release / reject
 * every record is acknowledged explicitly with that type
 * (share.acknowledgement.mode=explicit, rd_kafka_share_acknowledge_type) and
 * each batch's acknowledgements are committed with rd_kafka_share_commit_sync
 * before the next poll. With hold the records are printed and never
 * acknowledged: the program stops polling and waits (to be killed) until
 * TIMEOUT_MS.
 *
 * stdout: one line per record, `partition offset delivery_count value`,
 * flushed at once. The program stops after the batch that brings the number of
 * records to MAX_RECORDS (0: no limit), on SIGTERM / SIGINT, or at TIMEOUT_MS,
 * then closes the share consumer (rd_kafka_share_consumer_close: leaves the
 * group) and destroys it. BATCH_DELAY_MS is a pause after each batch (the
 * "processing time" of a slow consumer).
 *
 * Exit status: 0 after MAX_RECORDS or a signal; 3 on the timeout; 1 on a usage
 * or setup error; 4 if an acknowledgement, a commit, a poll or the close
 * failed (the details go to stderr).
 *
 * The confluent-kafka wheel ships the library but no headers, so the few
 * declarations needed are written out below, after librdkafka's public
 * src/rdkafka.h (the share consumer API as in librdkafka 2.16.0, the version
 * bundled with confluent-kafka 2.16.1; the struct layouts are the public,
 * stable ones of rd_kafka_message_t and the topic-partition list).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- declarations from librdkafka's rdkafka.h -------------------------- */
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_share_s rd_kafka_share_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_error_s rd_kafka_error_t;
typedef struct rd_kafka_messages_s rd_kafka_messages_t;
typedef int rd_kafka_resp_err_t;  /* enum rd_kafka_resp_err_t */
typedef int rd_kafka_conf_res_t;  /* enum: RD_KAFKA_CONF_OK = 0 */
#define RD_KAFKA_CONF_OK 0
#define RD_KAFKA_PARTITION_UA ((int32_t)-1)

/* enum rd_kafka_share_AcknowledgeType_t */
#define RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_ACCEPT 1
#define RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_RELEASE 2
#define RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_REJECT 3

typedef struct rd_kafka_message_s {
        rd_kafka_resp_err_t err;
        rd_kafka_topic_t *rkt;
        int32_t partition;
        void *payload;
        size_t len;
        void *key;
        size_t key_len;
        int64_t offset;
        void *_private;
} rd_kafka_message_t;

typedef struct rd_kafka_topic_partition_s {
        char *topic;
        int32_t partition;
        int64_t offset;
        void *metadata;
        size_t metadata_size;
        void *opaque;
        rd_kafka_resp_err_t err;
        void *_private;
} rd_kafka_topic_partition_t;

typedef struct rd_kafka_topic_partition_list_s {
        int cnt;
        int size;
        rd_kafka_topic_partition_t *elems;
} rd_kafka_topic_partition_list_t;

const char *rd_kafka_version_str(void);
const char *rd_kafka_err2str(rd_kafka_resp_err_t err);
rd_kafka_conf_t *rd_kafka_conf_new(void);
void rd_kafka_conf_destroy(rd_kafka_conf_t *conf);
rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                                      const char *value, char *errstr,
                                      size_t errstr_size);
rd_kafka_topic_partition_list_t *rd_kafka_topic_partition_list_new(int size);
void rd_kafka_topic_partition_list_destroy(
    rd_kafka_topic_partition_list_t *rkparlist);
rd_kafka_topic_partition_t *
rd_kafka_topic_partition_list_add(rd_kafka_topic_partition_list_t *rktparlist,
                                  const char *topic, int32_t partition);
rd_kafka_resp_err_t rd_kafka_error_code(const rd_kafka_error_t *error);
const char *rd_kafka_error_string(const rd_kafka_error_t *error);
int rd_kafka_error_is_fatal(const rd_kafka_error_t *error);
void rd_kafka_error_destroy(rd_kafka_error_t *error);
const char *rd_kafka_message_errstr(const rd_kafka_message_t *rkmessage);
int16_t rd_kafka_message_delivery_count(const rd_kafka_message_t *rkmessage);

size_t rd_kafka_messages_count(const rd_kafka_messages_t *messages);
rd_kafka_message_t *rd_kafka_messages_get(const rd_kafka_messages_t *messages,
                                          size_t index);
void rd_kafka_messages_destroy(rd_kafka_messages_t *messages);

rd_kafka_share_t *rd_kafka_share_consumer_new(rd_kafka_conf_t *conf,
                                              char *errstr,
                                              size_t errstr_size);
rd_kafka_resp_err_t
rd_kafka_share_subscribe(rd_kafka_share_t *rkshare,
                         const rd_kafka_topic_partition_list_t *topics);
rd_kafka_error_t *rd_kafka_share_poll(rd_kafka_share_t *rkshare,
                                      int timeout_ms,
                                      rd_kafka_messages_t **rkmessages);
rd_kafka_resp_err_t
rd_kafka_share_acknowledge_type(rd_kafka_share_t *rkshare,
                                const rd_kafka_message_t *rkmessage,
                                int type /* rd_kafka_share_AcknowledgeType_t */);
rd_kafka_error_t *
rd_kafka_share_commit_sync(rd_kafka_share_t *rkshare,
                           int timeout_ms,
                           rd_kafka_topic_partition_list_t **partitions);
rd_kafka_error_t *rd_kafka_share_consumer_close(rd_kafka_share_t *rkshare);
rd_kafka_error_t *rd_kafka_share_destroy(rd_kafka_share_t *rkshare);
/* ---- end of the declarations ------------------------------------------- */

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
        struct timespec ts;
        ts.tv_sec  = ms / 1000;
        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
        nanosleep(&ts, NULL); /* cut short by a signal: fine */
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value) {
        char errstr[512];
        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "share_consumer: %s=%s: %s\n", name, value,
                        errstr);
                return -1;
        }
        return 0;
}

/* Commits this batch's acknowledgements; returns 0 if the call and every
 * partition succeeded. */
static int commit(rd_kafka_share_t *rkshare) {
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_error_t *error;
        int failed = 0, i;

        error = rd_kafka_share_commit_sync(rkshare, 30000, &parts);
        if (error) {
                fprintf(stderr, "share_consumer: commit_sync: %s\n",
                        rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                failed = 1;
        }
        if (parts) {
                for (i = 0; i < parts->cnt; i++) {
                        if (parts->elems[i].err) {
                                fprintf(stderr,
                                        "share_consumer: commit_sync %s [%" PRId32
                                        "]: %s\n",
                                        parts->elems[i].topic,
                                        parts->elems[i].partition,
                                        rd_kafka_err2str(parts->elems[i].err));
                                failed = 1;
                        }
                }
                rd_kafka_topic_partition_list_destroy(parts);
        }
        return failed ? -1 : 0;
}

int main(int argc, char **argv) {
        const char *bootstrap, *group, *topic, *mode;
        long max_records, timeout_ms, batch_delay_ms = 0;
        const char *max_poll_records = NULL;
        int ack_type = 0, hold = 0, failed = 0, timed_out = 0;
        long count = 0;
        int64_t deadline;
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_share_t *rkshare;
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;
        rd_kafka_error_t *error;
        struct sigaction sa;

        if (argc < 7 || argc > 9) {
                fprintf(stderr,
                        "usage: %s BOOTSTRAP GROUP TOPIC "
                        "accept|release|reject|hold MAX_RECORDS TIMEOUT_MS "
                        "[MAX_POLL_RECORDS [BATCH_DELAY_MS]]\n",
                        argv[0]);
                return 1;
        }
        bootstrap   = argv[1];
        group       = argv[2];
        topic       = argv[3];
        mode        = argv[4];
        max_records = strtol(argv[5], NULL, 10);
        timeout_ms  = strtol(argv[6], NULL, 10);
        if (argc > 7)
                max_poll_records = argv[7];
        if (argc > 8)
                batch_delay_ms = strtol(argv[8], NULL, 10);

        if (!strcmp(mode, "accept"))
                ack_type = RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_ACCEPT;
        else if (!strcmp(mode, "release"))
                ack_type = RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_RELEASE;
        else if (!strcmp(mode, "reject"))
                ack_type = RD_KAFKA_SHARE_ACKNOWLEDGE_TYPE_REJECT;
        else if (!strcmp(mode, "hold"))
                hold = 1;
        else {
                fprintf(stderr, "share_consumer: unknown mode %s\n", mode);
                return 1;
        }

        setvbuf(stdout, NULL, _IOLBF, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        conf = rd_kafka_conf_new();
        if (set(conf, "bootstrap.servers", bootstrap) ||
            set(conf, "group.id", group) ||
            set(conf, "share.acknowledgement.mode", "explicit") ||
            (max_poll_records &&
             set(conf, "max.poll.records", max_poll_records))) {
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rkshare = rd_kafka_share_consumer_new(conf, errstr, sizeof(errstr));
        if (!rkshare) {
                fprintf(stderr, "share_consumer: new: %s\n", errstr);
                return 1;
        }
        fprintf(stderr, "share_consumer: librdkafka %s, group %s, mode %s\n",
                rd_kafka_version_str(), group, mode);

        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_share_subscribe(rkshare, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                fprintf(stderr, "share_consumer: subscribe: %s\n",
                        rd_kafka_err2str(err));
                rd_kafka_share_destroy(rkshare);
                return 1;
        }

        deadline = now_ms() + timeout_ms;
        while (run) {
                rd_kafka_messages_t *batch = NULL;
                size_t n, i;

                if (now_ms() >= deadline) {
                        timed_out = 1;
                        break;
                }
                error = rd_kafka_share_poll(rkshare, 200, &batch);
                if (error) {
                        fprintf(stderr, "share_consumer: poll: %s%s\n",
                                rd_kafka_error_string(error),
                                rd_kafka_error_is_fatal(error) ? " (fatal)"
                                                               : "");
                        if (rd_kafka_error_is_fatal(error)) {
                                rd_kafka_error_destroy(error);
                                failed = 1;
                                break;
                        }
                        rd_kafka_error_destroy(error);
                        continue;
                }
                n = rd_kafka_messages_count(batch);
                for (i = 0; i < n; i++) {
                        rd_kafka_message_t *m = rd_kafka_messages_get(batch, i);
                        if (m->err) {
                                /* librdkafka has already acknowledged it. */
                                fprintf(stderr,
                                        "share_consumer: record error at "
                                        "%" PRId32 "/%" PRId64 ": %s\n",
                                        m->partition, m->offset,
                                        rd_kafka_message_errstr(m));
                                continue;
                        }
                        printf("%" PRId32 " %" PRId64 " %d %.*s\n",
                               m->partition, m->offset,
                               (int)rd_kafka_message_delivery_count(m),
                               (int)m->len, (const char *)m->payload);
                        count++;
                        if (hold)
                                continue;
                        err = rd_kafka_share_acknowledge_type(rkshare, m,
                                                              ack_type);
                        if (err) {
                                fprintf(stderr,
                                        "share_consumer: acknowledge "
                                        "%" PRId32 "/%" PRId64 ": %s\n",
                                        m->partition, m->offset,
                                        rd_kafka_err2str(err));
                                failed = 1;
                        }
                }
                rd_kafka_messages_destroy(batch);
                if (n == 0)
                        continue;
                if (hold) {
                        /* Acquired, never acknowledged: wait to be killed. */
                        while (run && now_ms() < deadline)
                                sleep_ms(50);
                        timed_out = run;
                        break;
                }
                if (commit(rkshare))
                        failed = 1;
                if (max_records > 0 && count >= max_records)
                        break;
                if (batch_delay_ms > 0)
                        sleep_ms(batch_delay_ms);
        }

        error = rd_kafka_share_consumer_close(rkshare);
        if (error) {
                fprintf(stderr, "share_consumer: close: %s\n",
                        rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                failed = 1;
        }
        error = rd_kafka_share_destroy(rkshare);
        if (error) {
                fprintf(stderr, "share_consumer: destroy: %s\n",
                        rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                failed = 1;
        }
        fprintf(stderr, "share_consumer: %ld records, %s\n", count,
                failed ? "with errors" : timed_out ? "timed out" : "done");
        return failed ? 4 : timed_out ? 3 : 0;
}
