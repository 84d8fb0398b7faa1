/* GCC's delay-based overuse detector and the acked bitrate, per downlink: media/delay.py's
 * `TrendlineEstimator` and `AckedBitrate`, rule for rule and constant for constant (that file
 * explains the rules; the comments here only say where C has to differ in form).
 *
 * Python is the oracle (tests/media/test_trend_c.py feeds both the same feedback). Every float
 * is computed with the same IEEE double operations in the same order, and the least-squares
 * slope's sums are `math.fsum`'s exact, correctly rounded sums (the same algorithm below), so
 * the two agree to the bit, not just closely. For that, no multiply-add may be fused.
 *
 * Fixed storage where Python uses deques: the 20-point window, the 100 queue-minimum buckets,
 * and a ring of ACKED_RING (arrival, size) entries for the acked window. Python's acked deque
 * is unbounded; here, past ACKED_RING packets inside one window (8192 in a second: some
 * 80 Mbit/s of 1200-byte packets), the oldest leaves early and the rate is over a shorter
 * span. Nothing is allocated per packet.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "datapath.h"

#include <math.h>
#include <stdlib.h>

#define SEND_GROUP_US 5000LL
#define BURST_DELTA_US 5000LL
#define MAX_BURST_US 100000LL
#define REORDER_RESET 3
#define ARRIVAL_JUMP_US 3000000LL
#define STREAM_TIMEOUT_US 2000000LL

#define SMOOTHING 0.9
#define WINDOW 20
#define GAIN 4.0
#define MIN_NUM_DELTAS 60
#define DELTA_COUNTER_MAX 1000
#define K_UP 0.0087
#define K_DOWN 0.039
#define INITIAL_THRESHOLD_MS 12.5
#define MIN_THRESHOLD_MS 6.0
#define MAX_THRESHOLD_MS 600.0
#define MAX_ADAPT_OFFSET_MS 15.0
#define MAX_THRESHOLD_STEP_MS 100.0
#define OVERUSE_TIME_MS 10.0

#define QUEUE_WINDOW_US 10000000LL
#define QUEUE_BUCKET_US 100000LL
#define QUEUE_BUCKETS ((int)(QUEUE_WINDOW_US / QUEUE_BUCKET_US))

#define ACKED_WINDOW_US 1000000LL
#define ACKED_RING 8192

/* Python's min(a, b) and max(a, b): the first unless the second is strictly beyond it. */
static inline double py_min(double a, double b) { return b < a ? b : a; }
static inline double py_max(double a, double b) { return b > a ? b : a; }

