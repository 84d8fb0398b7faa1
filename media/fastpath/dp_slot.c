/* A receive slot's forwarding in C: sequence/timestamp rebasing (`RewriterCore`, the base of
 * media/rewrite.py `Rewriter`) and the steady case of media/forwarder.py `OutSlot.write`
 * (`SlotCore`): map, picture id and TL0PICIDX continuity, the header with the slot's own
 * extensions (and the downlink's transport-wide number), then the output's protect and send.
 */
#include "datapath.h"

#include <string.h>

/* ---- Rewriter ------------------------------------------------------------------------ */


static int Rewriter_init(RewriterObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"clock_rate", "last_seq", "last_ts", NULL};
    unsigned int last_seq = 0;
    unsigned long long last_ts = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|IK", kwlist, &self->clock_rate, &last_seq,
                                     &last_ts))
        return -1;
    self->last_seq = last_seq & 0xFFFF;
    self->last_ts = last_ts & 0xFFFFFFFFULL;
    self->last_time = 0.0;
    self->has_sent = 0;
    self->seq_offset = self->start_in = self->high_in = 0;
    self->ts_offset = 0;
    return 0;
}

static void rewriter_cut(RewriterObject *self, unsigned int in_seq, unsigned long long in_ts,
                         double now) {
    unsigned int out_seq = (self->last_seq + 1) & 0xFFFF;
    unsigned long long out_ts = self->last_ts;
    if (self->has_sent) {
        long long step = (long long)((now - self->last_time) * self->clock_rate);
        if (step < 1) step = 1;
        out_ts = (self->last_ts + (unsigned long long)step) & 0xFFFFFFFFULL;
    }
    self->seq_offset = (out_seq - in_seq) & 0xFFFF;
    self->ts_offset = (out_ts - in_ts) & 0xFFFFFFFFULL;
    self->start_in = in_seq & 0xFFFF;
    self->high_in = (in_seq - 1) & 0xFFFF;
}

/* 1 mapped (out_seq/out_ts set), 0 not part of this segment. */
static int rewriter_map(RewriterObject *self, unsigned int in_seq, unsigned long long in_ts,
                        double now, unsigned int *out_seq, unsigned long long *out_ts) {
    in_seq &= 0xFFFF;
    if (((in_seq - self->start_in) & 0xFFFF) >= 0x8000) return 0;
    int ahead = (int)((in_seq - self->high_in) & 0xFFFF);
    if (JUMP < ahead && ahead < 0x8000) return 0;
    *out_seq = (in_seq + self->seq_offset) & 0xFFFF;
    *out_ts = (in_ts + self->ts_offset) & 0xFFFFFFFFULL;
    if (ahead - 1 < 0x7FFF) {
        self->high_in = in_seq;
        self->last_seq = *out_seq;
        self->last_ts = *out_ts;
        self->last_time = now;
        self->has_sent = 1;
    }
    return 1;
}

static int rewriter_is_far(RewriterObject *self, unsigned int in_seq) {
    int distance = (int)((in_seq - self->high_in) & 0xFFFF);
    return JUMP < distance && distance < 0x10000 - JUMP;
}

static PyObject *Rewriter_cut(RewriterObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"in_seq", "in_ts", "now", NULL};
    unsigned int in_seq;
    unsigned long long in_ts;
    double now;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "IKd", kwlist, &in_seq, &in_ts, &now))
        return NULL;
    rewriter_cut(self, in_seq, in_ts, now);
    Py_RETURN_NONE;
}

static PyObject *Rewriter_map(RewriterObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"in_seq", "in_ts", "now", NULL};
    unsigned int in_seq, out_seq;
    unsigned long long in_ts, out_ts;
    double now;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "IKd", kwlist, &in_seq, &in_ts, &now))
        return NULL;
    if (!rewriter_map(self, in_seq, in_ts, now, &out_seq, &out_ts)) Py_RETURN_NONE;
    return Py_BuildValue("(IK)", out_seq, out_ts);
}

static PyObject *Rewriter_is_far(RewriterObject *self, PyObject *arg) {
    long in_seq = PyLong_AsLong(arg);
    if (in_seq == -1 && PyErr_Occurred()) return NULL;
    return PyBool_FromLong(rewriter_is_far(self, (unsigned int)in_seq));
}

static PyObject *Rewriter_skip(RewriterObject *self, PyObject *arg) {
    long value = PyLong_AsLong(arg);
    if (value == -1 && PyErr_Occurred()) return NULL;
    unsigned int in_seq = (unsigned int)value & 0xFFFF;
    unsigned int d = (in_seq - self->high_in) & 0xFFFF;
    if (d != 0 && d < 0x8000) {
        self->high_in = in_seq;
        self->seq_offset = (self->seq_offset - 1) & 0xFFFF;
    }
    Py_RETURN_NONE;
}

