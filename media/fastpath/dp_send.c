/* The send side of the C data path: sequence/timestamp rebasing (`RewriterCore`), one
 * subscriber's SRTP session and socket (`LinkCore`), one outgoing stream's counters and NACK
 * history (`OutputCore`) and a receive slot's steady forwarding (`SlotCore`).
 */
#include "datapath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

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

/* ---- Link: one subscriber's SRTP session and UDP socket --------------------------------- */


static int Link_init(LinkObject *self, PyObject *args, PyObject *kwds) {
    self->fd = -1;
    self->tcc_id = 0;
    self->tcc_seq = 0;
    for (int i = 0; i < SENT_HISTORY; i++) self->sent_seq[i] = -1;
    self->addrlen = 0;
    self->protect = NULL;
    self->ctx = NULL;
    self->sent = self->octets_sent = self->dropped = self->rtx_refused = 0;
    self->rtx_budget = Py_HUGE_VAL;
    return 0;
}

static PyObject *Link_set_srtp(LinkObject *self, PyObject *args) {
    unsigned long long fn, ctx;
    PyObject *owner;
    if (!PyArg_ParseTuple(args, "KKO", &fn, &ctx, &owner)) return NULL;
    Py_INCREF(owner); /* the session: its context must outlive our pointer to it */
    Py_XSETREF(self->srtp_owner, owner);
    self->protect = (srtp_fn)(uintptr_t)fn;
    self->ctx = (void *)(uintptr_t)ctx;
    Py_RETURN_NONE;
}

static PyObject *Link_clear_srtp(LinkObject *self, PyObject *unused) {
    self->protect = NULL;
    self->ctx = NULL;
    Py_CLEAR(self->srtp_owner);
    Py_RETURN_NONE;
}

static PyObject *Link_set_socket(LinkObject *self, PyObject *args) {
    int fd, port;
    const char *host;
    if (!PyArg_ParseTuple(args, "isi", &fd, &host, &port)) return NULL;
    memset(&self->addr, 0, sizeof(self->addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        self->addrlen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        self->addrlen = sizeof(*v6);
    } else {
        self->fd = -1;
        Py_RETURN_FALSE; /* not a literal address: the Python path sends */
    }
    self->fd = fd;
    Py_RETURN_TRUE;
}

static PyObject *Link_clear_socket(LinkObject *self, PyObject *unused) {
    self->fd = -1;
    Py_RETURN_NONE;
}

/* 1 sent, 0 dropped (send buffer full, network gone). */
static int link_sendto(LinkObject *self, const void *data, size_t len) {
    ssize_t rc = sendto(self->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&self->addr,
                        self->addrlen);
    if (rc < 0) {
        self->dropped++;
        return 0;
    }
    self->sent++;
    self->octets_sent += (long long)len;
    return 1;
}

/* Protect `len` bytes already in self->buffer; the new length, or -1 (error set). */
static int link_protect_buffer(LinkObject *self, int len) {
    int n = len;
    int rc = self->protect(self->ctx, self->buffer, &n);
    if (rc) {
        PyErr_Format(PyExc_ValueError, "srtp_protect failed (%d)", rc);
        return -1;
    }
    return n;
}

static PyObject *Link_protect(LinkObject *self, PyObject *arg) {
    if (self->protect == NULL) return PyObject_CallMethod((PyObject *)self, "_protect_slow", "O", arg);
    char *data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(arg, &data, &len) < 0) return NULL;
    if (len > MAX_PLAIN) {
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    memcpy(self->buffer, data, (size_t)len);
    int n = link_protect_buffer(self, (int)len);
    if (n < 0) return NULL;
    return PyBytes_FromStringAndSize((const char *)self->buffer, n);
}

static PyObject *Link_send(LinkObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"data", "urgent", NULL};
    PyObject *data;
    int urgent = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist, &data, &urgent)) return NULL;
    if (self->fd < 0)
        return PyObject_CallMethod((PyObject *)self, "_send_slow", "OO", data,
                                   urgent ? Py_True : Py_False);
    char *buf;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(data, &buf, &len) < 0) return NULL;
    return PyBool_FromLong(link_sendto(self, buf, (size_t)len));
}

