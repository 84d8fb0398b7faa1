/* The receive side of the C data path: a publisher's SRTP packet, from the datagram to every
 * subscriber slot, without Python in the steady case.
 *
 * `ReceiverCore` (one per peer connection) unprotects and parses each RTP datagram. A packet
 * whose SSRC has a route (registered by the Python receive path once it knows the stream:
 * media/fastpath/receive.py) and that follows the last one in sequence is counted in its
 * `StatsCore` (RTCP receiver reports) and handed to its `SourceCore`, which fans it out to the
 * slots (dp_send.c). Everything else (a new SSRC, RTX, a gap that needs a NACK, padding, a
 * closed source) goes back to Python as the plaintext packet. Transport-wide sequence numbers
 * are recorded for every packet, for the feedback the publisher's congestion control needs.
 */
#include "datapath.h"

#include <time.h>

double dp_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double dp_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- VP8 (media/vp8.py, the same rules) ------------------------------------------------ */

static int vp8_descriptor_size(const unsigned char *p, Py_ssize_t n) {
    if (n < 1) return -1;
    if (!(p[0] & 0x80)) return 1;
    if (n < 2) return -1;
    unsigned char ext = p[1];
    int size = 2;
    if (ext & 0x80) {
        if (n < size + 1) return -1;
        size += (p[size] & 0x80) ? 2 : 1;
    }
    if (ext & 0x40) size += 1;
    if (ext & 0x30) size += 1;
    return size <= n ? size : -1;
}

static int vp8_is_keyframe(const unsigned char *p, Py_ssize_t n) {
    if (n < 1 || (p[0] & 0x1F) != 0x10) return 0;
    int size = vp8_descriptor_size(p, n);
    if (size < 0 || size >= n) return 0;
    return !(p[size] & 0x01);
}

/* media/vp8.py vp8_picture_fields: 1 and `out` filled, or 0 (no picture id or TL0PICIDX). */
static int vp8_picture_raw(const unsigned char *p, Py_ssize_t n, Picture *out) {
    if (n < 3 || !(p[0] & 0x80)) return 0;
    unsigned char ext = p[1];
    Py_ssize_t pos = 2;
    long pid_pos = 0, pid_bits = 0, pid = 0, tl0_pos = 0, tl0 = 0;
    if (ext & 0x80) {
        pid_pos = pos;
        if (p[pos] & 0x80) {
            if (pos + 1 >= n) return 0;
            pid_bits = 15;
            pid = ((p[pos] & 0x7F) << 8) | p[pos + 1];
            pos += 2;
        } else {
            pid_bits = 7;
            pid = p[pos];
            pos += 1;
        }
    }
    if (ext & 0x40) {
        if (pos >= n) return 0;
        tl0_pos = pos;
        tl0 = p[pos];
    }
    if (!pid_bits && !tl0_pos) return 0;
    out->pid_pos = pid_pos;
    out->pid_bits = pid_bits;
    out->pid = pid;
    out->tl0_pos = tl0_pos;
    out->tl0 = tl0;
    return 1;
}

static PyObject *picture_tuple(const Picture *pic) {
    return Py_BuildValue("(lllll)", pic->pid_pos, pic->pid_bits, pic->pid, pic->tl0_pos,
                         pic->tl0);
}

/* ---- StatsCore: aiortc's StreamStatistics (what receiver reports carry) ---------------- */

static int Stats_init(StatsObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"clockrate", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i", kwlist, &self->clockrate)) return -1;
    self->base_seq = self->max_seq = -1;
    self->cycles = self->packets_received = 0;
    self->jitter_q4 = 0;
    self->has_last = 0;
    self->expected_prior = self->received_prior = 0;
    return 0;
}

void dp_stats_add(StatsObject *self, unsigned int seq, unsigned long long ts) {
    int in_order = self->max_seq < 0 || (((seq - (unsigned int)self->max_seq) & 0xFFFF) != 0 &&
                                         ((seq - (unsigned int)self->max_seq) & 0xFFFF) < 0x8000);
    self->packets_received++;
    if (self->base_seq < 0) self->base_seq = seq;
    if (!in_order) return;
    long long arrival = (long long)(dp_wall() * self->clockrate);
    if (self->max_seq >= 0 && (long)seq < self->max_seq) self->cycles += 1 << 16;
    self->max_seq = seq;
    if (self->has_last && ts != self->last_timestamp && self->packets_received > 1) {
        long long diff = (arrival - self->last_arrival) -
                         ((long long)ts - (long long)self->last_timestamp);
        if (diff < 0) diff = -diff;
        self->jitter_q4 += diff - ((self->jitter_q4 + 8) >> 4);
    }
    self->last_arrival = arrival;
    self->last_timestamp = ts;
    self->has_last = 1;
}