static PyMethodDef Rewriter_methods[] = {
    {"cut", (PyCFunction)(void (*)(void))Rewriter_cut, METH_VARARGS | METH_KEYWORDS, "Start a segment at (in_seq, in_ts)."},
    {"map", (PyCFunction)(void (*)(void))Rewriter_map, METH_VARARGS | METH_KEYWORDS, "(out_seq, out_ts) or None."},
    {"is_far", (PyCFunction)Rewriter_is_far, METH_O, "Too far to be loss or reordering."},
    {"skip", (PyCFunction)Rewriter_skip, METH_O, "Close the hole of a dropped packet."},
    {NULL}};

static PyMemberDef Rewriter_members[] = {
    {"last_seq", T_UINT, offsetof(RewriterObject, last_seq), 0, NULL},
    {"last_ts", T_ULONGLONG, offsetof(RewriterObject, last_ts), 0, NULL},
    {"last_time", T_DOUBLE, offsetof(RewriterObject, last_time), 0, NULL},
    {NULL}};

PyTypeObject RewriterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.RewriterCore",
    .tp_basicsize = sizeof(RewriterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Rewriter_init,
    .tp_methods = Rewriter_methods,
    .tp_members = Rewriter_members,
};

/* ---- Slot: one receive slot's steady forwarding ----------------------------------------- */


static int Slot_traverse(SlotObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->output);
    Py_VISIT(self->rewriter);
    Py_VISIT(self->current);
    Py_VISIT(self->pending);
    return 0;
}

static int Slot_clear(SlotObject *self) {
    Py_CLEAR(self->output);
    Py_CLEAR(self->rewriter);
    Py_CLEAR(self->current);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->ext);
    Py_CLEAR(self->abs_before);
    Py_CLEAR(self->abs_after);
    Py_CLEAR(self->level_block);
    return 0;
}