static PyObject *Link_set_transport_cc(LinkObject *self, PyObject *arg) {
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    if (id < 0 || id > 14) {
        PyErr_SetString(PyExc_ValueError, "transport-cc needs a one-byte extension id (1-14)");
        return NULL;
    }
    self->tcc_id = (int)id;
    Py_RETURN_NONE;
}

static PyMethodDef Link_methods[] = {
    {"set_transport_cc", (PyCFunction)Link_set_transport_cc, METH_O,
     "Number what is sent with this transport-cc extension id (0: stop)."},
    {"transport_feedback", (PyCFunction)dp_link_feedback, METH_O,
     "Fold one transport-cc feedback FCI in; (received, lost) among our packets."},
    {"set_srtp", (PyCFunction)Link_set_srtp, METH_VARARGS,
     "set_srtp(fn, ctx, session): protect with fn(ctx, ...); holds the session."},
    {"clear_srtp", (PyCFunction)Link_clear_srtp, METH_NOARGS, "Not keyed (or closed)."},
    {"set_socket", (PyCFunction)Link_set_socket, METH_VARARGS, "Send on fd to (host, port)."},
    {"clear_socket", (PyCFunction)Link_clear_socket, METH_NOARGS, "No direct socket."},
    {"protect", (PyCFunction)Link_protect, METH_O, "SRTP-protect one RTP packet."},
    {"send", (PyCFunction)(void (*)(void))Link_send, METH_VARARGS | METH_KEYWORDS,
     "Send one datagram; False if it was dropped."},
    {NULL}};

static PyMemberDef Link_members[] = {
    {"sent", T_LONGLONG, offsetof(LinkObject, sent), 0, NULL},
    {"octets_sent", T_LONGLONG, offsetof(LinkObject, octets_sent), 0, NULL},
    {"dropped", T_LONGLONG, offsetof(LinkObject, dropped), 0, NULL},
    {"rtx_refused", T_LONGLONG, offsetof(LinkObject, rtx_refused), 0, NULL},
    {"rtx_budget", T_DOUBLE, offsetof(LinkObject, rtx_budget), 0, NULL},
    {"transport_seq", T_UINT, offsetof(LinkObject, tcc_seq), 0,
     "The next transport-wide sequence number."},
    {NULL}};

static PyObject *Link_get_direct(LinkObject *self, void *closure) {
    return PyBool_FromLong(self->fd >= 0 && self->protect != NULL);
}

static PyObject *Link_get_trend_state(LinkObject *self, void *closure) {
    static const char *names[] = {"normal", "overusing", "underusing"};
    int state = self->trend ? dp_trend_state(self->trend) : TREND_NORMAL;
    return PyUnicode_FromString(names[state >= 0 && state <= 2 ? state : 0]);
}

static PyObject *Link_get_acked_bps(LinkObject *self, void *closure) {
    double bps = self->trend ? dp_trend_acked_bps(self->trend) : -1.0;
    if (bps < 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(bps);
}

static PyObject *Link_get_queue_delay_ms(LinkObject *self, void *closure) {
    return PyFloat_FromDouble(self->trend ? dp_trend_queue_delay_ms(self->trend) : 0.0);
}

static PyGetSetDef Link_getset[] = {
    {"trend_state", (getter)Link_get_trend_state, NULL,
     "The delay trend from transport-cc feedback: normal, overusing or underusing.", NULL},
    {"acked_bps", (getter)Link_get_acked_bps, NULL,
     "What got through per the feedback, bits/s (None: not enough yet).", NULL},
    {"queue_delay_ms", (getter)Link_get_queue_delay_ms, NULL,
     "How much later than the least of the last ~10 s the newest packet arrived.", NULL},
    {"direct", (getter)Link_get_direct, NULL, "Keyed and on a socket: sends stay in C.", NULL},
    {NULL}};

static int Link_traverse(LinkObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->srtp_owner);
    return 0;
}