static inline long long floor_div(long long a, long long b) { /* Python's // (b > 0) */
    long long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

typedef struct {
    long long first_send, send, first_arrival, complete, system;
} Group;

struct Trend {
    /* TrendlineEstimator: what _reset() starts over */
    int has_current, has_previous;
    Group current, previous;
    int reordered, num_deltas;
    int has_first_arrival;
    double first_arrival;
    double accumulated, smoothed;
    double delay_x[WINDOW], delay_y[WINDOW]; /* ring, oldest at delay_head */
    int delay_head, delay_count;
    double prev_trend;
    int has_over_time;
    double over_time;
    int over_count;
    int has_last_threshold_update;
    double last_threshold_update;
    int state;
    double threshold_ms;
    /* TrendlineEstimator: kept across resets */
    long long min_bucket[QUEUE_BUCKETS], min_offset[QUEUE_BUCKETS]; /* ring, oldest at head */
    int min_head, min_count;
    int has_last_offset;
    long long last_offset;
    int has_last_seen;
    long long last_seen;
    /* AckedBitrate */
    long long acked_arrival[ACKED_RING];
    int acked_size[ACKED_RING];
    int acked_head, acked_count;
    long long acked_bytes;
    int has_latest;
    long long latest;
};

/* ---- math.fsum ------------------------------------------------------------------------- */

/* CPython's math.fsum (Shewchuk's exact partials, then a correctly rounded total) over at
 * most WINDOW finite terms. Where Python would raise (an intermediate overflow) or see an
 * infinity or a NaN, this returns the plain sum instead. */
static double fsum(const double *terms, int n) {
    double partials[WINDOW + 2];
    int count = 0;
    double plain = 0.0;
    for (int k = 0; k < n; k++) {
        double x = terms[k];
        plain += x;
        int i = 0;
        for (int j = 0; j < count; j++) {
            double y = partials[j];
            if (fabs(x) < fabs(y)) {
                double t = x;
                x = y;
                y = t;
            }
            double hi = x + y;
            double lo = y - (hi - x);
            if (lo != 0.0) partials[i++] = lo;
            x = hi;
        }
        count = i;
        if (x != 0.0) {
            if (!isfinite(x)) return plain;
            partials[count++] = x;
        }
    }
    double hi = 0.0;
    if (count > 0) {
        double lo = 0.0;
        hi = partials[--count];
        while (count > 0) {
            double x = hi;
            double y = partials[--count];
            hi = x + y;
            double yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) break;
        }
        if (count > 0 &&
            ((lo < 0.0 && partials[count - 1] < 0.0) || (lo > 0.0 && partials[count - 1] > 0.0))) {
            double y = lo * 2.0;
            double x = hi + y;
            double yr = x - hi;
            if (y == yr) hi = x;
        }
    }
    return hi;
}

/* delay.py `_slope` over the full window (only then is it asked); 0 (and *ok = 0) where Python
 * returns None. */
static double slope(const Trend *t, int *ok) {
    double xs[WINDOW], ys[WINDOW], products[WINDOW], squares[WINDOW];
    for (int k = 0; k < WINDOW; k++) {
        xs[k] = t->delay_x[(t->delay_head + k) % WINDOW];
        ys[k] = t->delay_y[(t->delay_head + k) % WINDOW];
    }
    double x_mean = fsum(xs, WINDOW) / WINDOW;
    double y_mean = fsum(ys, WINDOW) / WINDOW;
    for (int k = 0; k < WINDOW; k++) {
        double d = xs[k] - x_mean;
        products[k] = d * (ys[k] - y_mean);
        squares[k] = d * d; /* Python's d ** 2 */
    }
    double numerator = fsum(products, WINDOW);
    double denominator = fsum(squares, WINDOW);
    *ok = denominator != 0.0;
    return *ok ? numerator / denominator : 0.0;
}

/* ---- TrendlineEstimator ---------------------------------------------------------------- */

static void trend_reset(Trend *t) {
    t->has_current = t->has_previous = 0;
    t->reordered = 0;
    t->num_deltas = 0;
    t->has_first_arrival = 0;
    t->first_arrival = 0.0;
    t->accumulated = 0.0;
    t->smoothed = 0.0;
    t->delay_head = t->delay_count = 0;
    t->prev_trend = 0.0;
    t->has_over_time = 0;
    t->over_time = 0.0;
    t->over_count = 0;
    t->has_last_threshold_update = 0;
    t->last_threshold_update = 0.0;
    t->state = TREND_NORMAL;
    t->threshold_ms = INITIAL_THRESHOLD_MS;
}

static void note_offset(Trend *t, long long send_us, long long arrival_us) {
    long long offset = arrival_us - send_us;
    t->has_last_offset = 1;
    t->last_offset = offset;
    long long bucket = floor_div(send_us, QUEUE_BUCKET_US);
    /* Python appends, then drops the buckets out of the window. Dropping first is the same
     * (the newest bucket is never the one dropped) and keeps the ring at QUEUE_BUCKETS: the
     * buckets are increasing integers, all within QUEUE_BUCKETS of the newest. */
    while (t->min_count > 0 && t->min_bucket[t->min_head] <= bucket - QUEUE_BUCKETS) {
        t->min_head = (t->min_head + 1) % QUEUE_BUCKETS;
        t->min_count--;
    }
    if (t->min_count > 0) {
        int last = (t->min_head + t->min_count - 1) % QUEUE_BUCKETS;
        if (t->min_bucket[last] >= bucket) { /* a late one counts in the newest */
            if (offset < t->min_offset[last]) t->min_offset[last] = offset;
            return;
        }
    }
    int at = (t->min_head + t->min_count) % QUEUE_BUCKETS;
    t->min_bucket[at] = bucket;
    t->min_offset[at] = offset;
    t->min_count++;
}

