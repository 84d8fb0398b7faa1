/* The send side of the C data path: one subscriber's SRTP session and socket (`LinkCore`),
 * and one outgoing stream's counters and NACK history (`OutputCore`). A receive slot's
 * forwarding (`SlotCore`) is dp_slot.c.
 */
#include "datapath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

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
    unsigned long long fn, ctx, rtcp_fn = 0;
    PyObject *owner;
    if (!PyArg_ParseTuple(args, "KKO|K", &fn, &ctx, &owner, &rtcp_fn)) return NULL;
    Py_INCREF(owner); /* the session: its context must outlive our pointer to it */
    Py_XSETREF(self->srtp_owner, owner);
    self->protect_rtcp = (srtp_fn)(uintptr_t)rtcp_fn;
    self->protect = (srtp_fn)(uintptr_t)fn;
    self->ctx = (void *)(uintptr_t)ctx;
    Py_RETURN_NONE;
}

static PyObject *Link_clear_srtp(LinkObject *self, PyObject *unused) {
    self->protect = NULL;
    self->protect_rtcp = NULL;
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
int link_sendto_raw(LinkObject *self, const void *data, size_t len) {
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
    return PyBool_FromLong(link_sendto_raw(self, buf, (size_t)len));
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
     "Fold one transport-cc feedback FCI in (ValueError if malformed)."},
    {"take_transport_counts", (PyCFunction)dp_link_take_counts, METH_NOARGS,
     "(received, lost, malformed) in transport-cc feedback since the last call."},
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
        self->hist_len = PyMem_Calloc(size, sizeof(int));
        self->hist_buf = PyMem_Malloc((size_t)HIST_SLOT * size);
        self->hist_resent = PyMem_Malloc(sizeof(double) * size);
        if (!self->hist_seq || !self->hist_len || !self->hist_buf || !self->hist_resent) {
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
    return 0;
}

static void Output_dealloc(OutputObject *self) {
    PyObject_GC_UnTrack(self);
    Output_clear(self);
    PyMem_Free(self->hist_seq);
    PyMem_Free(self->hist_len);
    PyMem_Free(self->hist_buf);
    PyMem_Free(self->hist_resent);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

LinkObject *dp_fast_link(OutputObject *self) {
    if (self->link != NULL && PyObject_TypeCheck(self->link, &LinkType)) {
        LinkObject *link = (LinkObject *)self->link;
        if (link->protect != NULL && link->fd >= 0) return link;
    }
    return NULL;
}

static void output_remember(OutputObject *self, unsigned int seq, const unsigned char *data,
                            Py_ssize_t len) {
    if (self->mask < 0 || len > HIST_SLOT) return;
    int i = (int)(seq & (unsigned int)self->mask);
    self->hist_seq[i] = (int)seq;
    self->hist_len[i] = (int)len;
    memcpy(self->hist_buf + (size_t)i * HIST_SLOT, data, (size_t)len);
    self->hist_resent[i] = -1.0;
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
int dp_output_send(OutputObject *self, const unsigned char *plain, Py_ssize_t len,
                       unsigned int seq, unsigned long long ts, unsigned long long ntp,
                       Py_ssize_t payload_size) {
    LinkObject *link = dp_fast_link(self);
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
    output_remember(self, seq, link->buffer, n);
    output_count(self, seq, ts, ntp, payload_size);
    return link_sendto_raw(link, link->buffer, (size_t)n);
}

static PyObject *Output_send(OutputObject *self, PyObject *args) {
    Py_buffer plain;
    unsigned int seq;
    unsigned long long ts, ntp;
    Py_ssize_t payload_size;
    if (!PyArg_ParseTuple(args, "y*IKKn", &plain, &seq, &ts, &ntp, &payload_size)) return NULL;
    int rc = dp_output_send(self, plain.buf, plain.len, seq, ts, ntp, payload_size);
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
    output_remember(self, seq, (const unsigned char *)PyBytes_AS_STRING(data),
                    PyBytes_GET_SIZE(data));
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
    if (self->hist_seq[i] != seq) Py_RETURN_NONE;
    if (now - self->hist_resent[i] < gap) Py_RETURN_NONE;
    self->hist_resent[i] = now;
    return PyBytes_FromStringAndSize((const char *)self->hist_buf + (size_t)i * HIST_SLOT,
                                     self->hist_len[i]);
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
        PyObject *item = Py_None;
        if (self->hist_seq[i] >= 0)
            item = PyBytes_FromStringAndSize(
                (const char *)self->hist_buf + (size_t)i * HIST_SLOT, self->hist_len[i]);
        else
            Py_INCREF(item);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
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

