/* `SocketReader`: the event loop's reader for one ICE socket, draining it in C.
 *
 * asyncio's datagram transport reads one datagram per wake-up and runs a handle, a Python
 * callback and our shortcut for each: at a publisher's packet rate that costs more than the
 * forwarding itself. This reader, installed in the transport's place (media/fastpath/
 * receive.py `_read_in_c`), reads up to `BATCH` datagrams per wake-up: SRTP media goes to
 * the `ReceiverCore` (forwarded there, or its plaintext to `on_rtp`), SRTCP too (transport-cc
 * feedback taken there, the rest as plaintext to `on_rtcp`), anything else (STUN, DTLS, and
 * media before the keys exist) to the protocol's `datagram_received`, as the transport would
 * have delivered it. Errors go to `error_received`, as asyncio does.
 */
#define _GNU_SOURCE /* recvmmsg */
#include "datapath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64         /* datagrams per wake-up at most: the loop's other work waits */
#define VECTOR 32        /* datagrams per recvmmsg call */
#define DATAGRAM_MAX 4096 /* WebRTC keeps to the path MTU; anything longer is dropped */

typedef struct {
    PyObject_HEAD
    int fd;
    PyObject *receiver;       /* ReceiverCore */
    PyObject *on_rtp;         /* callable(plain bytes) */
    PyObject *on_datagram;    /* callable(bytes, addr) */
    PyObject *on_rtcp;        /* callable(plain compound RTCP) */
    PyObject *on_error;       /* callable(OSError) */
    long long datagrams, wakeups;
    unsigned char buffer[VECTOR][DATAGRAM_MAX];
    struct sockaddr_storage from[VECTOR];
    struct iovec iov[VECTOR];
    struct mmsghdr messages[VECTOR];
} ReaderObject;

static int Reader_traverse(ReaderObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->receiver);
    Py_VISIT(self->on_rtp);
    Py_VISIT(self->on_datagram);
    Py_VISIT(self->on_rtcp);
    Py_VISIT(self->on_error);
    return 0;
}

static int Reader_clear(ReaderObject *self) {
    Py_CLEAR(self->receiver);
    Py_CLEAR(self->on_rtp);
    Py_CLEAR(self->on_datagram);
    Py_CLEAR(self->on_rtcp);
    Py_CLEAR(self->on_error);
    return 0;
}

static void Reader_dealloc(ReaderObject *self) {
    PyObject_GC_UnTrack(self);
    Reader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Reader_init(ReaderObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"fd",       "receiver", "on_rtp", "on_datagram",
                             "on_error", "on_rtcp",  NULL};
    PyObject *receiver, *on_rtp, *on_datagram, *on_error, *on_rtcp = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iO!OOO|O", kwlist, &self->fd, &ReceiverType,
                                     &receiver, &on_rtp, &on_datagram, &on_error, &on_rtcp))
        return -1;
    Py_INCREF(on_rtcp);
    Py_XSETREF(self->on_rtcp, on_rtcp);
    Py_INCREF(receiver);
    Py_XSETREF(self->receiver, receiver);
    Py_INCREF(on_rtp);
    Py_XSETREF(self->on_rtp, on_rtp);
    Py_INCREF(on_datagram);
    Py_XSETREF(self->on_datagram, on_datagram);
    Py_INCREF(on_error);
    Py_XSETREF(self->on_error, on_error);
    return 0;
}

static PyObject *address(const struct sockaddr_storage *addr) {
    char host[INET6_ADDRSTRLEN];
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
        return Py_BuildValue("(si)", host, ntohs(v4->sin_port));
    }
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    return Py_BuildValue("(siII)", host, ntohs(v6->sin6_port), ntohl(v6->sin6_flowinfo),
                         v6->sin6_scope_id);
}

/* Call `callback(*args)`; a failure is reported like an asyncio callback's, never raised:
 * one bad datagram must not stop the others in the batch. */
static void call_quietly(PyObject *callback, PyObject *a, PyObject *b) {
    PyObject *r = b ? PyObject_CallFunctionObjArgs(callback, a, b, NULL)
                    : PyObject_CallFunctionObjArgs(callback, a, NULL);
    if (r == NULL) PyErr_WriteUnraisable(callback);
    Py_XDECREF(r);
}

static int is_media(const unsigned char *p, Py_ssize_t n) {
    /* RTP, not RTCP (payload types 192-208 are RTCP's packet types with the marker bit) */
    return n >= 12 && p[0] > 127 && p[0] < 192 && !(p[1] > 191 && p[1] < 209);
}