static void Slot_dealloc(SlotObject *self) {
    PyObject_GC_UnTrack(self);
    Slot_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Slot_init(SlotObject *self, PyObject *args, PyObject *kwds) {
    self->want = 2;
    self->pid_last = self->tl0_last = -1;
    return 0;
}

/* The picture id and TL0PICIDX continuity of OutSlot._picture, on the payload already
 * copied into the packet at `data` (`len` bytes). 0, or -1 with ValueError set. */
static int slot_picture(SlotObject *self, unsigned char *data, Py_ssize_t len,
                        const Picture *pic) {
    if (pic->pid_bits) {
        long mask = pic->pid_bits == 15 ? 0x7FFF : 0x7F;
        long out = (pic->pid + self->pid_delta) & mask;
        long last = self->pid_last;
        if (last < 0 || ((out - last) & mask) <= (mask >> 1)) self->pid_last = (int)out;
    }
    if (pic->tl0_pos) {
        long out_tl0 = (pic->tl0 + self->tl0_delta) & 0xFF;
        if (self->tl0_last < 0 || ((out_tl0 - self->tl0_last) & 0xFF) < 0x80)
            self->tl0_last = (int)out_tl0;
    }
    if (!self->pid_delta && !self->tl0_delta) return 0;
    if ((pic->pid_bits == 15 && pic->pid_pos + 1 >= len) ||
        (pic->pid_bits == 7 && pic->pid_pos >= len) || (pic->tl0_pos && pic->tl0_pos >= len)) {
        PyErr_SetString(PyExc_ValueError, "picture fields outside the payload");
        return -1;
    }
    if (pic->pid_bits == 15) {
        long value = (pic->pid + self->pid_delta) & 0x7FFF;
        data[pic->pid_pos] = (unsigned char)(0x80 | (value >> 8));
        data[pic->pid_pos + 1] = (unsigned char)(value & 0xFF);
    } else if (pic->pid_bits == 7) {
        data[pic->pid_pos] = (unsigned char)((pic->pid + self->pid_delta) & 0x7F);
    }
    if (pic->tl0_pos) data[pic->tl0_pos] = (unsigned char)((pic->tl0 + self->tl0_delta) & 0xFF);
    return 0;
}

static int is_bytes(PyObject *o) { return o != NULL && PyBytes_Check(o); }

/* The slot's extension block for this packet into `ext`; its length, or -1 (too long). */
static Py_ssize_t slot_extensions(SlotObject *self, unsigned char *ext, int level,
                                  unsigned long long ntp) {
    Py_ssize_t ext_len = 0;
    if (is_bytes(self->abs_before) && is_bytes(self->abs_after)) {
        Py_ssize_t a = PyBytes_GET_SIZE(self->abs_before), b = PyBytes_GET_SIZE(self->abs_after);
        if (a + 3 + b > 56) return -1;
        memcpy(ext, PyBytes_AS_STRING(self->abs_before), a);
        unsigned long long abs = (ntp >> 14) & 0xFFFFFF;
        ext[a] = (unsigned char)(abs >> 16);
        ext[a + 1] = (unsigned char)(abs >> 8);
        ext[a + 2] = (unsigned char)abs;
        memcpy(ext + a + 3, PyBytes_AS_STRING(self->abs_after), b);
        ext_len = a + 3 + b;
    } else if (level >= 0 && is_bytes(self->level_block)) {
        ext_len = PyBytes_GET_SIZE(self->level_block);
        if (ext_len > 56 || self->level_pos >= ext_len) return -1;
        memcpy(ext, PyBytes_AS_STRING(self->level_block), ext_len);
        ext[self->level_pos] = (unsigned char)level;
    } else if (is_bytes(self->ext)) {
        ext_len = PyBytes_GET_SIZE(self->ext);
        if (ext_len > 56) return -1;
        memcpy(ext, PyBytes_AS_STRING(self->ext), ext_len);
    }
    return ext_len;
}

/* Map, rewrite, build the header and send: the end of OutSlot.write. TAIL_SENT, TAIL_UNMAPPED
 * (not of the current segment), TAIL_DROPPED (could not go out), or -1 with an error set. */
int dp_slot_tail(SlotObject *self, unsigned int seq, unsigned long long ts, int marker,
                 const unsigned char *payload, Py_ssize_t payload_len, int level, double now,
                 unsigned long long ntp, const Picture *pic) {
    if (self->rewriter == NULL || !PyObject_TypeCheck(self->rewriter, &RewriterType)) {
        PyErr_SetString(PyExc_TypeError, "slot rewriter is not a RewriterCore");
        return -1;
    }
    RewriterObject *rw = (RewriterObject *)self->rewriter;
    unsigned int out_seq;
    unsigned long long out_ts;
    if (!rewriter_map(rw, seq, ts, now, &out_seq, &out_ts)) {
        if (rewriter_is_far(rw, seq & 0xFFFF)) self->synced = 0;
        return TAIL_UNMAPPED;
    }
    unsigned char plain[MAX_PLAIN + 64];
    unsigned char *ext = plain + 12;
    Py_ssize_t ext_len = slot_extensions(self, ext, level, ntp);
    if (ext_len < 0) goto too_long;
    int is_output = self->output != NULL && PyObject_TypeCheck(self->output, &OutputType);
    PyObject *link = is_output ? ((OutputObject *)self->output)->link : NULL;
    /* Only what will really go out is numbered: a number skipped (a packet dropped before the
     * keys exist) would read as a loss in the subscriber's feedback. */
    if (link != NULL && PyObject_TypeCheck(link, &LinkType) && ((LinkObject *)link)->tcc_id &&
        ((LinkObject *)link)->protect != NULL)
        ext_len = dp_link_stamp(link, ext, ext_len, 12 + ext_len + payload_len);
    Py_ssize_t len = 12 + ext_len + payload_len;
    if (len > MAX_PLAIN) goto too_long;
    plain[0] = ext_len ? 0x90 : 0x80;
    plain[1] = (unsigned char)(((marker ? 1 : 0) << 7) | (self->payload_type & 0x7F));
    plain[2] = (unsigned char)(out_seq >> 8);
    plain[3] = (unsigned char)out_seq;
    plain[4] = (unsigned char)(out_ts >> 24);
    plain[5] = (unsigned char)(out_ts >> 16);
    plain[6] = (unsigned char)(out_ts >> 8);
    plain[7] = (unsigned char)out_ts;
    plain[8] = (unsigned char)(self->ssrc >> 24);
    plain[9] = (unsigned char)(self->ssrc >> 16);
    plain[10] = (unsigned char)(self->ssrc >> 8);
    plain[11] = (unsigned char)self->ssrc;
    unsigned char *body = plain + 12 + ext_len;
    memcpy(body, payload, (size_t)payload_len);
    if (pic != NULL && slot_picture(self, body, payload_len, pic) < 0) return -1;
    int rc;
    if (is_output) {
        rc = dp_output_send((OutputObject *)self->output, plain, len, out_seq, out_ts, ntp,
                            payload_len);
    } else {
        PyObject *ok = PyObject_CallMethod(self->output, "send", "y#IKKn", (const char *)plain,
                                           len, out_seq, out_ts, ntp, payload_len);
        if (ok == NULL) return -1;
        rc = PyObject_IsTrue(ok);
        Py_DECREF(ok);
    }
    if (rc < 0) return -1;
    if (rc) {
        self->packets_out++;
        self->bytes_out += len;
        if (marker || !self->is_video) self->frames_out++;
        return TAIL_SENT;
    }
    self->dropped++;
    return TAIL_DROPPED;
too_long:
    PyErr_SetString(PyExc_ValueError, "packet is too long");
    return -1;
}

/* What `write` for a packet of (source, layer) comes to, by OutSlot._write_slow's rules:
 * SLOT_FORWARD (the current source and layer, synced: the tail here), SLOT_SKIP (paused, or a
 * packet the slot ignores: another layer than the one it forwards or waits for, a source it
 * neither forwards nor waits for), or SLOT_PYTHON (a cut, a switch, a resync: decided there). */
int dp_slot_steady(SlotObject *self, PyObject *source, long layer) {
    if (self->is_video && self->want < 0) return SLOT_SKIP;
    if (source == self->current) {
        if (layer == self->layer) {
            if (self->synced) return SLOT_FORWARD;
            return layer == self->target ? SLOT_PYTHON : SLOT_SKIP;
        }
        return layer == self->target ? SLOT_PYTHON : SLOT_SKIP;
    }
    return source == self->pending && layer == self->target ? SLOT_PYTHON : SLOT_SKIP;
}

/* After TAIL_DROPPED: if the link went down, resume at a keyframe once it is back. */
int dp_slot_dropped(SlotObject *self) {
    PyObject *ready = PyObject_GetAttrString(self->output, "ready");
    if (ready == NULL) return -1;
    int up = PyObject_IsTrue(ready);
    Py_DECREF(ready);
    if (up < 0) return -1;
    if (!up) self->synced = 0;
    return 0;
}

int dp_picture_from(PyObject *pic, Picture *out) {
    if (pic == Py_None) return 0;
    if (!PyTuple_Check(pic) || PyTuple_GET_SIZE(pic) != 5) {
        PyErr_SetString(PyExc_TypeError, "picture fields must be a 5-tuple");
        return -1;
    }
    long f[5];
    for (int i = 0; i < 5; i++) {
        f[i] = PyLong_AsLong(PyTuple_GET_ITEM(pic, i));
        if (f[i] == -1 && PyErr_Occurred()) return -1;
    }
    out->pid_pos = f[0];
    out->pid_bits = f[1];
    out->pid = f[2];
    out->tl0_pos = f[3];
    out->tl0 = f[4];
    if (out->pid_pos < 0 || out->tl0_pos < 0) {
        PyErr_SetString(PyExc_ValueError, "picture field offsets must not be negative");
        return -1;
    }
    return 1;
}

/* dp_slot_tail from Python objects (the arguments of `_tail` and of `write`). */
static int tail_from(SlotObject *self, PyObject *seq_obj, PyObject *ts_obj, PyObject *marker_obj,
                     PyObject *payload, PyObject *level_obj, PyObject *now_obj,
                     PyObject *ntp_obj, PyObject *pic_obj) {
    unsigned long seq = PyLong_AsUnsignedLong(seq_obj);
    unsigned long long ts = PyLong_AsUnsignedLongLong(ts_obj);
    int marker = PyObject_IsTrue(marker_obj);
    long level = PyLong_AsLong(level_obj);
    double now = PyFloat_AsDouble(now_obj);
    unsigned long long ntp = PyLong_AsUnsignedLongLong(ntp_obj);
    if (PyErr_Occurred()) return -1;
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        return -1;
    }
    Picture pic;
    int has_pic = dp_picture_from(pic_obj, &pic);
    if (has_pic < 0) return -1;
    return dp_slot_tail(self, (unsigned int)seq, ts, marker,
                        (const unsigned char *)PyBytes_AS_STRING(payload),
                        PyBytes_GET_SIZE(payload), (int)level, now, ntp, has_pic ? &pic : NULL);
}