static PyObject *Stats_add(StatsObject *self, PyObject *packet) {
    PyObject *seq = PyObject_GetAttrString(packet, "sequence_number");
    if (seq == NULL) return NULL;
    PyObject *ts = PyObject_GetAttrString(packet, "timestamp");
    if (ts == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    unsigned long s = PyLong_AsUnsignedLong(seq);
    unsigned long long t = PyLong_AsUnsignedLongLong(ts);
    Py_DECREF(seq);
    Py_DECREF(ts);
    if (PyErr_Occurred()) return NULL;
    dp_stats_add(self, (unsigned int)(s & 0xFFFF), t);
    Py_RETURN_NONE;
}

static long long stats_expected(StatsObject *self) {
    return self->cycles + self->max_seq - self->base_seq + 1;
}

static PyObject *Stats_get_base_seq(StatsObject *self, void *c) {
    if (self->base_seq < 0) Py_RETURN_NONE;
    return PyLong_FromLong(self->base_seq);
}

static PyObject *Stats_get_max_seq(StatsObject *self, void *c) {
    if (self->max_seq < 0) Py_RETURN_NONE;
    return PyLong_FromLong(self->max_seq);
}

static PyObject *Stats_get_expected(StatsObject *self, void *c) {
    return PyLong_FromLongLong(stats_expected(self));
}

static PyObject *Stats_get_lost(StatsObject *self, void *c) {
    long long lost = stats_expected(self) - self->packets_received;
    /* RFC 3550 A.3: clamp to 24 bits signed */
    if (lost > 0x7FFFFF) lost = 0x7FFFFF;
    else if (lost < -0x800000) lost = -0x800000;
    return PyLong_FromLongLong(lost);
}

static PyObject *Stats_get_fraction_lost(StatsObject *self, void *c) {
    long long expected = stats_expected(self);
    long long expected_interval = expected - self->expected_prior;
    self->expected_prior = expected;
    long long received_interval = self->packets_received - self->received_prior;
    self->received_prior = self->packets_received;
    long long lost_interval = expected_interval - received_interval;
    if (expected_interval == 0 || lost_interval <= 0) return PyLong_FromLong(0);
    return PyLong_FromLongLong((lost_interval << 8) / expected_interval);
}

static PyObject *Stats_get_jitter(StatsObject *self, void *c) {
    return PyLong_FromLongLong(self->jitter_q4 >> 4);
}

static PyMethodDef Stats_methods[] = {
    {"add", (PyCFunction)Stats_add, METH_O, "Count one received packet."}, {NULL}};

static PyMemberDef Stats_members[] = {
    {"cycles", T_LONGLONG, offsetof(StatsObject, cycles), 0, NULL},
    {"packets_received", T_LONGLONG, offsetof(StatsObject, packets_received), 0, NULL},
    {NULL}};

static PyGetSetDef Stats_getset[] = {
    {"base_seq", (getter)Stats_get_base_seq, NULL, NULL, NULL},
    {"max_seq", (getter)Stats_get_max_seq, NULL, NULL, NULL},
    {"packets_expected", (getter)Stats_get_expected, NULL, NULL, NULL},
    {"packets_lost", (getter)Stats_get_lost, NULL, NULL, NULL},
    {"fraction_lost", (getter)Stats_get_fraction_lost, NULL, "Since the last read.", NULL},
    {"jitter", (getter)Stats_get_jitter, NULL, NULL, NULL},
    {NULL}};

PyTypeObject StatsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.StatsCore",
    .tp_basicsize = sizeof(StatsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Stats_init,
    .tp_methods = Stats_methods,
    .tp_members = Stats_members,
    .tp_getset = Stats_getset,
};

/* ---- LayerCore and SourceCore: media/source.py's per-packet bookkeeping and fan-out ----- */

static int Layer_init(LayerObject *self, PyObject *args, PyObject *kwds) {
    self->last_packet = -1e9;
    self->keyframe_since_request = 1;
    return 0;
}

static PyMemberDef Layer_members[] = {
    {"bytes_in", T_LONGLONG, offsetof(LayerObject, bytes_in), 0, NULL},
    {"last_packet", T_DOUBLE, offsetof(LayerObject, last_packet), 0, NULL},
    {"keyframes_in", T_LONGLONG, offsetof(LayerObject, keyframes_in), 0, NULL},
    {"_keyframe_since_request", T_BOOL, offsetof(LayerObject, keyframe_since_request), 0,
     NULL},
    {NULL}};

PyTypeObject LayerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.LayerCore",
    .tp_basicsize = sizeof(LayerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Layer_init,
    .tp_members = Layer_members,
};

static int Source_traverse(SourceObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->consumers);
    Py_VISIT(self->layers);
    Py_VISIT(self->layer_of_ssrc);
    return 0;
}

