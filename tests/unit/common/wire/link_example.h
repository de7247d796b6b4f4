/*
 * The worked example of docs/terminal-protocol.md: its inputs, and the bytes
 * they make (pinned here, printed by link_vectors, recomputed from the
 * document by tests/lib/link_client.py).
 */
#ifndef SMARTMETER_TEST_LINK_EXAMPLE_H
#define SMARTMETER_TEST_LINK_EXAMPLE_H

#include <stdint.h>

/* The secret of docs/protocol.md's example. */
#define EXAMPLE_SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define EXAMPLE_DEVICE "m-1"
#define EXAMPLE_NONCE_C                                                                            \
    {                                                                                              \
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,  \
            0x0f                                                                                   \
    }
#define EXAMPLE_NONCE_S                                                                            \
    {                                                                                              \
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,  \
            0x1f                                                                                   \
    }
#define EXAMPLE_TIME_MS     INT64_C(1796630400000) /* 2026-12-07T08:00:00Z */
#define EXAMPLE_HEARTBEAT_S 30
#define EXAMPLE_IDLE_S      90
#define EXAMPLE_TELEMETRY                                                                          \
    "{\"seq\":1,\"ts\":\"2026-12-07T08:00:00.000Z\",\"voltage\":230.1,\"current\":4.2}"

#define EXAMPLE_LINK_KEY  "94d35d1a492ae3f7ab2de0b83dce23e8df8bd4b73ea2b7e61e0a667500671079"
#define EXAMPLE_HELLO     "001e010100000000000102030405060708090a0b0c0d0e0f036d2d3144b807dc"
#define EXAMPLE_CHALLENGE "001a010200000000101112131415161718191a1b1c1d1e1fa46c0f2c"
#define EXAMPLE_RESPONSE                                                                           \
    "002a010300000000207efa53cb44f65ed8638f8076246dda4f5436c0876929eb"                             \
    "bb8cd0d8fdec7d73dcd825d1"
#define EXAMPLE_WELCOME                                                                            \
    "00360104000000005914afe5f7aafc65472bd2f5e175e65c0980e34ccc32588c"                             \
    "b13e015be762f4f1000001a24f844c00001e005a562c6df5"
#define EXAMPLE_TELEMETRY_FRAME                                                                    \
    "00610111000000017b22736571223a312c227473223a22323032362d31322d30"                             \
    "375430383a30303a30302e3030305a222c22766f6c74616765223a3233302e31"                             \
    "2c2263757272656e74223a342e327db84512998917ca114510973fbbfe2b65ef"                             \
    "62d8c8"
#define EXAMPLE_ACK_FRAME                                                                          \
    "002c011200000001010000000000000000010000000000000001e17a2dd13fca"                             \
    "5adeb680ad65fba62df55c0f5a35"

#endif
