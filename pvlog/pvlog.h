/*
 * pvlog.h - the pvrr recording format: writer and reader.
 *
 * A pvlog file holds everything needed to replay a guest: metadata (guest ELF,
 * command line, memory size, CPUID table) and the ordered list of events, one
 * per hypercall, each carrying the bytes the monitor wrote into guest memory.
 * The byte-level format is specified in formats/pvlog.md.
 *
 * Library code: functions return an enum pvlog_status and fill a
 * struct pvlog_error; nothing here prints or exits. The reader is safe on
 * hostile files: every length and offset is checked before use.
 */
#ifndef PVRR_PVLOG_H
#define PVRR_PVLOG_H

#include <stddef.h>
#include <stdint.h>

enum pvlog_status {
    PVLOG_OK = 0,
    PVLOG_END = 1,         /* reader: no more events (the END event was read) */
    PVLOG_ENOTPVLOG = -1,  /* bad magic: not a pvlog file */
    PVLOG_EVERSION = -2,   /* unsupported format version */
    PVLOG_ECORRUPT = -3,   /* checksum mismatch or malformed content */
    PVLOG_ETRUNCATED = -4, /* the file ends before the END event */
    PVLOG_EIO = -5,        /* an operating-system error */
    PVLOG_EINVAL = -6,     /* a bad argument from the caller */
    PVLOG_ENOMEM = -7,
};

/* An error: a status and a message naming what and where (file offset, frame). */
struct pvlog_error {
    enum pvlog_status status;
    uint64_t offset; /* file offset of the problem, when known */
    int64_t frame;   /* frame number, -1 when not in a frame */
    char msg[256];
};

/* Recording metadata, stored once in the header section. */
struct pvlog_meta {
    uint32_t abi_version; /* PVRR_ABI_VERSION of the recording monitor */
    uint64_t mem_size;    /* guest RAM bytes */
    const char *cmdline;  /* guest command line, NUL-terminated */
    const void *elf;      /* the guest ELF image, embedded whole */
    uint64_t elf_len;
    const char *elf_name; /* the ELF file's base name, for display */
    const void *cpuid;    /* the CPUID table given to the guest (opaque bytes) */
    uint64_t cpuid_len;
    uint64_t disk_sectors; /* 0 if no disk */
    uint32_t disk_writable;
    uint64_t start_wall_ns;   /* wall-clock time the recording started */
    const char *pvrr_version; /* e.g. "0.1.0" */
    uint32_t engine;          /* enum pvlog_engine: what executed the guest */
};

/* The execution engine a recording was made on (formats/pvlog.md). A log
 * replays on any engine; this is for display. */
enum pvlog_engine {
    PVLOG_ENGINE_KVM = 0, /* Linux KVM (every log before this field existed) */
    PVLOG_ENGINE_EMU = 1, /* pvrr's software CPU */
    PVLOG_ENGINE_MAX = 1,
};

/* The engine's name ("kvm", "emu"), or "?" for an unknown value. */
const char *pvlog_engine_name(uint32_t engine);

/* One range of guest memory the monitor wrote while serving a hypercall. */
struct pvlog_write {
    uint64_t gpa;
    uint32_t len;
    const uint8_t *data;
};

enum pvlog_event_kind {
    PVLOG_EV_HYPERCALL = 1, /* one served hypercall */
    PVLOG_EV_END = 2,       /* the guest stopped: exit, panic or fault; always last */
};

/* Why a recording ended (PVLOG_EV_END). */
enum pvlog_end_reason {
    PVLOG_END_EXIT = 1,    /* PVRR_HC_EXIT */
    PVLOG_END_PANIC = 2,   /* PVRR_HC_PANIC */
    PVLOG_END_FAULT = 3,   /* triple fault, internal error, bad hypercall */
    PVLOG_END_TIMEOUT = 4, /* --timeout */
    PVLOG_END_ABORT = 5,   /* the recorder was interrupted (SIGINT/SIGTERM) */
};

struct pvlog_event {
    uint64_t index; /* 0-based; assigned by the writer, returned by the reader */
    uint8_t kind;   /* enum pvlog_event_kind */
    /* PVLOG_EV_HYPERCALL */
    uint16_t nr;        /* hypercall number (enum pvrr_hc) */
    uint8_t regs8;      /* low 8 bits of the chained register digest after this event's exit */
    uint64_t rip;       /* guest RIP at the exit */
    uint64_t arg_gpa;   /* guest address of the argument struct */
    uint64_t in_digest; /* digest of the hypercall's inputs (struct IN bytes, input buffers) */
    uint32_t nwrites;
    const struct pvlog_write *writes; /* reader: valid until the next call on the reader */
    /* PVLOG_EV_END */
    uint8_t end_reason;    /* enum pvlog_end_reason */
    int32_t status;        /* exit status pvrr returned */
    uint64_t final_digest; /* digest of guest memory and registers at the end */
    uint64_t regs_chain;   /* full 64-bit chained register digest at the end */
    uint64_t end_wall_ns;  /* wall-clock time the recording ended */
    /*
     * Register chain (both kinds). The recorder keeps chain_i =
     * XXH3(chain_{i-1} || regs_i) and stores its low 8 bits as regs8. Writer:
     * regs_chain is read on EVERY event (hypercall and END) and the last value
     * seen becomes the frame's chain_end in the frame header. Reader: on the
     * last event of each frame (always so for END) chain_valid is 1 and
     * regs_chain holds the full chain after that event; otherwise both are 0.
     */
    uint8_t chain_valid;
};

