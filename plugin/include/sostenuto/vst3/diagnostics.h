/* A private interface of the Sostenuto VST3 component, for test hosts and
 * tools: counters the VST3 API has no place for (underruns, engine state).
 * Query it on the component (the object that implements IComponent) with
 * sostenuto_diagnostics_iid; it follows FUnknown's rules (query adds a reference).
 *
 * Plain C layout so that any host can use it without the shim's sources.
 */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* {99FCCE81-6BF4-4419-A4CF-C0C6632028DF}, in the byte order of a Linux VST3 TUID. */
static const uint8_t sostenuto_diagnostics_iid[16] = {0x99, 0xFC, 0xCE, 0x81, 0x6B, 0xF4, 0x44, 0x19,
                                                      0xA4, 0xCF, 0xC0, 0xC6, 0x63, 0x20, 0x28, 0xDF};

struct sostenuto_stats {
    uint32_t struct_size;            /* set by the caller to sizeof(struct sostenuto_stats) */
    uint32_t engine_connected;       /* 1 while a session with the engine is up */
    uint32_t latency_samples;        /* what getLatencySamples answers now */
    uint32_t engine_latency_samples; /* D from the engine's Welcome (0: none yet) */
    uint32_t engine_lookahead_samples;
    uint32_t last_process_mode;      /* 0 realtime, 1 prefetch, 2 offline (VST3 numbering) */
    uint64_t sessions;               /* engine sessions (Welcomes) since the component was created */
    uint64_t failed_connects;        /* attempts to reach or start the engine that failed */
    uint64_t process_calls;          /* every process() call */
    uint64_t zero_frame_calls;
    uint64_t stream_time;            /* s: samples since setActive(true) */
    uint64_t underrun_blocks;        /* blocks whose audio (render time >= 0) was not all in the ring */
    uint64_t missing_frames;
    uint64_t offline_waits;          /* offline blocks that had to wait for the engine */
    uint64_t offline_timeouts;
    uint64_t events_sent;            /* MIDI events handed to the link */
    uint64_t events_dropped;         /* over the per-block capacity, or refused by the link */
    uint64_t transport_flushes;
    uint64_t process_mode_changes;
    uint64_t latency_change_requests; /* latencyChanged messages sent to the controller */
    char model_name[64];
    char last_error[256];
    /* Appended later: a caller with an older, shorter struct gets the fields above. */
    uint32_t engine_state;           /* 0 stopped, 1 connecting (or starting the engine), 2 running, 3 down */
    int32_t engine_pid;              /* the engine process of the running session, 0 if none */
    uint64_t engine_launches;        /* engine processes this instance started */
    uint64_t sessions_lost;          /* sessions the engine ended (a crash, an error), not the plug-in */
    uint64_t session_recoveries;     /* sessions that took over within an activation after one was lost */
    uint64_t events_resent;          /* held notes, pedal and controllers re-sent to such sessions */
};

struct sostenuto_diagnostics_vtable {
    /* FUnknown */
    int32_t (*query_interface)(void* self, const uint8_t iid[16], void** obj);
    uint32_t (*ref)(void* self);
    uint32_t (*unref)(void* self);
    /* 0 on success; fills at most out->struct_size bytes. Any thread. */
    int32_t (*get_stats)(void* self, struct sostenuto_stats* out);
};

#ifdef __cplusplus
}
#endif
