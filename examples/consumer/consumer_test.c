/* consumer_test: what another project's test of shmchan looks like, through
 * the public header only. A frame round-trips through the codec and a
 * corrupted one is refused; a server in this process and a client in a
 * forked child exchange a message over a real channel (the test runs in
 * its own IPC namespace under Bazel's linux-sandbox); after the server
 * closes, nothing is left at the key. Exits non-zero on the first failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/shmchan.h"

#define KEY ((key_t)0x5c0c0001)
#define T_MS 5000

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "consumer_test: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static void test_codec(void)
{
    static const uint8_t msg[] = "consumer";
    const shmchan_frame_t frame = {.type = SHMCHAN_FRAME_DATA, .seq = 7};
    uint8_t wire[64];
    size_t wire_len = 0;
    CHECK(shmchan_codec_encode(&frame, msg, sizeof msg, wire, sizeof wire, &wire_len) ==
          SHMCHAN_OK);
    CHECK(wire_len == SHMCHAN_FRAME_HEADER_SIZE + sizeof msg);

    shmchan_frame_t got;
    uint8_t payload[sizeof msg];
    size_t frame_len = 0;
    CHECK(shmchan_codec_decode(wire, wire_len, 4096, &got, payload, sizeof payload, &frame_len) ==
          SHMCHAN_OK);
    CHECK(frame_len == wire_len && got.seq == 7 && got.payload_len == sizeof msg);
    CHECK(memcmp(payload, msg, sizeof msg) == 0);

    wire[wire_len - 1] ^= 1; /* a payload bit: the CRC-32C no longer matches */
    CHECK(shmchan_codec_decode(wire, wire_len, 4096, &got, payload, sizeof payload, &frame_len) !=
          SHMCHAN_OK);
    CHECK(frame_len == 0);
}

/* The child: connects, sends "ping", expects it echoed, says goodbye. */
static int client_main(void)
{
    shmchan_client_t *cli = NULL;
    shmchan_diag_t diag;
    if (shmchan_client_connect(KEY, NULL, &cli, &diag) != SHMCHAN_OK) {
        fprintf(stderr, "consumer_test: connect: %s\n", diag.text);
        return 10;
    }
    char in[16];
    uint32_t len = 0;
    if (shmchan_client_send(cli, "ping", 4, T_MS) != SHMCHAN_OK ||
        shmchan_client_recv(cli, in, sizeof in, &len, T_MS) != SHMCHAN_OK || len != 4 ||
        memcmp(in, "ping", 4) != 0) {
        return 11;
    }
    shmchan_client_disconnect(cli);
    return 0;
}

static void test_channel(void)
{
    shmchan_server_t *srv = NULL;
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_server_create(KEY, NULL, &srv, &diag);
    if (err != SHMCHAN_OK) {
        fprintf(stderr, "consumer_test: server_create: %s: %s\n", shmchan_strerror(err),
                diag.text);
        exit(1);
    }
    const pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        _exit(client_main());
    }
    int connects = 0, messages = 0, goodbyes = 0;
    while (goodbyes == 0) {
        shmchan_event_t ev;
        uint8_t buf[64];
        CHECK(shmchan_server_wait(srv, T_MS, &ev, buf, sizeof buf) == SHMCHAN_OK);
        if (ev.kind == SHMCHAN_EVENT_CONNECT) {
            CHECK(ev.pid == pid);
            connects++;
        } else if (ev.kind == SHMCHAN_EVENT_MESSAGE) {
            CHECK(shmchan_server_send(srv, ev.client, buf, ev.len, T_MS) == SHMCHAN_OK);
            messages++;
        } else {
            CHECK(ev.reason == SHMCHAN_OK);
            goodbyes++;
        }
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(connects == 1 && messages == 1);

    shmchan_channel_info_t info;
    CHECK(shmchan_inspect(KEY, &info, &diag) == SHMCHAN_OK);
    CHECK(info.status == SHMCHAN_STATUS_LIVE);
    shmchan_server_destroy(srv);
    CHECK(shmchan_inspect(KEY, &info, &diag) == SHMCHAN_OK);
    CHECK(info.status == SHMCHAN_STATUS_ABSENT);
}

int main(void)
{
    test_codec();
    test_channel();
    printf("consumer_test: codec and channel through @shmchan//src:shmchan: ok\n");
    return 0;
}
