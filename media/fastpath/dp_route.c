/* `ReceiverCore`: one peer connection's incoming SRTP, unprotected and parsed in C, and the
 * routes that let a steady stream skip Python on its way to the subscribers.
 *
 * A `Route` (SSRC -> the source and layer it feeds, its statistics, the newest sequence number)
 * is added by the Python receive path (media/fastpath/receive.py) once it has handled a packet
 * of that SSRC the ordinary way. From then on a packet of that SSRC that directly follows the
 * newest one, with the expected payload type and a payload, goes straight to the source; any
 * other packet (a gap, whose NACK aiortc's generator must send; a late or retransmitted one;
 * padding; another payload type) is returned to Python as plaintext, as is every packet of an
 * SSRC without a route. Transport-wide sequence numbers are recorded for every packet.
 */
#include "datapath.h"

#include <string.h>

/* ---- Route ------------------------------------------------------------------------------ */

static int Route_traverse(RouteObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->source);
    Py_VISIT(self->stats);
    return 0;
}

static int Route_clear(RouteObject *self) {
    Py_CLEAR(self->source);
    Py_CLEAR(self->stats);
    return 0;
}

static void Route_dealloc(RouteObject *self) {
    PyObject_GC_UnTrack(self);
    Route_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef Route_members[] = {
    {"index", T_LONG, offsetof(RouteObject, index), READONLY, NULL},
    {"max_seq", T_LONG, offsetof(RouteObject, max_seq), READONLY, NULL},
    {NULL}};

PyTypeObject RouteType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.Route",
    .tp_basicsize = sizeof(RouteObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)Route_dealloc,
    .tp_traverse = (traverseproc)Route_traverse,
    .tp_clear = (inquiry)Route_clear,
    .tp_members = Route_members,
};

/* ---- ReceiverCore ----------------------------------------------------------------------- */

static int Receiver_traverse(ReceiverObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->routes);
    Py_VISIT(self->feedback_link);
    Py_VISIT(self->srtp_owner);
    return 0;
}

static int Receiver_clear(ReceiverObject *self) {
    Py_CLEAR(self->routes);
    Py_CLEAR(self->feedback_link);
    Py_CLEAR(self->srtp_owner);
    return 0;
}