static int Link_clear(LinkObject *self) {
    Py_CLEAR(self->srtp_owner);
    return 0;
}

static void Link_dealloc(LinkObject *self) {
    PyObject_GC_UnTrack(self);
    Link_clear(self);
    if (self->trend != NULL) dp_trend_free(self->trend);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyTypeObject LinkType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.LinkCore",
    .tp_basicsize = sizeof(LinkObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)Link_dealloc,
    .tp_traverse = (traverseproc)Link_traverse,
    .tp_clear = (inquiry)Link_clear,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Link_init,
    .tp_methods = Link_methods,
    .tp_members = Link_members,
    .tp_getset = Link_getset,
};

/* ---- Output: one outgoing stream's counters and NACK history ---------------------------- */


static int Output_init(OutputObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"link", "ssrc", "history", "urgent", NULL};
    PyObject *link;
    unsigned int ssrc;
    int history = 0, urgent = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OI|ip", kwlist, &link, &ssrc, &history,
                                     &urgent))
        return -1;
    Py_INCREF(link);
    Py_XSETREF(self->link, link);
    self->ssrc = ssrc;
    self->urgent = urgent;
    self->packets = self->octets = 0;
    self->last_timestamp = self->last_ntp = 0;
    self->mask = -1;
    if (history > 0 && self->hist_seq == NULL) {
        int size = 1;
        while (size < history) size <<= 1;
        self->hist_seq = PyMem_Malloc(sizeof(int) * size);
        self->hist_data = PyMem_Calloc(size, sizeof(PyObject *));
        self->hist_resent = PyMem_Malloc(sizeof(double) * size);
        if (!self->hist_seq || !self->hist_data || !self->hist_resent) {
            PyErr_NoMemory();
            return -1;
        }
        for (int i = 0; i < size; i++) {
            self->hist_seq[i] = -1;
            self->hist_resent[i] = -1.0;
        }
        self->mask = size - 1;
    }
    return 0;
}

static int Output_traverse(OutputObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->link);
    return 0;
}

static int Output_clear(OutputObject *self) {
    Py_CLEAR(self->link);
    if (self->hist_data != NULL) {
        for (int i = 0; i <= self->mask; i++) Py_CLEAR(self->hist_data[i]);
    }
    return 0;
}