static int Source_clear(SourceObject *self) {
    Py_CLEAR(self->consumers);
    Py_CLEAR(self->layers);
    Py_CLEAR(self->layer_of_ssrc);
    return 0;
}

static void Source_dealloc(SourceObject *self) {
    PyObject_GC_UnTrack(self);
    Source_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Source_init(SourceObject *self, PyObject *args, PyObject *kwds) {
    self->level = 127;
    self->level_at = self->loud_at = -1e9;
    return 0;
}

/* A slot's write failed (the error is set): `_slot_failed` counts and logs it, and the
 * others still get the packet. 0, or -1 if even that failed. */
static int slot_failed(SourceObject *self, PyObject *slot) {
    PyObject *type, *value, *trace;
    PyErr_Fetch(&type, &value, &trace);
    PyErr_NormalizeException(&type, &value, &trace);
    PyObject *logged = PyObject_CallMethod((PyObject *)self, "_slot_failed", "OO", slot,
                                           value ? value : Py_None);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(trace);
    if (logged == NULL) return -1;
    Py_DECREF(logged);
    return 0;
}

/* slot.write(*args) for a slot that is not a SlotCore (a test's stand-in). */
static PyObject *call_write(PyObject *slot, PyObject **args) {
    PyObject *call[12];
    call[0] = slot;
    for (int i = 0; i < 11; i++) call[i + 1] = args[i];
    PyObject *name = PyUnicode_FromString("write");
    if (name == NULL) return NULL;
    PyObject *r = PyObject_VectorcallMethod(name, call, 12 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(name);
    return r;
}

/* One packet of layer `index` (already learned) to every consuming slot. 0, or -1 with an
 * error set (only for a failure of the source itself: a slot's failure is logged by
 * `_slot_failed` and the others still get the packet). */
int dp_source_packet(SourceObject *self, long index, unsigned int seq, unsigned long long ts,
                     int marker, const unsigned char *payload, Py_ssize_t len, int audio_level) {
    if (self->layers == NULL || !PyList_Check(self->layers) || index < 0 ||
        index >= PyList_GET_SIZE(self->layers)) {
        PyErr_SetString(PyExc_IndexError, "no such layer");
        return -1;
    }
    PyObject *layer_obj = PyList_GET_ITEM(self->layers, index);
    if (!PyObject_TypeCheck(layer_obj, &LayerType)) {
        PyErr_SetString(PyExc_TypeError, "layer is not a LayerCore");
        return -1;
    }
    LayerObject *layer = (LayerObject *)layer_obj;
    double now = dp_monotonic();
    self->packets_in++;
    long long size = (long long)len + 12;
    self->bytes_in += size;
    layer->bytes_in += size + WIRE_OVERHEAD;
    layer->last_packet = now;
    if (self->muted) return 0;
    PyObject *consumers = self->consumers;
    if (consumers == NULL || !PyList_Check(consumers)) return 0;
    if (len == 0) {
        /* padding only: nothing to forward, but keep numbering dense */
        Py_ssize_t count = PyList_GET_SIZE(consumers);
        for (Py_ssize_t i = 0; i < count && i < PyList_GET_SIZE(consumers); i++) {
            PyObject *slot = PyList_GET_ITEM(consumers, i);
            Py_INCREF(slot);
            PyObject *r = PyObject_CallMethod(slot, "skip", "OlI", (PyObject *)self, index, seq);
            Py_DECREF(slot);
            if (r == NULL) return -1;
            Py_DECREF(r);
        }
        return 0;
    }
    int level = -1, key, has_pic = 0;
    Picture pic;
    if (self->is_video) {
        key = vp8_is_keyframe(payload, len);
        if (key) {
            layer->keyframes_in++;
            layer->keyframe_since_request = 1;
        }
        if (marker) self->frames_in++;
        has_pic = vp8_picture_raw(payload, len, &pic);
    } else {
        key = 1;
        self->frames_in++;
        if (audio_level >= 0) {
            level = audio_level;
            self->level = audio_level & 0x7F;
            self->level_at = now;
            if (self->level <= SPEAKING_LEVEL) self->loud_at = now;
        }
    }
    Py_ssize_t count = PyList_GET_SIZE(consumers);
    if (count == 0) return 0;
    unsigned long long ntp = (unsigned long long)((dp_wall() + NTP_EPOCH_OFFSET) * 4294967296.0);
    /* The steady case: every slot forwards this source and layer already (or is paused), so
     * the packet goes out without a Python object made for it. */
    int steady = 1;
    for (Py_ssize_t i = 0; i < count && steady; i++) {
        PyObject *slot = PyList_GET_ITEM(consumers, i);
        steady = PyObject_TypeCheck(slot, &SlotType) &&
                 dp_slot_steady((SlotObject *)slot, (PyObject *)self, index) != SLOT_PYTHON;
    }
    if (steady) {
        for (Py_ssize_t i = 0; i < count; i++) {
            SlotObject *slot = (SlotObject *)PyList_GET_ITEM(consumers, i);
            if (dp_slot_steady(slot, (PyObject *)self, index) == SLOT_SKIP) continue;
            int rc = dp_slot_tail(slot, seq, ts, marker, payload, len, level, now, ntp,
                                  has_pic ? &pic : NULL);
            if (rc == TAIL_DROPPED) rc = dp_slot_dropped(slot);
            if (rc < 0 && slot_failed(self, (PyObject *)slot) < 0) return -1;
        }
        return 0;
    }
    PyObject *body = PyBytes_FromStringAndSize((const char *)payload, len);
    PyObject *pic_obj = has_pic ? picture_tuple(&pic) : Py_NewRef(Py_None);
    PyObject *args[11];
    args[0] = (PyObject *)self;
    args[1] = PyLong_FromLong(index);
    args[2] = PyLong_FromUnsignedLong(seq);
    args[3] = PyLong_FromUnsignedLongLong(ts);
    args[4] = PyLong_FromLong(marker ? 1 : 0);
    args[5] = body;
    args[6] = PyBool_FromLong(key);
    args[7] = PyLong_FromLong(level);
    args[8] = PyFloat_FromDouble(now);
    args[9] = PyLong_FromUnsignedLongLong(ntp);
    args[10] = pic_obj;
    int rc = 0;
    for (int i = 1; i < 11; i++)
        if (args[i] == NULL) rc = -1;
    /* The list may change under us (a slot's slow path can reassign): take a copy. */
    PyObject *slots = rc ? NULL : PyList_GetSlice(consumers, 0, count);
    if (slots == NULL) rc = -1;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(slots); i++) {
        PyObject *slot = PyList_GET_ITEM(slots, i);
        PyObject *r;
        if (PyObject_TypeCheck(slot, &SlotType))
            r = dp_slot_write((SlotObject *)slot, args, 11);
        else
            r = call_write(slot, args);
        if (r == NULL)
            rc = slot_failed(self, slot);
        else
            Py_DECREF(r);
    }
    Py_XDECREF(slots);
    for (int i = 1; i < 11; i++) Py_XDECREF(args[i]);
    return rc;
}

/* Source.on_packet for a packet object (the Python receive path, tests). */
static PyObject *Source_on_packet(SourceObject *self, PyObject *packet) {
    if (self->closed) Py_RETURN_NONE;
    PyObject *ssrc = PyObject_GetAttrString(packet, "ssrc");
    if (ssrc == NULL) return NULL;
    PyObject *index_obj = self->layer_of_ssrc ? PyDict_GetItemWithError(self->layer_of_ssrc, ssrc)
                                              : NULL;
    Py_DECREF(ssrc);
    long index;
    if (index_obj != NULL) {
        index = PyLong_AsLong(index_obj);
    } else {
        if (PyErr_Occurred()) return NULL;
        PyObject *learned = PyObject_CallMethod((PyObject *)self, "_learn", "O", packet);
        if (learned == NULL) return NULL;
        if (learned == Py_None) {
            Py_DECREF(learned);
            Py_RETURN_NONE; /* a simulcast packet of a layer not yet named: wait for its rid */
        }
        index = PyLong_AsLong(learned);
        Py_DECREF(learned);
    }
    if (index == -1 && PyErr_Occurred()) return NULL;
    PyObject *payload = PyObject_GetAttrString(packet, "payload");
    PyObject *seq = PyObject_GetAttrString(packet, "sequence_number");
    PyObject *ts = PyObject_GetAttrString(packet, "timestamp");
    PyObject *marker = PyObject_GetAttrString(packet, "marker");
    PyObject *result = NULL;
    int level = -1;
    if (payload == NULL || seq == NULL || ts == NULL || marker == NULL) goto done;
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        goto done;
    }
    if (!self->is_video) {
        PyObject *ext = PyObject_GetAttrString(packet, "extensions");
        if (ext == NULL) goto done;
        PyObject *al = PyObject_GetAttrString(ext, "audio_level");
        Py_DECREF(ext);
        if (al == NULL) goto done;
        if (PyTuple_Check(al) && PyTuple_GET_SIZE(al) == 2) {
            int voice = PyObject_IsTrue(PyTuple_GET_ITEM(al, 0));
            long value = PyLong_AsLong(PyTuple_GET_ITEM(al, 1));
            level = (voice ? 0x80 : 0) | (int)(value & 0x7F);
        }
        Py_DECREF(al);
        if (PyErr_Occurred()) goto done;
    }
    unsigned long s = PyLong_AsUnsignedLong(seq);
    unsigned long long t = PyLong_AsUnsignedLongLong(ts);
    int m = PyObject_IsTrue(marker);
    if (PyErr_Occurred()) goto done;
    if (dp_source_packet(self, index, (unsigned int)(s & 0xFFFF), t, m,
                         (const unsigned char *)PyBytes_AS_STRING(payload),
                         PyBytes_GET_SIZE(payload), level) == 0) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
done:
    Py_XDECREF(payload);
    Py_XDECREF(seq);
    Py_XDECREF(ts);
    Py_XDECREF(marker);
    return result;
}