static void update_threshold(Trend *t, double modified, double now_ms) {
    int had_last = t->has_last_threshold_update;
    double last = t->last_threshold_update;
    t->has_last_threshold_update = 1;
    t->last_threshold_update = now_ms;
    if (!had_last || fabs(modified) > t->threshold_ms + MAX_ADAPT_OFFSET_MS) return;
    double k = fabs(modified) < t->threshold_ms ? K_DOWN : K_UP;
    double elapsed = py_min(now_ms - last, MAX_THRESHOLD_STEP_MS);
    t->threshold_ms += k * (fabs(modified) - t->threshold_ms) * elapsed;
    t->threshold_ms = py_min(MAX_THRESHOLD_MS, py_max(MIN_THRESHOLD_MS, t->threshold_ms));
}

static void detect(Trend *t, double trend, double send_delta_ms, double now_ms) {
    if (t->num_deltas < 2) {
        t->state = TREND_NORMAL;
        return;
    }
    int n = t->num_deltas < MIN_NUM_DELTAS ? t->num_deltas : MIN_NUM_DELTAS;
    double modified = (double)n * trend * GAIN;
    if (modified > t->threshold_ms) {
        if (!t->has_over_time) {
            t->has_over_time = 1;
            t->over_time = send_delta_ms / 2;
        } else {
            t->over_time += send_delta_ms;
        }
        t->over_count++;
        if (t->over_time > OVERUSE_TIME_MS && t->over_count > 1 && trend >= t->prev_trend) {
            t->over_time = 0.0; /* 0, not None: the next one adds to it */
            t->over_count = 0;
            t->state = TREND_OVERUSING;
        }
    } else if (modified < -t->threshold_ms) {
        t->has_over_time = 0;
        t->over_count = 0;
        t->state = TREND_UNDERUSING;
    } else {
        t->has_over_time = 0;
        t->over_count = 0;
        t->state = TREND_NORMAL;
    }
    t->prev_trend = trend;
    update_threshold(t, modified, now_ms);
}

static void update_trend(Trend *t, double arrival_delta_ms, double send_delta_ms, double now_ms) {
    if (t->num_deltas + 1 < DELTA_COUNTER_MAX)
        t->num_deltas++;
    else
        t->num_deltas = DELTA_COUNTER_MAX;
    if (!t->has_first_arrival) {
        t->has_first_arrival = 1;
        t->first_arrival = now_ms;
    }
    t->accumulated += arrival_delta_ms - send_delta_ms;
    t->smoothed = SMOOTHING * t->smoothed + (1 - SMOOTHING) * t->accumulated;
    int at = (t->delay_head + t->delay_count) % WINDOW;
    t->delay_x[at] = now_ms - t->first_arrival;
    t->delay_y[at] = t->smoothed;
    if (t->delay_count < WINDOW)
        t->delay_count++;
    else
        t->delay_head = (t->delay_head + 1) % WINDOW;
    double trend = t->prev_trend;
    if (t->delay_count == WINDOW) {
        int ok;
        double s = slope(t, &ok);
        if (ok) trend = s;
    }
    detect(t, trend, send_delta_ms, now_ms);
}