static PyObject *Slot_tail(SlotObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "_tail takes 8 arguments");
        return NULL;
    }
    /* seq, ts, marker, payload, level, now, ntp, pic */
    int rc = tail_from(self, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
                       args[7]);
    if (rc < 0) return NULL;
    if (rc == TAIL_UNMAPPED) Py_RETURN_NONE;
    return PyBool_FromLong(rc == TAIL_SENT);
}

/* OutSlot.write: the steady case here, anything else in the subclass's `_write_slow`. */
PyObject *dp_slot_write(SlotObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 10 || nargs > 11) {
        PyErr_SetString(PyExc_TypeError, "write takes 10 or 11 arguments");
        return NULL;
    }
    /* source, layer, seq, ts, marker, payload, key, level, now, ntp[, pic] */
    long layer = PyLong_AsLong(args[1]);
    if (layer == -1 && PyErr_Occurred()) return NULL;
    int route = dp_slot_steady(self, args[0], layer);
    if (route == SLOT_SKIP) Py_RETURN_NONE;
    if (route == SLOT_PYTHON) {
        PyObject *slow = PyUnicode_InternFromString("_write_slow");
        if (slow == NULL) return NULL;
        PyObject *call_args[12];
        call_args[0] = (PyObject *)self;
        for (Py_ssize_t i = 0; i < nargs; i++) call_args[i + 1] = args[i];
        PyObject *result =
            PyObject_VectorcallMethod(slow, call_args, (size_t)(nargs + 1), NULL);
        Py_DECREF(slow);
        return result;
    }
    int rc = tail_from(self, args[2], args[3], args[4], args[5], args[7], args[8], args[9],
                       nargs > 10 ? args[10] : Py_None);
    if (rc < 0 || (rc == TAIL_DROPPED && dp_slot_dropped(self) < 0)) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef Slot_methods[] = {
    {"write", (PyCFunction)(void (*)(void))dp_slot_write, METH_FASTCALL,
     "write(source, layer, seq, ts, marker, payload, key, level, now, ntp, pic=None)"},
    {"_tail", (PyCFunction)(void (*)(void))Slot_tail, METH_FASTCALL,
     "_tail(seq, ts, marker, payload, level, now, ntp, pic) -> True/False sent, None unmapped"},
    {NULL}};

