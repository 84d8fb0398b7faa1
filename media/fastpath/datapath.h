/* Shared by the C data path's files (media/fastpath/_datapath.c is the module). */
#ifndef INTERVIEWDAY_DATAPATH_H
#define INTERVIEWDAY_DATAPATH_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <sys/socket.h>

#define MAX_PLAIN 1500
#define BUFFER_SIZE 2048 /* room for the SRTP trailer after MAX_PLAIN */
#define JUMP 3000        /* media/rewrite.py JUMP */
#define WIRE_OVERHEAD 40 /* media/source.py WIRE_OVERHEAD */
#define SPEAKING_LEVEL 50 /* media/speaker.py SPEAKING_LEVEL */
#define NTP_EPOCH_OFFSET 2208988800.0
#define HIST_SLOT 1600    /* a protected datagram: MAX_PLAIN and the SRTP trailer */
#define SENT_HISTORY 4096 /* transport-wide numbers remembered per downlink: seconds of video */

typedef int (*srtp_fn)(void *ctx, void *data, int *len);

typedef struct {
    PyObject_HEAD
    int clock_rate;
    int has_sent;
    unsigned int seq_offset, start_in, high_in, last_seq;
    unsigned long long ts_offset, last_ts;
    double last_time;
} RewriterObject;

typedef struct {
    PyObject_HEAD
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    srtp_fn protect, protect_rtcp;
    void *ctx;
    PyObject *srtp_owner;
    struct Trend *trend;
    long long tcc_received, tcc_lost, tcc_malformed; /* feedback counts since last taken */              /* from the subscriber's feedback (dp_trend.c) */
    int tcc_id;                       /* transport-cc extension id on what we send (0: none) */
    unsigned int tcc_seq;             /* the next transport-wide sequence number */
    int sent_seq[SENT_HISTORY];       /* what was sent with each number, for the feedback */
    long long sent_us[SENT_HISTORY];
    int sent_size[SENT_HISTORY];
    long long sent, octets_sent, dropped, rtx_refused;
    double rtx_budget;
    unsigned char buffer[BUFFER_SIZE];
} LinkObject;

typedef struct {
    PyObject_HEAD
    PyObject *link;
    unsigned int ssrc;
    int urgent;
    long long packets, octets;
    unsigned long long last_timestamp, last_ntp;
    int mask; /* -1: no history */
    int *hist_seq;
    int *hist_len;
    unsigned char *hist_buf; /* HIST_SLOT bytes per entry: no allocation per packet */
    double *hist_resent;
} OutputObject;

typedef struct {
    PyObject_HEAD
    PyObject *output;
    PyObject *rewriter;
    PyObject *current;
    PyObject *pending;
    PyObject *ext;           /* bytes: the extension block without abs-send-time or level */
    PyObject *abs_before;    /* bytes or None: around a 3-byte abs-send-time value */
    PyObject *abs_after;
    PyObject *level_block;   /* bytes or None: the block with a level byte at level_pos */
    int level_pos;
    int synced, layer, target, want, is_video, payload_type;
    unsigned int ssrc;
    int pid_delta, tl0_delta, pid_last, tl0_last;
    long long packets_out, bytes_out, frames_out, dropped;
} SlotObject;

typedef struct {
    PyObject_HEAD
    int clockrate;
    long base_seq, max_seq; /* -1: none yet */
    long long cycles, packets_received, jitter_q4;
    long long last_arrival;
    unsigned long long last_timestamp;
    int has_last;
    long long expected_prior, received_prior;
} StatsObject;

typedef struct {
    PyObject_HEAD
    long long bytes_in, keyframes_in;
    double last_packet;
    int keyframe_since_request;
} LayerObject;

typedef struct {
    PyObject_HEAD
    PyObject *consumers, *layers, *layer_of_ssrc;
    int muted, closed, is_video, level;
    long long packets_in, bytes_in, frames_in;
    double level_at, loud_at;
} SourceObject;

#define ARRIVALS 8192 /* ring of (transport seq, arrival); drained every 100 ms */

typedef struct {
    PyObject_HEAD
    PyObject *source; /* SourceCore */
    PyObject *stats;  /* StatsCore */
    long index;
    int payload_type;
    long max_seq;
} RouteObject;