static void new_group(Trend *t, long long send_us, long long arrival_us, long long now_us) {
    t->has_current = 1;
    t->current.first_send = t->current.send = send_us;
    t->current.first_arrival = t->current.complete = arrival_us;
    t->current.system = now_us;
}

static int starts_group(const Group *current, long long send_us, long long arrival_us) {
    long long arrival_delta = arrival_us - current->complete;
    long long send_delta = send_us - current->send;
    if (send_delta == 0) return 0;
    if (arrival_delta - send_delta < 0 && arrival_delta <= BURST_DELTA_US &&
        arrival_us - current->first_arrival < MAX_BURST_US)
        return 0;
    return send_us - current->first_send > SEND_GROUP_US;
}

/* delay.py `_inter_arrival`: 1 with the deltas (ms) when this packet starts a new group after
 * two complete ones, else 0. */
static int inter_arrival(Trend *t, long long send_us, long long arrival_us, long long now_us,
                         double *arrival_delta_ms, double *send_delta_ms) {
    if (!t->has_current) {
        new_group(t, send_us, arrival_us, now_us);
        return 0;
    }
    Group current = t->current;
    if (send_us < current.first_send) return 0; /* reordered: says nothing */
    if (!starts_group(&current, send_us, arrival_us)) {
        if (send_us > t->current.send) t->current.send = send_us;
        t->current.complete = arrival_us;
        t->current.system = now_us;
        return 0;
    }
    int have = 0;
    if (t->has_previous) {
        long long arrival_delta = current.complete - t->previous.complete;
        long long send_delta = current.send - t->previous.send;
        if (arrival_delta - (current.system - t->previous.system) >= ARRIVAL_JUMP_US) {
            trend_reset(t);
            new_group(t, send_us, arrival_us, now_us);
            return 0;
        }
        if (arrival_delta < 0) {
            t->reordered++;
            if (t->reordered >= REORDER_RESET) trend_reset(t);
        } else {
            t->reordered = 0;
            *arrival_delta_ms = (double)arrival_delta / 1000;
            *send_delta_ms = (double)send_delta / 1000;
            have = 1;
        }
    }
    t->has_previous = 1; /* after a reset too, as in Python */
    t->previous = current;
    new_group(t, send_us, arrival_us, now_us);
    return have;
}

/* ---- AckedBitrate ---------------------------------------------------------------------- */

static void acked_add(Trend *t, long long arrival_us, int size) {
    if (t->acked_count == ACKED_RING) { /* full: the oldest leaves early (see the top) */
        t->acked_bytes -= t->acked_size[t->acked_head];
        t->acked_head = (t->acked_head + 1) % ACKED_RING;
        t->acked_count--;
    }
    int at = (t->acked_head + t->acked_count) % ACKED_RING;
    t->acked_arrival[at] = arrival_us;
    t->acked_size[at] = size;
    t->acked_count++;
    t->acked_bytes += size;
    if (!t->has_latest || arrival_us > t->latest) t->latest = arrival_us;
    t->has_latest = 1;
}

static void acked_trim(Trend *t) {
    while (t->has_latest && t->acked_count > 0 &&
           t->acked_arrival[t->acked_head] < t->latest - ACKED_WINDOW_US) {
        t->acked_bytes -= t->acked_size[t->acked_head];
        t->acked_head = (t->acked_head + 1) % ACKED_RING;
        t->acked_count--;
    }
}

/* `AckedBitrate.bps`: 1 and *bps, or 0 where Python returns None. */
static int acked_bps(const Trend *t, double *bps) {
    if (!t->has_latest || t->acked_count < 2) return 0;
    long long first_arrival = t->acked_arrival[t->acked_head];
    int first_size = t->acked_size[t->acked_head];
    long long span = t->latest - first_arrival;
    if (span < ACKED_WINDOW_US / 2) return 0;
    *bps = (double)((t->acked_bytes - first_size) * 8 * 1000000) / (double)span;
    return 1;
}

/* ---- the interface (datapath.h) -------------------------------------------------------- */