static PyMemberDef Slot_members[] = {
    {"output", T_OBJECT, offsetof(SlotObject, output), 0, NULL},
    {"rewriter", T_OBJECT, offsetof(SlotObject, rewriter), 0, NULL},
    {"current", T_OBJECT, offsetof(SlotObject, current), 0, NULL},
    {"pending", T_OBJECT, offsetof(SlotObject, pending), 0, NULL},
    {"_ext", T_OBJECT, offsetof(SlotObject, ext), 0, NULL},
    {"_abs_before", T_OBJECT, offsetof(SlotObject, abs_before), 0, NULL},
    {"_abs_after", T_OBJECT, offsetof(SlotObject, abs_after), 0, NULL},
    {"_level_block", T_OBJECT, offsetof(SlotObject, level_block), 0, NULL},
    {"_level_pos", T_INT, offsetof(SlotObject, level_pos), 0, NULL},
    {"synced", T_BOOL, offsetof(SlotObject, synced), 0, NULL},
    {"layer", T_INT, offsetof(SlotObject, layer), 0, NULL},
    {"target", T_INT, offsetof(SlotObject, target), 0, NULL},
    {"want", T_INT, offsetof(SlotObject, want), 0, NULL},
    {"is_video", T_BOOL, offsetof(SlotObject, is_video), 0, NULL},
    {"payload_type", T_INT, offsetof(SlotObject, payload_type), 0, NULL},
    {"ssrc", T_UINT, offsetof(SlotObject, ssrc), 0, NULL},
    {"_pid_delta", T_INT, offsetof(SlotObject, pid_delta), 0, NULL},
    {"_tl0_delta", T_INT, offsetof(SlotObject, tl0_delta), 0, NULL},
    {"_pid_last", T_INT, offsetof(SlotObject, pid_last), 0, NULL},
    {"_tl0_last", T_INT, offsetof(SlotObject, tl0_last), 0, NULL},
    {"packets_out", T_LONGLONG, offsetof(SlotObject, packets_out), 0, NULL},
    {"bytes_out", T_LONGLONG, offsetof(SlotObject, bytes_out), 0, NULL},
    {"frames_out", T_LONGLONG, offsetof(SlotObject, frames_out), 0, NULL},
    {"dropped", T_LONGLONG, offsetof(SlotObject, dropped), 0, NULL},
    {NULL}};

PyTypeObject SlotType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.SlotCore",
    .tp_basicsize = sizeof(SlotObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Slot_init,
    .tp_dealloc = (destructor)Slot_dealloc,
    .tp_traverse = (traverseproc)Slot_traverse,
    .tp_clear = (inquiry)Slot_clear,
    .tp_methods = Slot_methods,
    .tp_members = Slot_members,
};