static int is_rtcp(const unsigned char *p, Py_ssize_t n) {
    return n >= 8 && p[0] > 127 && p[0] < 192 && p[1] > 191 && p[1] < 209;
}

/* One datagram, as the transport would have delivered it (see the top of the file). */
static void deliver(ReaderObject *self, const unsigned char *data, Py_ssize_t n,
                    const struct sockaddr_storage *from) {
    if (is_media(data, n) && dp_receiver_keyed(self->receiver)) {
        PyObject *plain = dp_receive(self->receiver, (const char *)data, n);
        if (plain == NULL) {
            if (PyErr_ExceptionMatches(PyExc_ValueError))
                PyErr_Clear(); /* not SRTP of ours, or malformed: dropped */
            else
                PyErr_WriteUnraisable((PyObject *)self);
        } else if (plain != Py_None) {
            call_quietly(self->on_rtp, plain, NULL);
        }
        Py_XDECREF(plain);
        return;
    }
    if (self->on_rtcp != Py_None && is_rtcp(data, n) && dp_receiver_rtcp_keyed(self->receiver)) {
        PyObject *rest = dp_receive_rtcp(self->receiver, (const char *)data, n);
        if (rest == NULL) {
            if (PyErr_ExceptionMatches(PyExc_ValueError))
                PyErr_Clear(); /* not SRTCP of ours, or malformed: dropped */
            else
                PyErr_WriteUnraisable((PyObject *)self);
        } else if (rest != Py_None) {
            call_quietly(self->on_rtcp, rest, NULL);
        }
        Py_XDECREF(rest);
        return;
    }
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)data, n);
    PyObject *addr = bytes ? address(from) : NULL;
    if (bytes != NULL && addr != NULL)
        call_quietly(self->on_datagram, bytes, addr);
    else
        PyErr_WriteUnraisable((PyObject *)self);
    Py_XDECREF(bytes);
    Py_XDECREF(addr);
}

static PyObject *Reader_readable(ReaderObject *self, PyObject *unused) {
    self->wakeups++;
    for (int round = 0; round < BATCH / VECTOR; round++) {
        for (int i = 0; i < VECTOR; i++) {
            self->iov[i].iov_base = self->buffer[i];
            self->iov[i].iov_len = DATAGRAM_MAX;
            memset(&self->messages[i].msg_hdr, 0, sizeof(struct msghdr));
            self->messages[i].msg_hdr.msg_iov = &self->iov[i];
            self->messages[i].msg_hdr.msg_iovlen = 1;
            self->messages[i].msg_hdr.msg_name = &self->from[i];
            self->messages[i].msg_hdr.msg_namelen = sizeof(self->from[i]);
        }
        int got = recvmmsg(self->fd, self->messages, VECTOR, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
            PyErr_SetFromErrno(PyExc_OSError);
            PyObject *type, *value, *trace;
            PyErr_Fetch(&type, &value, &trace);
            PyErr_NormalizeException(&type, &value, &trace);
            if (value != NULL) call_quietly(self->on_error, value, NULL);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(trace);
            break;
        }
        for (int i = 0; i < got; i++) {
            self->datagrams++;
            if (self->messages[i].msg_hdr.msg_flags & MSG_TRUNC) continue; /* too long */
            deliver(self, self->buffer[i], (Py_ssize_t)self->messages[i].msg_len,
                    &self->from[i]);
        }
        if (got < VECTOR) break; /* drained */
    }
    Py_RETURN_NONE;
}

static PyMethodDef Reader_methods[] = {
    {"readable", (PyCFunction)Reader_readable, METH_NOARGS,
     "The event loop's reader callback: drain up to a batch of datagrams."},
    {NULL}};

static PyMemberDef Reader_members[] = {
    {"datagrams", T_LONGLONG, offsetof(ReaderObject, datagrams), READONLY, NULL},
    {"wakeups", T_LONGLONG, offsetof(ReaderObject, wakeups), READONLY, NULL},
    {"fd", T_INT, offsetof(ReaderObject, fd), READONLY, NULL},
    {NULL}};

PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media.fastpath._datapath.SocketReader",
    .tp_basicsize = sizeof(ReaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_traverse = (traverseproc)Reader_traverse,
    .tp_clear = (inquiry)Reader_clear,
    .tp_methods = Reader_methods,
    .tp_members = Reader_members,
};