typedef struct {
    PyObject_HEAD
    srtp_fn unprotect, unprotect_rtcp;
    void *ctx;
    PyObject *srtp_owner;
    PyObject *feedback_link; /* LinkCore that transport-cc feedback on our sends goes to */
    int level_id, tcc_id;
    PyObject *routes; /* dict: SSRC -> Route */
    long long forwarded, returned;
    unsigned short arrival_seq[ARRIVALS];
    long long arrival_us[ARRIVALS];
    int arrival_head, arrival_count;
    long long feedback_next; /* the next transport seq to report (unwrapped), -1: none yet */
    int feedback_count;
    unsigned char buffer[BUFFER_SIZE];
} ReceiverObject;

/* media/fastpath/dp_trend.c: GCC's delay-based overuse detector and the acked bitrate
 * (media/delay.py `TrendlineEstimator` and `AckedBitrate`, the same rules), per downlink. */
typedef struct Trend Trend;
typedef struct {
    long long seq, send_us, arrival_us; /* arrival_us < 0: reported lost (skipped) */
    int size;
} TrendPacket;
enum { TREND_NORMAL = 0, TREND_OVERUSING = 1, TREND_UNDERUSING = 2 };
Trend *dp_trend_new(void);
void dp_trend_free(Trend *trend);
/* One feedback's results, in any order (sorted by arrival inside); `now_us`: sender's clock.
 * May reorder `packets`. */
void dp_trend_update(Trend *trend, TrendPacket *packets, int count, long long now_us);
int dp_trend_state(const Trend *trend);
double dp_trend_threshold_ms(const Trend *trend);
double dp_trend_queue_delay_ms(const Trend *trend);
double dp_trend_acked_bps(const Trend *trend); /* < 0: not enough yet (None in Python) */

extern PyTypeObject RewriterType, LinkType, OutputType, SlotType;
extern PyTypeObject StatsType, LayerType, SourceType, ReceiverType, RouteType, ReaderType;
extern PyTypeObject TrendType; /* dp_trend.c: `TrendCore`, the same for tests */

double dp_monotonic(void);
double dp_wall(void);
void dp_stats_add(StatsObject *stats, unsigned int seq, unsigned long long ts);
int dp_source_packet(SourceObject *source, long index, unsigned int seq, unsigned long long ts,
                     int marker, const unsigned char *payload, Py_ssize_t len, int audio_level);
PyObject *dp_receiver_feedback(ReceiverObject *self, PyObject *args, PyObject *kwds);
PyObject *dp_receive(PyObject *receiver, const char *data, Py_ssize_t n);
int dp_receiver_keyed(PyObject *receiver);
PyObject *dp_link_feedback(PyObject *link, PyObject *fci);
LinkObject *dp_fast_link(OutputObject *output);
int dp_output_send(OutputObject *output, const unsigned char *plain, Py_ssize_t len,
                   unsigned int seq, unsigned long long ts, unsigned long long ntp,
                   Py_ssize_t payload_size);
int link_sendto_raw(LinkObject *link, const void *data, size_t len);
PyObject *dp_link_take_counts(PyObject *link, PyObject *unused);
int dp_link_feedback_raw(PyObject *link, const unsigned char *fci, Py_ssize_t n);
PyObject *dp_receive_rtcp(PyObject *receiver, const char *data, Py_ssize_t n);
PyObject *dp_receiver_rtcp(PyObject *receiver, PyObject *data);
PyObject *dp_receiver_set_feedback_link(PyObject *receiver, PyObject *link);
PyObject *dp_receiver_send_feedback(PyObject *receiver, PyObject *args);
int dp_receiver_rtcp_keyed(PyObject *receiver);
int dp_link_stamp(PyObject *link, unsigned char *ext, Py_ssize_t ext_len, Py_ssize_t wire_len);
typedef struct {
    long pid_pos, pid_bits, pid, tl0_pos, tl0; /* media/vp8.py vp8_picture_fields */
} Picture;
enum { TAIL_DROPPED = 0, TAIL_SENT = 1, TAIL_UNMAPPED = 2 };
int dp_slot_tail(SlotObject *slot, unsigned int seq, unsigned long long ts, int marker,
                 const unsigned char *payload, Py_ssize_t payload_len, int level, double now,
                 unsigned long long ntp, const Picture *pic);
enum { SLOT_PYTHON = 0, SLOT_FORWARD = 1, SLOT_SKIP = 2 };
int dp_slot_steady(SlotObject *slot, PyObject *source, long layer);
int dp_slot_dropped(SlotObject *slot);
int dp_picture_from(PyObject *pic, Picture *out);
PyObject *dp_slot_write(SlotObject *slot, PyObject *const *args, Py_ssize_t nargs);

#endif