static void Output_dealloc(OutputObject *self) {
    PyObject_GC_UnTrack(self);
    Output_clear(self);
    PyMem_Free(self->hist_seq);
    PyMem_Free(self->hist_data);
    PyMem_Free(self->hist_resent);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static LinkObject *fast_link(OutputObject *self) {
    if (self->link != NULL && PyObject_TypeCheck(self->link, &LinkType)) {
        LinkObject *link = (LinkObject *)self->link;
        if (link->protect != NULL && link->fd >= 0) return link;
    }
    return NULL;
}

static void output_count(OutputObject *self, unsigned int seq, unsigned long long ts,
                         unsigned long long ntp, Py_ssize_t payload_size) {
    (void)seq;
    self->packets++;
    self->octets += payload_size;
    self->last_timestamp = ts;
    self->last_ntp = ntp;
}

/* Protect and send the plain packet in `plain`; 1 sent, 0 not, -1 error set. C when the link
 * is keyed and on a socket; else through the Python `send` of the subclass's slow path. */
static int output_send(OutputObject *self, const unsigned char *plain, Py_ssize_t len,
                       unsigned int seq, unsigned long long ts, unsigned long long ntp,
                       Py_ssize_t payload_size) {
    LinkObject *link = fast_link(self);
    if (link == NULL) {
        PyObject *bytes = PyBytes_FromStringAndSize((const char *)plain, len);
        if (bytes == NULL) return -1;
        PyObject *ok = PyObject_CallMethod((PyObject *)self, "_send_slow", "OIKKn", bytes, seq,
                                           ts, ntp, payload_size);
        Py_DECREF(bytes);
        if (ok == NULL) return -1;
        int result = PyObject_IsTrue(ok);
        Py_DECREF(ok);
        return result;
    }
    if (len > MAX_PLAIN) {
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return -1;
    }
    memcpy(link->buffer, plain, (size_t)len);
    int n = link_protect_buffer(link, (int)len);
    if (n < 0) return -1;
    if (self->mask >= 0) {
        PyObject *data = PyBytes_FromStringAndSize((const char *)link->buffer, n);
        if (data == NULL) return -1;
        int i = (int)(seq & (unsigned int)self->mask);
        self->hist_seq[i] = (int)seq;
        Py_XSETREF(self->hist_data[i], data);
        self->hist_resent[i] = -1.0;
    }
    output_count(self, seq, ts, ntp, payload_size);
    return link_sendto(link, link->buffer, (size_t)n);
}

static PyObject *Output_send(OutputObject *self, PyObject *args) {
    Py_buffer plain;
    unsigned int seq;
    unsigned long long ts, ntp;
    Py_ssize_t payload_size;
    if (!PyArg_ParseTuple(args, "y*IKKn", &plain, &seq, &ts, &ntp, &payload_size)) return NULL;
    int rc = output_send(self, plain.buf, plain.len, seq, ts, ntp, payload_size);
    PyBuffer_Release(&plain);
    if (rc < 0) return NULL;
    return PyBool_FromLong(rc);
}

/* The slow path's bookkeeping for a datagram protected in Python (a fake or unkeyed link). */
static PyObject *Output_remember(OutputObject *self, PyObject *args) {
    PyObject *data;
    unsigned int seq;
    unsigned long long ts, ntp;
    Py_ssize_t payload_size;
    if (!PyArg_ParseTuple(args, "SIKKn", &data, &seq, &ts, &ntp, &payload_size)) return NULL;
    if (self->mask >= 0) {
        int i = (int)(seq & (unsigned int)self->mask);
        self->hist_seq[i] = (int)seq;
        Py_INCREF(data);
        Py_XSETREF(self->hist_data[i], data);
        self->hist_resent[i] = -1.0;
    }
    output_count(self, seq, ts, ntp, payload_size);
    Py_RETURN_NONE;
}

/* The history entry for `seq` if it may be re-sent now (claims it), else None. */
static PyObject *Output_claim(OutputObject *self, PyObject *args) {
    int seq;
    double now, gap;
    if (!PyArg_ParseTuple(args, "idd", &seq, &now, &gap)) return NULL;
    if (self->mask < 0) Py_RETURN_NONE;
    int i = seq & self->mask;
    if (self->hist_seq[i] != seq || self->hist_data[i] == NULL) Py_RETURN_NONE;
    if (now - self->hist_resent[i] < gap) Py_RETURN_NONE;
    self->hist_resent[i] = now;
    Py_INCREF(self->hist_data[i]);
    return self->hist_data[i];
}

/* Undo a claim whose datagram was not sent (over the retransmission budget). */
static PyObject *Output_unclaim(OutputObject *self, PyObject *arg) {
    long seq = PyLong_AsLong(arg);
    if (seq == -1 && PyErr_Occurred()) return NULL;
    if (self->mask >= 0 && self->hist_seq[seq & self->mask] == (int)seq)
        self->hist_resent[seq & self->mask] = -1.0;
    Py_RETURN_NONE;
}

static PyObject *Output_get_history(OutputObject *self, void *closure) {
    int size = self->mask + 1;
    PyObject *list = PyList_New(size);
    if (list == NULL) return NULL;
    for (int i = 0; i < size; i++) {
        PyObject *item = self->hist_data[i] ? self->hist_data[i] : Py_None;
        Py_INCREF(item);
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyMethodDef Output_methods[] = {
    {"send", (PyCFunction)Output_send, METH_VARARGS,
     "send(plain, seq, timestamp, ntp, payload_size) -> bool"},
    {"_remember", (PyCFunction)Output_remember, METH_VARARGS, NULL},
    {"_claim", (PyCFunction)Output_claim, METH_VARARGS, NULL},
    {"_unclaim", (PyCFunction)Output_unclaim, METH_O, NULL},
    {NULL}};

static PyMemberDef Output_members[] = {
    {"ssrc", T_UINT, offsetof(OutputObject, ssrc), 0, NULL},
    {"urgent", T_BOOL, offsetof(OutputObject, urgent), 0, NULL},
    {"packets", T_LONGLONG, offsetof(OutputObject, packets), 0, NULL},
    {"octets", T_LONGLONG, offsetof(OutputObject, octets), 0, NULL},
    {"last_timestamp", T_ULONGLONG, offsetof(OutputObject, last_timestamp), 0, NULL},
    {"last_ntp", T_ULONGLONG, offsetof(OutputObject, last_ntp), 0, NULL},
    {"_downlink", T_OBJECT, offsetof(OutputObject, link), READONLY, NULL},
    {NULL}};

static PyGetSetDef Output_getset[] = {
    {"_hist_data", (getter)Output_get_history, NULL, "The history ring (a copy).", NULL},
    {NULL}};

PyTypeObject OutputType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.OutputCore",
    .tp_basicsize = sizeof(OutputObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Output_init,
    .tp_dealloc = (destructor)Output_dealloc,
    .tp_traverse = (traverseproc)Output_traverse,
    .tp_clear = (inquiry)Output_clear,
    .tp_methods = Output_methods,
    .tp_members = Output_members,
    .tp_getset = Output_getset,
};

/* ---- Slot: one receive slot's steady forwarding ----------------------------------------- */


static int Slot_traverse(SlotObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->output);
    Py_VISIT(self->rewriter);
    Py_VISIT(self->current);
    return 0;
}

static int Slot_clear(SlotObject *self) {
    Py_CLEAR(self->output);
    Py_CLEAR(self->rewriter);
    Py_CLEAR(self->current);
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

/* The picture id and TL0PICIDX continuity of OutSlot._picture; the payload to send (new ref). */
static PyObject *slot_picture(SlotObject *self, PyObject *payload, PyObject *pic) {
    long f[5];
    if (!PyTuple_Check(pic) || PyTuple_GET_SIZE(pic) != 5) {
        PyErr_SetString(PyExc_TypeError, "picture fields must be a 5-tuple");
        return NULL;
    }
    for (int i = 0; i < 5; i++) {
        f[i] = PyLong_AsLong(PyTuple_GET_ITEM(pic, i));
        if (f[i] == -1 && PyErr_Occurred()) return NULL;
    }
    long pid_pos = f[0], pid_bits = f[1], pid = f[2], tl0_pos = f[3], tl0 = f[4];
    if (pid_bits) {
        long mask = pid_bits == 15 ? 0x7FFF : 0x7F;
        long out = (pid + self->pid_delta) & mask;
        long last = self->pid_last;
        if (last < 0 || ((out - last) & mask) <= (mask >> 1)) self->pid_last = (int)out;
    }
    if (tl0_pos) {
        long out_tl0 = (tl0 + self->tl0_delta) & 0xFF;
        if (self->tl0_last < 0 || ((out_tl0 - self->tl0_last) & 0xFF) < 0x80)
            self->tl0_last = (int)out_tl0;
    }
    if (!self->pid_delta && !self->tl0_delta) {
        Py_INCREF(payload);
        return payload;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(payload);
    if ((pid_bits == 15 && pid_pos + 1 >= n) || (pid_bits == 7 && pid_pos >= n) ||
        (tl0_pos && tl0_pos >= n)) {
        PyErr_SetString(PyExc_ValueError, "picture fields outside the payload");
        return NULL;
    }
    PyObject *copy = PyBytes_FromStringAndSize(PyBytes_AS_STRING(payload), n);
    if (copy == NULL) return NULL;
    unsigned char *data = (unsigned char *)PyBytes_AS_STRING(copy);
    if (pid_bits == 15) {
        long value = (pid + self->pid_delta) & 0x7FFF;
        data[pid_pos] = (unsigned char)(0x80 | (value >> 8));
        data[pid_pos + 1] = (unsigned char)(value & 0xFF);
    } else if (pid_bits == 7) {
        data[pid_pos] = (unsigned char)((pid + self->pid_delta) & 0x7F);
    }
    if (tl0_pos) data[tl0_pos] = (unsigned char)((tl0 + self->tl0_delta) & 0xFF);
    return copy;
}

static int is_bytes(PyObject *o) { return o != NULL && PyBytes_Check(o); }

/* Map, rewrite, build the header and send: the end of OutSlot.write. */
static PyObject *slot_tail(SlotObject *self, unsigned int seq, unsigned long long ts, int marker,
                           PyObject *payload, int level, double now, unsigned long long ntp,
                           PyObject *pic) {
    if (self->rewriter == NULL || !PyObject_TypeCheck(self->rewriter, &RewriterType)) {
        PyErr_SetString(PyExc_TypeError, "slot rewriter is not a RewriterCore");
        return NULL;
    }
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        return NULL;
    }
    RewriterObject *rw = (RewriterObject *)self->rewriter;
    unsigned int out_seq;
    unsigned long long out_ts;
    if (!rewriter_map(rw, seq, ts, now, &out_seq, &out_ts)) {
        if (rewriter_is_far(rw, seq & 0xFFFF)) self->synced = 0;
        Py_RETURN_NONE;
    }
    PyObject *body = payload;
    Py_INCREF(body);
    if (pic != Py_None) {
        Py_DECREF(body);
        body = slot_picture(self, payload, pic);
        if (body == NULL) return NULL;
    }
    unsigned char plain[MAX_PLAIN + 64];
    Py_ssize_t ext_len = 0;
    unsigned char *ext = plain + 12;
    if (is_bytes(self->abs_before) && is_bytes(self->abs_after)) {
        Py_ssize_t a = PyBytes_GET_SIZE(self->abs_before), b = PyBytes_GET_SIZE(self->abs_after);
        if (a + 3 + b > 64) goto too_long;
        memcpy(ext, PyBytes_AS_STRING(self->abs_before), a);
        unsigned long long abs = (ntp >> 14) & 0xFFFFFF;
        ext[a] = (unsigned char)(abs >> 16);
        ext[a + 1] = (unsigned char)(abs >> 8);
        ext[a + 2] = (unsigned char)abs;
        memcpy(ext + a + 3, PyBytes_AS_STRING(self->abs_after), b);
        ext_len = a + 3 + b;
    } else if (level >= 0 && is_bytes(self->level_block)) {
        ext_len = PyBytes_GET_SIZE(self->level_block);
        if (ext_len > 64) goto too_long;
        memcpy(ext, PyBytes_AS_STRING(self->level_block), ext_len);
        ext[self->level_pos] = (unsigned char)level;
    } else if (is_bytes(self->ext)) {
        ext_len = PyBytes_GET_SIZE(self->ext);
        if (ext_len > 64) goto too_long;
        memcpy(ext, PyBytes_AS_STRING(self->ext), ext_len);
    }
    Py_ssize_t body_len = PyBytes_GET_SIZE(body);
    PyObject *link = NULL;
    if (self->output != NULL && PyObject_TypeCheck(self->output, &OutputType)) {
        link = ((OutputObject *)self->output)->link;
        /* Only what will really go out is numbered: a number skipped (a packet dropped
         * before the keys exist) would read as a loss in the subscriber's feedback. */
        if (link == NULL || !PyObject_TypeCheck(link, &LinkType) ||
            !((LinkObject *)link)->tcc_id || ((LinkObject *)link)->protect == NULL)
            link = NULL;
    }
    if (link != NULL) {
        if (ext_len > 56) goto too_long;
        ext_len = dp_link_stamp(link, ext, ext_len, 12 + ext_len + body_len);
    }
    Py_ssize_t len = 12 + ext_len + body_len;
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
    memcpy(plain + 12 + ext_len, PyBytes_AS_STRING(body), body_len);
    Py_DECREF(body);
    int rc;
    if (self->output != NULL && PyObject_TypeCheck(self->output, &OutputType)) {
        rc = output_send((OutputObject *)self->output, plain, len, out_seq, out_ts, ntp,
                         body_len);
    } else {
        PyObject *ok = PyObject_CallMethod(self->output, "send", "y#IKKn", (const char *)plain,
                                           len, out_seq, out_ts, ntp, body_len);
        if (ok == NULL) return NULL;
        rc = PyObject_IsTrue(ok);
        Py_DECREF(ok);
    }
    if (rc < 0) return NULL;
    if (rc) {
        self->packets_out++;
        self->bytes_out += len;
        if (marker || !self->is_video) self->frames_out++;
        Py_RETURN_TRUE;
    }
    self->dropped++;
    Py_RETURN_FALSE;
too_long:
    Py_DECREF(body);
    PyErr_SetString(PyExc_ValueError, "packet is too long");
    return NULL;
}

static PyObject *Slot_tail(SlotObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "_tail takes 8 arguments");
        return NULL;
    }
    unsigned long seq = PyLong_AsUnsignedLong(args[0]);
    unsigned long long ts = PyLong_AsUnsignedLongLong(args[1]);
    int marker = PyObject_IsTrue(args[2]);
    long level = PyLong_AsLong(args[4]);
    double now = PyFloat_AsDouble(args[5]);
    unsigned long long ntp = PyLong_AsUnsignedLongLong(args[6]);
    if (PyErr_Occurred()) return NULL;
    return slot_tail(self, (unsigned int)seq, ts, marker, args[3], (int)level, now, ntp, args[7]);
}

/* OutSlot.write: the steady case here, anything else in the subclass's `_write_slow`. */
PyObject *dp_slot_write(SlotObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 10 || nargs > 11) {
        PyErr_SetString(PyExc_TypeError, "write takes 10 or 11 arguments");
        return NULL;
    }
    /* source, layer, seq, ts, marker, payload, key, level, now, ntp[, pic] */
    PyObject *source = args[0];
    long layer = PyLong_AsLong(args[1]);
    if (layer == -1 && PyErr_Occurred()) return NULL;
    if (self->is_video && self->want < 0) Py_RETURN_NONE; /* paused */
    if (source != self->current || layer != self->layer || !self->synced) {
        PyObject *slow = PyUnicode_InternFromString("_write_slow");
        if (slow == NULL) return NULL;
        PyObject *call_args[12];
        call_args[0] = (PyObject *)self;
        for (Py_ssize_t i = 0; i < nargs; i++) call_args[i + 1] = args[i];
        PyObject *result = PyObject_VectorcallMethod(slow, call_args,
                                                     (size_t)(nargs + 1), NULL);
        Py_DECREF(slow);
        return result;
    }
    unsigned long seq = PyLong_AsUnsignedLong(args[2]);
    unsigned long long ts = PyLong_AsUnsignedLongLong(args[3]);
    int marker = PyObject_IsTrue(args[4]);
    long level = PyLong_AsLong(args[7]);
    double now = PyFloat_AsDouble(args[8]);
    unsigned long long ntp = PyLong_AsUnsignedLongLong(args[9]);
    if (PyErr_Occurred()) return NULL;
    PyObject *pic = nargs > 10 ? args[10] : Py_None;
    PyObject *sent = slot_tail(self, (unsigned int)seq, ts, marker, args[5], (int)level, now,
                               ntp, pic);
    if (sent == NULL) return NULL;
    if (sent == Py_False) {
        /* Not sent: if the link went down, resume at a keyframe once it is back. */
        PyObject *ready = PyObject_GetAttrString(self->output, "ready");
        if (ready == NULL) {
            Py_DECREF(sent);
            return NULL;
        }
        if (!PyObject_IsTrue(ready)) self->synced = 0;
        Py_DECREF(ready);
    }
    Py_DECREF(sent);
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