Trend *dp_trend_new(void) {
    Trend *t = calloc(1, sizeof(Trend));
    if (t == NULL) return NULL;
    trend_reset(t);
    return t;
}

void dp_trend_free(Trend *trend) { free(trend); }

static int by_arrival_size(const void *a, const void *b) {
    const TrendPacket *x = a, *y = b;
    if (x->arrival_us != y->arrival_us) return x->arrival_us < y->arrival_us ? -1 : 1;
    return (x->size > y->size) - (x->size < y->size);
}

static int by_arrival_seq_send(const void *a, const void *b) {
    const TrendPacket *x = a, *y = b;
    if (x->arrival_us != y->arrival_us) return x->arrival_us < y->arrival_us ? -1 : 1;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return (x->send_us > y->send_us) - (x->send_us < y->send_us);
}

void dp_trend_update(Trend *t, TrendPacket *packets, int count, long long now_us) {
    if (t->has_last_seen && now_us - t->last_seen > STREAM_TIMEOUT_US) trend_reset(t);
    t->has_last_seen = 1;
    t->last_seen = now_us;
    int received = 0; /* the lost out, the received to the front */
    for (int i = 0; i < count; i++) {
        if (packets[i].arrival_us < 0) continue;
        if (i != received) {
            TrendPacket p = packets[received];
            packets[received] = packets[i];
            packets[i] = p;
        }
        received++;
    }
    /* AckedBitrate sorts by (arrival, size), the estimator by (arrival, seq, send): ties in
     * arrival decide which packet is the acked window's first, so both orders are kept. */
    qsort(packets, (size_t)received, sizeof(TrendPacket), by_arrival_size);
    for (int i = 0; i < received; i++) acked_add(t, packets[i].arrival_us, packets[i].size);
    acked_trim(t);
    qsort(packets, (size_t)received, sizeof(TrendPacket), by_arrival_seq_send);
    for (int i = 0; i < received; i++) {
        long long send_us = packets[i].send_us, arrival_us = packets[i].arrival_us;
        double arrival_delta_ms, send_delta_ms;
        note_offset(t, send_us, arrival_us);
        if (inter_arrival(t, send_us, arrival_us, now_us, &arrival_delta_ms, &send_delta_ms))
            update_trend(t, arrival_delta_ms, send_delta_ms, (double)arrival_us / 1000);
    }
}

int dp_trend_state(const Trend *trend) { return trend->state; }

double dp_trend_threshold_ms(const Trend *trend) { return trend->threshold_ms; }

double dp_trend_queue_delay_ms(const Trend *t) {
    if (!t->has_last_offset || t->min_count == 0) return 0.0;
    long long least = t->min_offset[t->min_head];
    for (int k = 1; k < t->min_count; k++) {
        long long m = t->min_offset[(t->min_head + k) % QUEUE_BUCKETS];
        if (m < least) least = m;
    }
    long long queue = t->last_offset - least;
    return queue > 0 ? (double)queue / 1000 : 0.0;
}

double dp_trend_acked_bps(const Trend *trend) {
    double bps;
    return acked_bps(trend, &bps) ? bps : -1.0;
}

/* ---- TrendCore: the same for tests and debugging --------------------------------------- */

typedef struct {
    PyObject_HEAD
    Trend *trend;
    TrendPacket *buffer; /* reused across calls */
    Py_ssize_t capacity;
} TrendObject;