/* Limits: the writer refuses larger events (PVLOG_EINVAL), the reader rejects them. */
#define PVLOG_WRITES_MAX 1024u           /* writes in one event */
#define PVLOG_EVENT_DATA_MAX (32u << 20) /* sum of write lengths in one event */
#define PVLOG_FRAME_RAW_MAX (64u << 20)  /* uncompressed payload of one frame */

/* ---- writer ---- */
struct pvlog_writer;

/* Create (path) and write the header and metadata (meta). Frames are compressed
 * and written by a background thread. Returns PVLOG_OK and sets *out. */
enum pvlog_status pvlog_writer_open(struct pvlog_writer **out, const char *path,
                                    const struct pvlog_meta *meta, struct pvlog_error *err);

/* Append one event (ev), copying its data; ev->index is ignored. Cheap: no
 * system call or compression on the caller's thread unless the background
 * thread has fallen far behind. Returns PVLOG_OK or an error from the thread;
 * PVLOG_EINVAL for a malformed event, one over the limits below, or one after
 * the END event. Append, flush and close must come from one thread at a time.
 * Events reach the file within ~100 ms (a background flush), at the latest
 * every 64 KiB of encoded events, and at once after END or a flush. */
enum pvlog_status pvlog_writer_append(struct pvlog_writer *w, const struct pvlog_event *ev,
                                      struct pvlog_error *err);

/* Test and tuning knobs; call before the first append. Frame size: a frame is
 * handed to the background thread once its uncompressed payload reaches
 * (bytes) (default 64 KiB, clamped to [64 B, 16 MiB]). zstd level (default 1,
 * clamped to [1, 19]). */
void pvlog_writer_set_frame_bytes(struct pvlog_writer *w, uint32_t bytes);
void pvlog_writer_set_zstd_level(struct pvlog_writer *w, int level);

/* Number of events appended so far. */
uint64_t pvlog_writer_count(const struct pvlog_writer *w);

/* Flush all complete frames to the file (used before fork/exit paths): every
 * event appended so far, the pending partial frame included, is written
 * (not fsynced) when this returns. */
enum pvlog_status pvlog_writer_flush(struct pvlog_writer *w, struct pvlog_error *err);

/* Write the pending frame and the seek index, fsync, close and free (w).
 * The END event must have been appended first for a complete log. */
enum pvlog_status pvlog_writer_close(struct pvlog_writer *w, struct pvlog_error *err);

/* ---- reader ---- */
struct pvlog_reader;

/* Open (path), verify the header and read the metadata and (if present) the
 * seek index. */
enum pvlog_status pvlog_reader_open(struct pvlog_reader **out, const char *path,
                                    struct pvlog_error *err);

/* Metadata; pointers stay valid until pvlog_reader_close. */
const struct pvlog_meta *pvlog_reader_meta(const struct pvlog_reader *r);

/* Read the next event into (ev). Returns PVLOG_OK, PVLOG_END after the END
 * event was returned, or an error (PVLOG_ETRUNCATED names the first missing
 * event index in err->msg). An error repeats until a successful seek. */
enum pvlog_status pvlog_reader_next(struct pvlog_reader *r, struct pvlog_event *ev,
                                    struct pvlog_error *err);

/* Position the reader so that the next event returned has (index). Uses the
 * index of a closed log, else scans frame headers (each once per reader):
 * O(frames) at worst. Returns PVLOG_EINVAL for an index past the END event,
 * PVLOG_ETRUNCATED past the last complete frame of a cut log. */
enum pvlog_status pvlog_reader_seek(struct pvlog_reader *r, uint64_t index,
                                    struct pvlog_error *err);

/* Totals for `pvrr info`: events, frames, file size, uncompressed bytes;
 * complete is 1 when the END event and the index are present. Without an
 * index it scans the frame headers (not the payloads); a cut log is not an
 * error here (complete = 0), a damaged one is. */
struct pvlog_stats {
    uint64_t events;
    uint64_t frames;
    uint64_t file_bytes;
    uint64_t raw_bytes;
    int complete;
};
enum pvlog_status pvlog_reader_stats(struct pvlog_reader *r, struct pvlog_stats *st,
                                     struct pvlog_error *err);

void pvlog_reader_close(struct pvlog_reader *r);

/* Human-readable name of a status. */
const char *pvlog_status_str(enum pvlog_status s);

#endif /* PVRR_PVLOG_H */