static PyMethodDef Source_methods[] = {
    {"on_packet", (PyCFunction)Source_on_packet, METH_O,
     "Forward one packet from the publisher to every consuming slot."},
    {NULL}};

static PyMemberDef Source_members[] = {
    {"consumers", T_OBJECT, offsetof(SourceObject, consumers), 0, NULL},
    {"layers", T_OBJECT, offsetof(SourceObject, layers), 0, NULL},
    {"layer_of_ssrc", T_OBJECT, offsetof(SourceObject, layer_of_ssrc), 0, NULL},
    {"muted", T_BOOL, offsetof(SourceObject, muted), 0, NULL},
    {"closed", T_BOOL, offsetof(SourceObject, closed), 0, NULL},
    {"is_video", T_BOOL, offsetof(SourceObject, is_video), 0, NULL},
    {"packets_in", T_LONGLONG, offsetof(SourceObject, packets_in), 0, NULL},
    {"bytes_in", T_LONGLONG, offsetof(SourceObject, bytes_in), 0, NULL},
    {"frames_in", T_LONGLONG, offsetof(SourceObject, frames_in), 0, NULL},
    {"level", T_INT, offsetof(SourceObject, level), 0, NULL},
    {"level_at", T_DOUBLE, offsetof(SourceObject, level_at), 0, NULL},
    {"loud_at", T_DOUBLE, offsetof(SourceObject, loud_at), 0, NULL},
    {NULL}};

PyTypeObject SourceType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.SourceCore",
    .tp_basicsize = sizeof(SourceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Source_init,
    .tp_dealloc = (destructor)Source_dealloc,
    .tp_traverse = (traverseproc)Source_traverse,
    .tp_clear = (inquiry)Source_clear,
    .tp_methods = Source_methods,
    .tp_members = Source_members,
};