static PyObject *TrendCore_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":TrendCore", kwlist)) return NULL;
    TrendObject *self = (TrendObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->trend = dp_trend_new();
    if (self->trend == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void TrendCore_dealloc(TrendObject *self) {
    dp_trend_free(self->trend);
    PyMem_Free(self->buffer);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* update(results, now_us): results as [(seq, send_us, size, arrival_us or None)], what
 * `LinkCore.transport_feedback` returns. */
static PyObject *TrendCore_update(TrendObject *self, PyObject *args) {
    PyObject *results;
    long long now_us;
    if (!PyArg_ParseTuple(args, "OL:update", &results, &now_us)) return NULL;
    PyObject *fast = PySequence_Fast(results, "results must be a sequence");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > INT_MAX) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_OverflowError, "too many results");
        return NULL;
    }
    if (n > self->capacity) {
        TrendPacket *grown = PyMem_Realloc(self->buffer, (size_t)n * sizeof(TrendPacket));
        if (grown == NULL) {
            Py_DECREF(fast);
            return PyErr_NoMemory();
        }
        self->buffer = grown;
        self->capacity = n;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        TrendPacket *p = &self->buffer[i];
        PyObject *arrival;
        if (!PyTuple_Check(item)) {
            PyErr_SetString(PyExc_TypeError,
                            "a result is a tuple (seq, send_us, size, arrival_us or None)");
            goto fail;
        }
        if (!PyArg_ParseTuple(item, "LLiO:result", &p->seq, &p->send_us, &p->size, &arrival))
            goto fail;
        if (arrival == Py_None) {
            p->arrival_us = -1;
        } else {
            p->arrival_us = PyLong_AsLongLong(arrival);
            if (p->arrival_us == -1 && PyErr_Occurred()) goto fail;
            if (p->arrival_us < 0) { /* < 0 means lost in C: a negative time cannot be said */
                PyErr_SetString(PyExc_ValueError, "arrival_us must be >= 0 or None");
                goto fail;
            }
        }
    }
    Py_DECREF(fast);
    dp_trend_update(self->trend, self->buffer, (int)n, now_us);
    Py_RETURN_NONE;
fail:
    Py_DECREF(fast);
    return NULL;
}

static PyObject *TrendCore_state(TrendObject *self, void *closure) {
    switch (dp_trend_state(self->trend)) {
    case TREND_OVERUSING:
        return PyUnicode_FromString("overusing");
    case TREND_UNDERUSING:
        return PyUnicode_FromString("underusing");
    default:
        return PyUnicode_FromString("normal");
    }
}

static PyObject *TrendCore_threshold_ms(TrendObject *self, void *closure) {
    return PyFloat_FromDouble(dp_trend_threshold_ms(self->trend));
}

static PyObject *TrendCore_queue_delay_ms(TrendObject *self, void *closure) {
    return PyFloat_FromDouble(dp_trend_queue_delay_ms(self->trend));
}

static PyObject *TrendCore_acked_bps(TrendObject *self, void *closure) {
    double bps;
    if (!acked_bps(self->trend, &bps)) Py_RETURN_NONE;
    return PyFloat_FromDouble(bps);
}

static PyMethodDef TrendCore_methods[] = {
    {"update", (PyCFunction)TrendCore_update, METH_VARARGS,
     "update(results, now_us): one feedback's [(seq, send_us, size, arrival_us or None)]"},
    {NULL}};

static PyGetSetDef TrendCore_getset[] = {
    {"state", (getter)TrendCore_state, NULL, "'normal', 'overusing' or 'underusing'", NULL},
    {"threshold_ms", (getter)TrendCore_threshold_ms, NULL, NULL, NULL},
    {"queue_delay_ms", (getter)TrendCore_queue_delay_ms, NULL, NULL, NULL},
    {"acked_bps", (getter)TrendCore_acked_bps, NULL, "float, or None: not enough yet", NULL},
    {NULL}};

PyTypeObject TrendType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.TrendCore",
    .tp_doc = "media/delay.py's TrendlineEstimator and AckedBitrate in one, in C "
              "(media/fastpath/dp_trend.c)",
    .tp_basicsize = sizeof(TrendObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = TrendCore_new,
    .tp_dealloc = (destructor)TrendCore_dealloc,
    .tp_methods = TrendCore_methods,
    .tp_getset = TrendCore_getset,
};