static void Receiver_dealloc(ReceiverObject *self) {
    PyObject_GC_UnTrack(self);
    Receiver_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Receiver_init(ReceiverObject *self, PyObject *args, PyObject *kwds) {
    Py_XSETREF(self->routes, PyDict_New());
    if (self->routes == NULL) return -1;
    self->unprotect = NULL;
    self->ctx = NULL;
    self->level_id = self->tcc_id = 0;
    self->arrival_head = self->arrival_count = 0;
    self->feedback_next = -1;
    self->feedback_count = 0;
    return 0;
}

static PyObject *Receiver_set_srtp(ReceiverObject *self, PyObject *args) {
    unsigned long long fn, ctx, rtcp_fn = 0;
    PyObject *owner;
    if (!PyArg_ParseTuple(args, "KKO|K", &fn, &ctx, &owner, &rtcp_fn)) return NULL;
    Py_INCREF(owner); /* the session: its context must outlive our pointer to it */
    Py_XSETREF(self->srtp_owner, owner);
    self->unprotect_rtcp = (srtp_fn)(uintptr_t)rtcp_fn;
    self->unprotect = (srtp_fn)(uintptr_t)fn;
    self->ctx = (void *)(uintptr_t)ctx;
    Py_RETURN_NONE;
}

static PyObject *Receiver_clear_srtp(ReceiverObject *self, PyObject *unused) {
    self->unprotect = NULL;
    self->unprotect_rtcp = NULL;
    self->ctx = NULL;
    Py_CLEAR(self->srtp_owner);
    Py_RETURN_NONE;
}

static PyObject *Receiver_set_ids(ReceiverObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"audio_level", "transport_cc", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ii", kwlist, &self->level_id, &self->tcc_id))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Receiver_add_route(ReceiverObject *self, PyObject *args) {
    PyObject *ssrc, *source, *stats;
    long index, max_seq;
    int payload_type;
    if (!PyArg_ParseTuple(args, "O!O!lO!il", &PyLong_Type, &ssrc, &SourceType, &source, &index,
                          &StatsType, &stats, &payload_type, &max_seq))
        return NULL;
    RouteObject *route = PyObject_GC_New(RouteObject, &RouteType);
    if (route == NULL) return NULL;
    Py_INCREF(source);
    Py_INCREF(stats);
    route->source = source;
    route->stats = stats;
    route->index = index;
    route->payload_type = payload_type;
    route->max_seq = max_seq & 0xFFFF;
    PyObject_GC_Track(route);
    int rc = PyDict_SetItem(self->routes, ssrc, (PyObject *)route);
    Py_DECREF(route);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Receiver_remove_route(ReceiverObject *self, PyObject *ssrc) {
    if (PyDict_DelItem(self->routes, ssrc) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

static PyObject *Receiver_route(ReceiverObject *self, PyObject *ssrc) {
    PyObject *route = PyDict_GetItemWithError(self->routes, ssrc);
    if (route == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(route);
    return route;
}

static void record_arrival(ReceiverObject *self, unsigned int seq) {
    int at = (self->arrival_head + self->arrival_count) % ARRIVALS;
    if (self->arrival_count == ARRIVALS)
        self->arrival_head = (self->arrival_head + 1) % ARRIVALS; /* oldest dropped */
    else
        self->arrival_count++;
    self->arrival_seq[at] = (unsigned short)seq;
    self->arrival_us[at] = (long long)(dp_monotonic() * 1e6);
}

/* One SRTP datagram: None if it was forwarded here, else the plaintext RTP packet for the
 * Python path. ValueError if it does not unprotect or parse. */
PyObject *dp_receive(PyObject *receiver, const char *data, Py_ssize_t n) {
    ReceiverObject *self = (ReceiverObject *)receiver;
    if (self->unprotect == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "receiver is not keyed");
        return NULL;
    }
    if (n < 12 || n > MAX_PLAIN + 64) {
        PyErr_SetString(PyExc_ValueError, "RTP packet length is invalid");
        return NULL;
    }
    unsigned char *p = self->buffer;
    memcpy(p, data, (size_t)n);
    int len = (int)n;
    int rc = self->unprotect(self->ctx, p, &len);
    if (rc) {
        PyErr_Format(PyExc_ValueError, "srtp_unprotect failed (%d)", rc);
        return NULL;
    }
    if (len < 12 || (p[0] >> 6) != 2) {
        PyErr_SetString(PyExc_ValueError, "RTP packet is malformed");
        return NULL;
    }
    int marker = p[1] >> 7, payload_type = p[1] & 0x7F;
    unsigned int seq = ((unsigned int)p[2] << 8) | p[3];
    unsigned long long ts = ((unsigned long long)p[4] << 24) | ((unsigned long long)p[5] << 16) |
                            ((unsigned long long)p[6] << 8) | p[7];
    unsigned long ssrc = ((unsigned long)p[8] << 24) | ((unsigned long)p[9] << 16) |
                         ((unsigned long)p[10] << 8) | p[11];
    Py_ssize_t pos = 12 + 4 * (p[0] & 0x0F);
    int level = -1;
    long tcc = -1;
    if (p[0] & 0x10) {
        if (len < pos + 4) goto malformed;
        unsigned int profile = ((unsigned int)p[pos] << 8) | p[pos + 1];
        Py_ssize_t end = pos + 4 + 4 * (((Py_ssize_t)p[pos + 2] << 8) | p[pos + 3]);
        if (len < end) goto malformed;
        pos += 4;
        if (profile == 0xBEDE && (self->level_id || self->tcc_id)) {
            while (pos < end) {
                unsigned char head = p[pos];
                if (head == 0) {
                    pos++;
                    continue;
                }
                int id = head >> 4, size = (head & 0x0F) + 1;
                if (id == 15) break;
                pos++;
                if (pos + size > end) break;
                if (id == self->level_id && size >= 1) level = p[pos];
                else if (id == self->tcc_id && size == 2) tcc = ((long)p[pos] << 8) | p[pos + 1];
                pos += size;
            }
        }
        pos = end;
    }
    Py_ssize_t payload_end = len;
    if (p[0] & 0x20) {
        int padding = p[len - 1];
        if (!padding || padding > len - pos) goto malformed;
        payload_end = len - padding;
    }
    if (pos > payload_end) goto malformed;
    if (tcc >= 0) record_arrival(self, (unsigned int)tcc);

    PyObject *key = PyLong_FromUnsignedLong(ssrc);
    if (key == NULL) return NULL;
    PyObject *found = PyDict_GetItemWithError(self->routes, key);
    Py_DECREF(key);
    if (found == NULL) {
        if (PyErr_Occurred()) return NULL;
        goto to_python;
    }
    RouteObject *route = (RouteObject *)found;
    SourceObject *source = (SourceObject *)route->source;
    if (source->closed || payload_type != route->payload_type || pos == payload_end ||
        seq != (unsigned int)((route->max_seq + 1) & 0xFFFF))
        goto to_python;
    route->max_seq = seq;
    dp_stats_add((StatsObject *)route->stats, seq, ts);
    self->forwarded++;
    Py_INCREF(source); /* a slot's slow path may drop the route while we forward */
    rc = dp_source_packet(source, route->index, seq, ts, marker, p + pos, payload_end - pos,
                          level);
    Py_DECREF(source);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;

to_python:
    self->returned++;
    return PyBytes_FromStringAndSize((const char *)p, len);
malformed:
    PyErr_SetString(PyExc_ValueError, "RTP packet is malformed");
    return NULL;
}

static PyObject *Receiver_datagram(ReceiverObject *self, PyObject *arg) {
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &data, &n) < 0) return NULL;
    return dp_receive((PyObject *)self, data, n);
}

int dp_receiver_keyed(PyObject *receiver) {
    return ((ReceiverObject *)receiver)->unprotect != NULL;
}

static PyMethodDef Receiver_methods[] = {
    {"feedback", (PyCFunction)(void (*)(void))dp_receiver_feedback, METH_VARARGS | METH_KEYWORDS,
     "feedback(max_statuses=1000) -> [FCI bytes]: transport-cc feedback for the arrivals since "
     "the last call."},
    {"set_srtp", (PyCFunction)Receiver_set_srtp, METH_VARARGS,
     "set_srtp(fn, ctx, session, rtcp_fn=0): unprotect RTP with fn(ctx, ...) and RTCP with "
     "rtcp_fn; holds the session."},
    {"set_feedback_link", (PyCFunction)dp_receiver_set_feedback_link, METH_O,
     "The LinkCore that the peer's transport-cc feedback (on what we send it) goes to."},
    {"send_feedback", (PyCFunction)dp_receiver_send_feedback, METH_VARARGS,
     "send_feedback(link, sender_ssrc, media_ssrc) -> protected RTCP bytes for Python to send "
     "(no direct socket), or None (sent here, or nothing to say)."},
    {"rtcp", (PyCFunction)dp_receiver_rtcp, METH_O,
     "One SRTCP datagram: transport-cc feedback taken here; None, or the rest as plaintext."},
    {"clear_srtp", (PyCFunction)Receiver_clear_srtp, METH_NOARGS, NULL},
    {"set_ids", (PyCFunction)(void (*)(void))Receiver_set_ids, METH_VARARGS | METH_KEYWORDS,
     "The negotiated audio level and transport-cc extension ids (0: none)."},
    {"add_route", (PyCFunction)Receiver_add_route, METH_VARARGS,
     "add_route(ssrc, source, layer index, stats, payload type, newest seq)"},
    {"remove_route", (PyCFunction)Receiver_remove_route, METH_O, NULL},
    {"route", (PyCFunction)Receiver_route, METH_O, "The Route of an SSRC, or None."},
    {"datagram", (PyCFunction)Receiver_datagram, METH_O,
     "None if forwarded here, else the plaintext packet for Python."},
    {NULL}};

static PyMemberDef Receiver_members[] = {
    {"forwarded", T_LONGLONG, offsetof(ReceiverObject, forwarded), READONLY,
     "Packets forwarded without Python."},
    {"returned", T_LONGLONG, offsetof(ReceiverObject, returned), READONLY,
     "Packets handed to the Python path."},
    {NULL}};

static PyObject *Receiver_get_keyed(ReceiverObject *self, void *c) {
    return PyBool_FromLong(self->unprotect != NULL);
}

static PyGetSetDef Receiver_getset[] = {{"keyed", (getter)Receiver_get_keyed, NULL, NULL, NULL},
                                        {NULL}};

PyTypeObject ReceiverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.ReceiverCore",
    .tp_basicsize = sizeof(ReceiverObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Receiver_init,
    .tp_dealloc = (destructor)Receiver_dealloc,
    .tp_traverse = (traverseproc)Receiver_traverse,
    .tp_clear = (inquiry)Receiver_clear,
    .tp_methods = Receiver_methods,
    .tp_members = Receiver_members,
    .tp_getset = Receiver_getset,
};
