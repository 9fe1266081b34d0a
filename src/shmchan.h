/*
 * shmchan.h - the one public header of shmchan, safe System V shared-memory IPC.
 *
 * Everything a program needs is declared here: the error codes, the frame
 * codec, the server and client handles and the inspection API. Headers
 * beside it (codec_internal.h, layout.h, lane.h, sysv.h, ...) are the
 * library's internal layers and are not installed.
 *
 * Conventions: every function that can fail returns shmchan_err_t
 * (SHMCHAN_OK == 0); outputs are written only through pointer arguments;
 * the library never prints, never calls exit() and never raises signals.
 */
#ifndef SHMCHAN_H
#define SHMCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SHMCHAN_MUST_CHECK __attribute__((warn_unused_result))
#else
#define SHMCHAN_MUST_CHECK
#endif

/* ---------------------------------------------------------------- errors */

typedef enum shmchan_err {
#define X(name, message) name,
#include "shmchan_error.inc"
#undef X
    SHMCHAN_ERR_COUNT
} shmchan_err_t;

/* A static, never-NULL English description of `err` ("unknown error" for
 * values outside the enum). */
const char *shmchan_strerror(shmchan_err_t err);

/* The enumerator's own name, e.g. "SHMCHAN_E_TIMEOUT" (for logs and tests). */
const char *shmchan_errname(shmchan_err_t err);

/* Optional detail for calls that touch kernel objects: which object, which
 * call, which errno. Every such call takes a `shmchan_diag_t *` that may be
 * NULL. On failure `text` holds one line such as
 *   shmget(key=0x000004d2, size=1052928, IPC_CREAT|IPC_EXCL|0600): File exists
 * and `sys_errno` the errno of the failing system call (0 if none). */
#define SHMCHAN_DIAG_TEXT_MAX 320
typedef struct shmchan_diag {
    shmchan_err_t code;
    int sys_errno;
    char text[SHMCHAN_DIAG_TEXT_MAX];
} shmchan_diag_t;

/* ----------------------------------------------------------------- codec */

/* A frame is a fixed 24-byte little-endian header followed by the payload;
 * docs/protocol.md specifies every byte. */
#define SHMCHAN_FRAME_HEADER_SIZE 24u
#define SHMCHAN_FRAME_MAGIC 0x46434853u /* bytes "SHCF" */
#define SHMCHAN_FRAME_VERSION 1u
/* No frame, on any channel, carries more payload than this (16 MiB). */
#define SHMCHAN_PAYLOAD_HARD_MAX (16u * 1024u * 1024u)

typedef enum shmchan_frame_type {
    SHMCHAN_FRAME_DATA = 1,    /* an application message */
    SHMCHAN_FRAME_GOODBYE = 2  /* sender sends nothing more; payload: reason */
} shmchan_frame_type_t;

typedef struct shmchan_frame {
    uint8_t type;         /* shmchan_frame_type_t */
    uint8_t flags;        /* no flags are defined: always 0 */
    uint32_t payload_len; /* bytes of payload after the header */
    uint64_t seq;         /* sender's sequence number */
    uint32_t checksum;    /* CRC32C (filled in by encode and decode) */
} shmchan_frame_t;

/* Encodes frame->type, ->flags, ->seq and `payload_len` bytes of `payload`
 * (NULL only when payload_len is 0) into out[0, out_cap). On success
 * *out_len is SHMCHAN_FRAME_HEADER_SIZE + payload_len; on failure it is 0
 * and nothing past out_cap was written. frame->payload_len is ignored in
 * favour of `payload_len`. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_encode(const shmchan_frame_t *frame,
                                                      const uint8_t *payload,
                                                      uint32_t payload_len, uint8_t *out,
                                                      size_t out_cap, size_t *out_len);

/* Decodes the frame at the start of src[0, src_len), which may be shared
 * memory that another process rewrites while this runs: the header is copied
 * once, validated from the copy, then the payload is copied once into
 * payload_out[0, payload_cap) and the checksum is verified over the two
 * private copies, so an accepted frame is exactly the bytes its checksum
 * covered. max_payload (<= SHMCHAN_PAYLOAD_HARD_MAX) is the channel's limit.
 * On success *frame is filled and *frame_len is the frame's total size; on
 * failure *frame is zeroed, *frame_len is 0 and payload_out's first
 * payload_cap bytes are unspecified. Never reads outside src[0, src_len) and
 * never writes outside payload_out[0, payload_cap). */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_decode(const uint8_t *src, size_t src_len,
                                                      uint32_t max_payload,
                                                      shmchan_frame_t *frame,
                                                      uint8_t *payload_out,
                                                      size_t payload_cap, size_t *frame_len);

#ifdef __cplusplus
}
#endif

#endif /* SHMCHAN_H */
